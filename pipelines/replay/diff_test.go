package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

const lane = schemas.LaneCandidate

// ts is the event time of every crafted record.
var ts = time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)

// fixture is a deployed lane whose live topics and replay namespaces a
// test writes crafted outputs to.
type fixture struct {
	t   testing.TB
	env *pipetest.Env
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return &fixture{t: t, env: pipetest.Start(t, lane)}
}

// namespace creates replay name's topics, with the lane's partitions.
func (f *fixture) namespace(name string) {
	f.t.Helper()
	admin, err := topics.NewAdmin(f.env.Brokers)
	if err != nil {
		f.t.Fatal(err)
	}
	var specs []topics.Spec
	for _, k := range topics.ReplayKinds() {
		specs = append(specs, topics.Spec{Name: topics.ReplayName(string(lane), name, k), Partitions: 6,
			ReplicationFactor: topics.ReplicationByCluster, Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete}})
	}
	if _, err := admin.Ensure(context.Background(), specs, false); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) topic(side string, k topics.Kind) string {
	if side == "" {
		return topics.Name(string(lane), k)
	}
	return topics.ReplayName(string(lane), side, k)
}

// write writes records of kind k (values encoded with the lane's live
// schema id for k, as the runtime does for replays too) to side.
func (f *fixture) write(side string, k topics.Kind, recs []topics.Message) {
	f.t.Helper()
	f.env.Write(f.t, f.topic(side, k), recs)
}

func (f *fixture) id(k topics.Kind) uint32 {
	f.t.Helper()
	id, err := f.env.Serde.ID(serde.ValueSubject(topics.Name(string(lane), k)))
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) results(rs ...schemas.MatrizResult) []topics.Message {
	f.t.Helper()
	out := make([]topics.Message, len(rs))
	for i := range rs {
		v, err := schemas.AppendWire(nil, f.id(topics.KindResults), &rs[i])
		if err != nil {
			f.t.Fatal(err)
		}
		out[i] = record(rs[i].ID, "g-"+rs[i].MsgID, v)
	}
	return out
}

func (f *fixture) events(k topics.Kind, evs ...schemas.Event) []topics.Message {
	f.t.Helper()
	out := make([]topics.Message, len(evs))
	for i := range evs {
		v, err := schemas.AppendWire(nil, f.id(k), &evs[i])
		if err != nil {
			f.t.Fatal(err)
		}
		out[i] = record(evs[i].ID, evs[i].GlyphID, v)
	}
	return out
}

func (f *fixture) traces(trs ...schemas.Trace) []topics.Message {
	f.t.Helper()
	out := make([]topics.Message, len(trs))
	for i := range trs {
		v, err := schemas.AppendWire(nil, f.id(topics.KindTraces), &trs[i])
		if err != nil {
			f.t.Fatal(err)
		}
		out[i] = record(trs[i].ID, "g-"+trs[i].MsgID, v)
	}
	return out
}

func record(outputID, key string, value []byte) topics.Message {
	return topics.Message{Key: []byte(key), Value: value, Headers: []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(outputID)}}}
}

func (f *fixture) diff(left, right string, kinds ...topics.Kind) *replay.DiffReport {
	f.t.Helper()
	rep, err := replay.Diff(context.Background(), replay.DiffConfig{
		Brokers: f.env.Brokers, RegistryURL: f.env.RegistryURL, Lane: lane, Left: left, Right: right, Kinds: kinds, Limit: -1,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// result is a node's result whose guardian crumb has outcome.
func result(n int, node, outcome string) schemas.MatrizResult {
	id := "r-" + strconv.Itoa(n)
	return schemas.MatrizResult{
		ID: id, MsgID: "m-" + strconv.Itoa(n), TS: ts, Lane: lane, Node: node, NodeVersion: "1.0.0", OK: true,
		Reasons: []string{"fine"},
		// Several keys, so the two encodings of one value rarely share
		// their map order.
		Payload: schemas.Payload{"drift_ema": 0.125, "novelty": 0.5, "value": int64(n), "why": "because", "v": []float64{1, 2}, "tags": []string{"a", "b"}},
		Trace: []schemas.Crumb{
			{Stage: "drift", T: ts, Data: schemas.Payload{"ema": 0.125, "alert": false}},
			{Stage: "guardian", T: ts, Data: schemas.Payload{"outcome": outcome, "risk_class": "limited", "x": int64(1)}},
		},
	}
}

func event(n int, stage string, kind schemas.EventKind, payload schemas.Payload) schemas.Event {
	return schemas.Event{ID: "e-" + stage + "-" + strconv.Itoa(n), TS: ts, Kind: kind, Lane: lane, GlyphID: "g-m-" + strconv.Itoa(n),
		MsgID: "m-" + strconv.Itoa(n), Stage: stage, Payload: payload}
}

func trace(n int, decision string) schemas.Trace {
	return schemas.Trace{ID: "t-" + strconv.Itoa(n), TS: ts, MsgID: "m-" + strconv.Itoa(n), Lane: lane, Stage: "guardian", Decision: decision,
		Crumbs: []schemas.Crumb{{Stage: "guardian", T: ts, Data: schemas.Payload{"outcome": decision}}},
		Inputs: schemas.Payload{"risk": 0.25, "a": "b", "c": int64(2)}, Outputs: schemas.Payload{"outcome": decision},
		Constraints: []string{"max_risk=0.5"}, RiskClass: schemas.RiskLimited, DataOrigin: "test", ExplanationLink: "https://x/t-" + strconv.Itoa(n)}
}

// sameOnBoth writes the same n results, events, traces and actions to
// both sides.
func (f *fixture) sameOnBoth(left, right string, n int) {
	f.t.Helper()
	var rs []schemas.MatrizResult
	var evs, acts []schemas.Event
	var trs []schemas.Trace
	for i := range n {
		rs = append(rs, result(i, []string{"drift", "memory"}[i%2], "allow"))
		evs = append(evs, event(i, "guardian", schemas.EventGuardianDecision, schemas.Payload{"outcome": "allow", "risk_class": "limited"}))
		trs = append(trs, trace(i, "allow"))
		acts = append(acts, event(i, "guardian", schemas.EventAction, schemas.Payload{"status": "preview", "action_id": "a-" + strconv.Itoa(i)}))
	}
	for _, side := range []string{left, right} {
		f.write(side, topics.KindResults, f.results(rs...))
		f.write(side, topics.KindEvents, f.events(topics.KindEvents, evs...))
		f.write(side, topics.KindTraces, f.traces(trs...))
		f.write(side, topics.KindActions, f.events(topics.KindActions, acts...))
	}
}

func kindOf(t *testing.T, rep *replay.DiffReport, k topics.Kind) replay.KindDiff {
	t.Helper()
	for _, kd := range rep.Kinds {
		if kd.Kind == k {
			return kd
		}
	}
	t.Fatalf("report has no kind %s: %+v", k, rep.Kinds)
	return replay.KindDiff{}
}

func text(t *testing.T, rep *replay.DiffReport) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDiff runs every case against one embedded stack: the live topics are
// used by the first case only, the others compare two replays each.
func TestDiff(t *testing.T) {
	f := newFixture(t)

	t.Run("identical sets of every kind against live", func(t *testing.T) {
		f.namespace("same")
		f.sameOnBoth("", "same", 40)
		rep := f.diff("", "same")
		if !rep.Identical() {
			t.Fatalf("not identical:\n%s", text(t, rep))
		}
		for _, k := range []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions} {
			if kd := kindOf(t, rep, k); kd.Identical != 40 || kd.Differ() != 0 || kd.Left.Records != 40 || kd.Right.Records != 40 {
				t.Errorf("%s: %+v, want 40 identical of 40 records a side", k, kd)
			}
		}
		if kd := kindOf(t, rep, topics.KindDLQ); kd.Identical != 0 || kd.Differ() != 0 {
			t.Errorf("dlq: %+v, want empty", kd)
		}
		stages := map[string]int{}
		for _, s := range rep.Stages {
			stages[string(s.Kind)+"/"+s.Stage] = s.Identical
		}
		if stages["results/drift"] != 20 || stages["results/memory"] != 20 || stages["events/guardian"] != 40 {
			t.Errorf("stage counts %v, want results by node (20 drift, 20 memory) and 40 guardian events", stages)
		}
		if out := text(t, rep); rep.Left != "live" || rep.Right != "same" || !strings.Contains(out, "identical: 160 outputs") {
			t.Errorf("text:\n%s", out)
		}
	})

	t.Run("one changed guardian outcome is exactly that id", func(t *testing.T) {
		f.namespace("base")
		f.namespace("strict")
		var left, right []schemas.MatrizResult
		for i := range 30 {
			left = append(left, result(i, "drift", "allow"))
			r := result(i, "drift", "allow")
			if i == 17 {
				r.Trace[1].Data["outcome"] = "deny"
			}
			right = append(right, r)
		}
		f.write("base", topics.KindResults, f.results(left...))
		f.write("strict", topics.KindResults, f.results(right...))
		rep := f.diff("base", "strict", topics.KindResults)
		if rep.Identical() {
			t.Fatal("identical, want one changed result")
		}
		kd := kindOf(t, rep, topics.KindResults)
		if kd.Changed != 1 || kd.Identical != 29 || kd.OnlyLeft != 0 || kd.OnlyRight != 0 {
			t.Fatalf("counts %+v, want 1 changed and 29 identical", kd.DiffCounts)
		}
		if len(rep.Records) != 1 {
			t.Fatalf("records %+v, want 1", rep.Records)
		}
		d := rep.Records[0]
		if d.ID != "r-17" || d.Status != replay.StatusChanged || d.Field != "trace[1].data.outcome" || d.Left != "allow" || d.Right != "deny" || d.Stage != "drift" {
			t.Fatalf("record %+v, want r-17 trace[1].data.outcome allow → deny at node drift", d)
		}
		if len(rep.Outcomes) != 1 || rep.Outcomes[0] != (replay.OutcomeChange{Left: "allow", Right: "deny", Count: 1}) {
			t.Fatalf("outcomes %+v, want allow → deny: 1", rep.Outcomes)
		}
		if len(rep.Stages) != 1 || rep.Stages[0].Changed != 1 || rep.Stages[0].Identical != 29 {
			t.Fatalf("stages %+v, want drift: 1 changed, 29 identical", rep.Stages)
		}
		out := text(t, rep)
		for _, want := range []string{`results r-17 [drift] trace[1].data.outcome: "allow" → "deny"`, "allow → deny: 1", "not identical: 1 changed, 0 only in base, 0 only in strict"} {
			if !strings.Contains(out, want) {
				t.Errorf("text lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("many ids are judged in parallel and reported in log order", func(t *testing.T) {
		f.namespace("manyl")
		f.namespace("manyr")
		var left, right []schemas.MatrizResult
		for i := range 2000 {
			left = append(left, result(i, "drift", "allow"))
			r := result(i, "drift", "allow")
			if i%100 == 7 {
				r.Payload["drift_ema"] = 0.5
			}
			right = append(right, r)
		}
		f.write("manyl", topics.KindResults, f.results(left...))
		f.write("manyr", topics.KindResults, f.results(right...))
		rep := f.diff("manyl", "manyr", topics.KindResults)
		if kd := kindOf(t, rep, topics.KindResults); kd.Changed != 20 || kd.Identical != 1980 || len(rep.Records) != 20 {
			t.Fatalf("%+v with %d records, want 20 changed", kd.DiffCounts, len(rep.Records))
		}
		for i, d := range rep.Records {
			if d.Field != "payload.drift_ema" || d.Left != 0.125 || d.Right != 0.5 {
				t.Fatalf("record %+v, want payload.drift_ema 0.125 → 0.5", d)
			}
			if i > 0 {
				p := rep.Records[i-1]
				if p.Partition > d.Partition || p.Partition == d.Partition && p.LeftOffset >= d.LeftOffset {
					t.Fatalf("records out of log order: %+v before %+v", p, d)
				}
			}
		}
		if len(rep.Outcomes) != 1 || rep.Outcomes[0] != (replay.OutcomeChange{Left: "allow", Right: "allow", Count: 20}) {
			t.Fatalf("outcomes %+v, want allow → allow: 20", rep.Outcomes)
		}
		// A limit keeps the first records; the counts stay complete.
		limited, err := replay.Diff(context.Background(), replay.DiffConfig{Brokers: f.env.Brokers, RegistryURL: f.env.RegistryURL, Lane: lane,
			Left: "manyl", Right: "manyr", Kinds: []topics.Kind{topics.KindResults}, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if kd := kindOf(t, limited, topics.KindResults); kd.Changed != 20 || len(limited.Records) != 5 || limited.Records[4].ID != rep.Records[4].ID {
			t.Fatalf("limit 5: %+v with %d records, want 20 changed and the first 5 records", kd.DiffCounts, len(limited.Records))
		}
		if out := text(t, limited); !strings.Contains(out, "differing records (5 of 20, log order)") {
			t.Errorf("text does not say how many records it lists:\n%s", out)
		}
	})

	t.Run("only-left and only-right", func(t *testing.T) {
		f.namespace("l1")
		f.namespace("r1")
		f.write("l1", topics.KindResults, f.results(result(1, "drift", "allow"), result(2, "drift", "allow")))
		f.write("r1", topics.KindResults, f.results(result(2, "drift", "allow"), result(3, "memory", "deny")))
		rep := f.diff("l1", "r1", topics.KindResults)
		kd := kindOf(t, rep, topics.KindResults)
		if kd.Identical != 1 || kd.OnlyLeft != 1 || kd.OnlyRight != 1 || kd.Changed != 0 {
			t.Fatalf("counts %+v, want 1 identical, 1 only-left, 1 only-right", kd.DiffCounts)
		}
		got := map[replay.DiffStatus]string{}
		for _, d := range rep.Records {
			got[d.Status] = d.ID + "/" + d.Stage
			whole, absent := d.Left, d.Right
			if d.Status == replay.StatusOnlyRight {
				whole, absent = d.Right, d.Left
			}
			if r, ok := whole.(*schemas.MatrizResult); !ok || r.ID != d.ID || absent != (replay.Absent{}) {
				t.Errorf("%s %s: values %v / %v, want the whole result on its side and Absent on the other", d.Status, d.ID, d.Left, d.Right)
			}
		}
		if got[replay.StatusOnlyLeft] != "r-1/drift" || got[replay.StatusOnlyRight] != "r-3/memory" {
			t.Fatalf("records %v, want r-1 only left, r-3 only right", got)
		}
		if len(rep.Outcomes) != 0 {
			t.Errorf("outcomes %+v: only changed results count", rep.Outcomes)
		}
	})

	t.Run("duplicates: the last copy by offset wins", func(t *testing.T) {
		f.namespace("dupl")
		f.namespace("dupr")
		stale := result(5, "drift", "deny")
		fresh := result(5, "drift", "allow")
		// A crash rewrote r-5: its first copy is stale, the last is fresh.
		f.write("dupl", topics.KindResults, f.results(stale, result(6, "drift", "allow")))
		f.write("dupl", topics.KindResults, f.results(fresh))
		f.write("dupr", topics.KindResults, f.results(fresh, result(6, "drift", "allow")))
		rep := f.diff("dupl", "dupr", topics.KindResults)
		kd := kindOf(t, rep, topics.KindResults)
		if !rep.Identical() || kd.Identical != 2 || kd.Left.Superseded != 1 || kd.Left.Records != 3 {
			t.Fatalf("%+v, want identical with 1 superseded copy on the left:\n%s", kd, text(t, rep))
		}
		// And the other way round: the last copy differs.
		f.write("dupr", topics.KindResults, f.results(stale))
		rep = f.diff("dupl", "dupr", topics.KindResults)
		if kd := kindOf(t, rep, topics.KindResults); kd.Changed != 1 || len(rep.Records) != 1 || rep.Records[0].ID != "r-5" || rep.Records[0].Right != "deny" {
			t.Fatalf("%+v %+v, want r-5 changed to its last copy", kd, rep.Records)
		}
	})

	t.Run("would_execute equals executed; executing and uncertain are ignored", func(t *testing.T) {
		f.namespace("actl")
		f.namespace("actr")
		act := func(n int, status string) schemas.Event {
			return event(n, "guardian", schemas.EventAction, schemas.Payload{"status": status, "action_id": "a-" + strconv.Itoa(n), "priority": "P1"})
		}
		// Live-like side: executing before the call, executed after, and
		// one action whose call is uncertain.
		f.write("actl", topics.KindActions, f.events(topics.KindActions, act(1, "preview"), act(2, "executing"), act(2, "executed"), act(3, "uncertain")))
		f.write("actr", topics.KindActions, f.events(topics.KindActions, act(1, "preview"), act(2, "would_execute")))
		rep := f.diff("actl", "actr", topics.KindActions)
		kd := kindOf(t, rep, topics.KindActions)
		if !rep.Identical() || kd.Identical != 2 || kd.Left.Ignored != 2 || kd.Right.Ignored != 0 {
			t.Fatalf("%+v, want 2 identical and 2 ignored on the left:\n%s", kd, text(t, rep))
		}
		// A replay that would not execute is a change.
		f.write("actr", topics.KindActions, f.events(topics.KindActions, act(2, "preview")))
		rep = f.diff("actl", "actr", topics.KindActions)
		if len(rep.Records) != 1 || rep.Records[0].Field != "payload.status" || rep.Records[0].Left != "executed" || rep.Records[0].Right != "preview" {
			t.Fatalf("records %+v, want a-2 payload.status executed → preview", rep.Records)
		}
	})

	t.Run("a record without an output id is an error, not dropped", func(t *testing.T) {
		f.namespace("noidl")
		f.namespace("noidr")
		recs := f.results(result(1, "drift", "allow"))
		f.write("noidl", topics.KindResults, recs)
		f.write("noidr", topics.KindResults, recs)
		bare := f.results(result(2, "drift", "allow"))
		bare[0].Headers = nil
		f.write("noidr", topics.KindResults, bare)
		rep := f.diff("noidl", "noidr", topics.KindResults)
		kd := kindOf(t, rep, topics.KindResults)
		if rep.Identical() || kd.Right.MissingID != 1 || kd.Identical != 1 || !strings.Contains(kd.Right.FirstError, "has no matriz-output-id header") {
			t.Fatalf("%+v, want 1 identical and 1 record without id on the right", kd)
		}
		if out := text(t, rep); !strings.Contains(out, "noidr results: 1 records without an output id") {
			t.Errorf("text does not name the error:\n%s", out)
		}
	})

	t.Run("DLQ records match by source partition and offset", func(t *testing.T) {
		f.namespace("dlql")
		f.namespace("dlqr")
		dlq := func(off int, reason string) topics.Message {
			return topics.Message{Key: []byte("g"), Value: []byte("not avro " + strconv.Itoa(off)), Headers: []topics.Header{
				{Key: runtime.HeaderSrcPartition, Value: []byte("2")}, {Key: runtime.HeaderSrcOffset, Value: []byte(strconv.Itoa(off))},
				{Key: runtime.HeaderDLQReason, Value: []byte(reason)}, {Key: runtime.HeaderDLQStage, Value: []byte("decode")},
			}}
		}
		f.write("dlql", topics.KindDLQ, []topics.Message{dlq(10, "undecodable"), dlq(11, "undecodable")})
		f.write("dlqr", topics.KindDLQ, []topics.Message{dlq(10, "undecodable"), dlq(11, "contract_violation")})
		rep := f.diff("dlql", "dlqr", topics.KindDLQ)
		kd := kindOf(t, rep, topics.KindDLQ)
		if kd.Identical != 1 || kd.Changed != 1 || len(rep.Records) != 1 {
			t.Fatalf("%+v %+v, want 1 identical, 1 changed", kd, rep.Records)
		}
		if d := rep.Records[0]; d.ID != "src 2@11" || d.Field != "reason" || d.Left != "undecodable" || d.Right != "contract_violation" || d.Stage != "decode" {
			t.Fatalf("record %+v, want src 2@11 reason undecodable → contract_violation", d)
		}
	})

	t.Run("a replay that does not exist is a typed error", func(t *testing.T) {
		_, err := replay.Diff(context.Background(), replay.DiffConfig{Brokers: f.env.Brokers, RegistryURL: f.env.RegistryURL, Lane: lane, Right: "nope"})
		var nf *replay.DiffNotFoundError
		if !errors.As(err, &nf) || nf.Name != "nope" || len(nf.Missing) != 5 {
			t.Fatalf("err %v, want a DiffNotFoundError for nope with its 5 topics", err)
		}
		if want := "replay nope not found on lane candidate: run `matriz replay --into nope` first"; err.Error() != want {
			t.Fatalf("message %q, want %q", err, want)
		}
	})

	t.Run("a registry that does not answer stops the diff", func(t *testing.T) {
		_, err := replay.Diff(context.Background(), replay.DiffConfig{Brokers: f.env.Brokers, RegistryURL: "http://127.0.0.1:1", Lane: lane,
			Left: "base", Right: "strict", Kinds: []topics.Kind{topics.KindResults}})
		var ru *serde.RegistryUnreachableError
		if !errors.As(err, &ru) || !strings.Contains(err.Error(), "cannot reach the schema registry at http://127.0.0.1:1") {
			t.Fatalf("err %v, want a RegistryUnreachableError", err)
		}
	})

	t.Run("JSON output carries the records", func(t *testing.T) {
		rep := f.diff("base", "strict", topics.KindResults)
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			Kinds []struct {
				Kind    string `json:"kind"`
				Changed int    `json:"changed"`
			} `json:"kinds"`
			Records []struct {
				ID, Field   string
				Left, Right any
			} `json:"records"`
		}
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if len(back.Kinds) != 1 || back.Kinds[0].Changed != 1 || len(back.Records) != 1 || back.Records[0].Field != "trace[1].data.outcome" || back.Records[0].Right != "deny" {
			t.Fatalf("json %s", b)
		}
	})
}

func TestDiffConfigErrors(t *testing.T) {
	ok := replay.DiffConfig{Brokers: []string{"127.0.0.1:1"}, RegistryURL: "http://127.0.0.1:1", Lane: lane, Right: "x"}
	cases := map[string]func(c *replay.DiffConfig){
		"lane":  func(c *replay.DiffConfig) { c.Lane = "staging" },
		"right": func(c *replay.DiffConfig) { c.Right = "" },
		"left":  func(c *replay.DiffConfig) { c.Left = "a.b" },
		"kinds": func(c *replay.DiffConfig) { c.Kinds = []topics.Kind{topics.KindMessages} },
	}
	for field, mutate := range cases {
		c := ok
		mutate(&c)
		_, err := replay.Diff(context.Background(), c)
		var ce *replay.DiffConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: err %v, want a DiffConfigError on %s", field, err, field)
		}
	}
	if _, err := replay.ParseDiffKinds("results, traces"); err != nil {
		t.Error(err)
	}
	if _, err := replay.ParseDiffKinds("results,state"); err == nil || !strings.Contains(err.Error(), `"state"`) {
		t.Errorf("ParseDiffKinds(state): %v, want an error naming it", err)
	}
}

func TestFirstDifference(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	base := func() schemas.MatrizResult {
		return schemas.MatrizResult{ID: "r", TS: t1, Payload: schemas.Payload{"a": 1.5, "b": []float64{1, 2}}, Trace: []schemas.Crumb{{Stage: "x", T: t1}}}
	}
	cases := []struct {
		name        string
		change      func(r *schemas.MatrizResult)
		path        string
		left, right any
	}{
		{"equal", func(r *schemas.MatrizResult) {}, "", nil, nil},
		{"same instant in another zone", func(r *schemas.MatrizResult) { r.TS = t1.In(time.FixedZone("X", 3600)) }, "", nil, nil},
		{"NaN equals NaN", nil, "", nil, nil},
		{"float", func(r *schemas.MatrizResult) { r.Payload["a"] = 1.25 }, "payload.a", 1.5, 1.25},
		{"type in a union", func(r *schemas.MatrizResult) { r.Payload["a"] = int64(1) }, "payload.a", 1.5, int64(1)},
		{"key only left", func(r *schemas.MatrizResult) { delete(r.Payload, "b") }, "payload.b", []float64{1, 2}, replay.Absent{}},
		{"key only right, quoted", func(r *schemas.MatrizResult) { r.Payload["a b"] = "x" }, `payload["a b"]`, replay.Absent{}, "x"},
		{"vector element", func(r *schemas.MatrizResult) { r.Payload["b"] = []float64{1, 3} }, "payload.b[1]", 2.0, 3.0},
		{"one more crumb", func(r *schemas.MatrizResult) { r.Trace = append(r.Trace, schemas.Crumb{Stage: "y", T: t1}) }, "trace[1]", replay.Absent{}, schemas.Crumb{Stage: "y", T: t1}},
		{"time", func(r *schemas.MatrizResult) { r.Trace[0].T = t1.Add(time.Millisecond) }, "trace[0].t", t1, t1.Add(time.Millisecond)},
		{"nil and empty reasons are equal", func(r *schemas.MatrizResult) { r.Reasons = []string{} }, "", nil, nil},
	}
	for _, c := range cases {
		a, b := base(), base()
		if c.change == nil { // NaN on both sides
			a.Payload["a"], b.Payload["a"] = math.NaN(), math.NaN()
		} else {
			c.change(&b)
		}
		path, l, r, ok := replay.FirstDifference(&a, &b)
		if ok != (c.path != "") || path != c.path || fmt.Sprint(l) != fmt.Sprint(c.left) || fmt.Sprint(r) != fmt.Sprint(c.right) {
			t.Errorf("%s: got (%q, %v, %v, %v), want (%q, %v, %v)", c.name, path, l, r, ok, c.path, c.left, c.right)
		}
	}
}

// BenchmarkDiff100kResults compares 100k results a side (a crumb per stage
// each, so most pairs differ in bytes by map order and are decoded on both
// sides), from reading the topics to the report.
func BenchmarkDiff100kResults(b *testing.B) {
	const n = 100_000
	f := newFixture(b)
	f.namespace("bench")
	rs := make([]schemas.MatrizResult, n)
	for i := range rs {
		r := result(i, []string{"drift", "memory", "emotion"}[i%3], "allow")
		for _, s := range []string{"route", "adapter", "fold-guard", "breakthrough", "decimate"} {
			r.Trace = append(r.Trace, schemas.Crumb{Stage: s, T: ts, Data: schemas.Payload{"score": float64(i) / n, "n": int64(i), "why": s}})
		}
		rs[i] = r
	}
	recs := f.results(rs...)
	f.write("", topics.KindResults, recs)
	f.write("bench", topics.KindResults, f.results(rs...))
	b.ResetTimer()
	for b.Loop() {
		rep := f.diff("", "bench", topics.KindResults)
		if kd := rep.Kinds[0]; kd.Identical != n {
			b.Fatalf("%+v, want %d identical", kd, n)
		}
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "records/s")
}
