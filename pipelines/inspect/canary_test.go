package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestCompareCanaryJoinsByMsgID: agreement over the inputs both sides
// answered, the outcome mixes and their distance, the latencies.
func TestCompareCanaryJoinsByMsgID(t *testing.T) {
	at := time.Unix(1e9, 0)
	ans := func(ok bool, o stages.Outcome, written, lat time.Duration) answer {
		return answer{d: stages.Decision{OK: ok, Outcome: o, Status: "result"}, written: at.Add(written), latency: lat}
	}
	base := map[string]answer{
		"a": ans(true, stages.OutcomeAllow, 0, 10*time.Millisecond),
		"b": ans(true, stages.OutcomeAllow, 0, 20*time.Millisecond),
		"c": ans(true, stages.OutcomeAllow, 0, 30*time.Millisecond),
		"d": ans(false, stages.OutcomeDeny, 0, 40*time.Millisecond),
		"x": ans(true, stages.OutcomeAllow, 0, time.Millisecond), // no canary answer: not a sample
	}
	canary := map[string]answer{
		"a": ans(true, stages.OutcomeAllow, time.Millisecond, 11*time.Millisecond),
		"b": ans(false, stages.OutcomeDeny, 2*time.Millisecond, 22*time.Millisecond),
		"c": ans(true, stages.OutcomeAllow, 3*time.Millisecond, 33*time.Millisecond),
		"d": ans(false, stages.OutcomeDeny, 4*time.Millisecond, 44*time.Millisecond),
		"e": ans(true, "", 0, 0), // the lane dead-lettered it
	}
	r := compareCanary(schemas.LaneProd, base, canary)
	if r.Samples != 4 || r.Agreed != 3 || r.Agreement != 0.75 || r.OnlyCanary != 1 {
		t.Fatalf("samples %d agreed %d agreement %v only canary %d; want 4, 3, 0.75, 1", r.Samples, r.Agreed, r.Agreement, r.OnlyCanary)
	}
	if r.Baseline.Outcomes["allow"] != 3 || r.Canary.Outcomes["deny"] != 2 || r.Baseline.OK != 3 || r.Canary.OK != 2 {
		t.Errorf("mixes %+v / %+v", r.Baseline, r.Canary)
	}
	if math.Abs(r.OutcomeTVD-0.25) > 1e-9 {
		t.Errorf("outcome distance %v, want 0.25 (one of four moved from allow to deny)", r.OutcomeTVD)
	}
	if r.Baseline.LatencyP50 != 20*time.Millisecond || r.Canary.LatencyP95 != 44*time.Millisecond || r.ExtraP50 != 2*time.Millisecond || r.ExtraP95 != 4*time.Millisecond {
		t.Errorf("latencies %+v %+v extra %v %v", r.Baseline, r.Canary, r.ExtraP50, r.ExtraP95)
	}
	if len(r.Disagreements) != 1 || r.Disagreements[0].MsgID != "b" {
		t.Errorf("disagreements %+v, want b", r.Disagreements)
	}
	none := compareCanary(schemas.LaneProd, nil, nil)
	if none.Agreement != 1 || none.OutcomeTVD != 0 || none.ExtraP95 != 0 {
		t.Errorf("an empty report %+v", none)
	}
}

// TestReportCanaryReadsTheLog: results of both sides and an abort event
// written to the embedded broker are read back, joined and printed.
func TestReportCanaryReadsTheLog(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	ctx := context.Background()
	cfg := CanaryConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane}
	if _, err := ReportCanary(ctx, cfg); !errors.Is(err, ErrNoCanary) || !strings.Contains(err.Error(), "matriz deploy --lanes prod --pipeline FILE") {
		t.Fatalf("a lane without canary topics: %v, want ErrNoCanary naming the deploy", err)
	}
	if _, err := ops.Deploy(ctx, ops.DeployConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lanes: []schemas.Lane{lane},
		Namespaces: map[schemas.Lane][]string{lane: {topics.CanaryNamespace}}}); err != nil {
		t.Fatal(err)
	}
	id := func(k topics.Kind) uint32 {
		n, err := env.Serde.ID(serde.ValueSubject(topics.Name(string(lane), k)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ts := time.Unix(1e9, 0).UTC()
	result := func(msg string, ok bool, o stages.Outcome) topics.Message {
		res := schemas.MatrizResult{ID: msg + "-r", MsgID: msg, Lane: lane, OK: ok, Node: "router", NodeVersion: "1", Payload: schemas.Payload{}, Trace: []schemas.Crumb{
			{Stage: runtime.StageDecode, T: ts, Data: schemas.Payload{}},
			{Stage: stages.StageGuardian, T: ts, Data: schemas.Payload{"outcome": string(o)}}}}
		v, err := schemas.AppendWire(nil, id(topics.KindResults), &res)
		if err != nil {
			t.Fatal(err)
		}
		return topics.Message{Key: []byte("g-" + msg), Value: v, Headers: []topics.Header{{Key: runtime.HeaderMsgID, Value: []byte(msg)}}}
	}
	env.Write(t, topics.Name(string(lane), topics.KindResults), []topics.Message{
		result("m1", true, stages.OutcomeAllow), result("m2", true, stages.OutcomeAllow), result("m3", true, stages.OutcomeAllow)})
	env.Write(t, topics.CanaryName(string(lane), topics.KindResults), []topics.Message{
		result("m1", true, stages.OutcomeAllow), result("m2", false, stages.OutcomeDeny)})
	abort := schemas.Event{ID: "abort-1", TS: ts, Kind: schemas.EventCanaryAbort, Lane: lane, Stage: runtime.StageCanary,
		Payload: schemas.Payload{"agreement": 0.5, "samples": int64(2), "min_agreement": 0.9, "min_samples": int64(2), "partition": int64(3)}}
	v, err := schemas.AppendWire(nil, id(topics.KindEvents), &abort)
	if err != nil {
		t.Fatal(err)
	}
	env.Write(t, topics.Name(string(lane), topics.KindEvents), []topics.Message{{Key: []byte("partition:3"), Value: v}})

	r, err := ReportCanary(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != 2 || r.Agreed != 1 || len(r.Aborts) != 1 || r.Aborts[0].Agreement != 0.5 || r.Aborts[0].Partition != 3 {
		t.Fatalf("report %+v", r)
	}
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agreement      0.5000 (1 of 2", "outcome drift  0.5000", "aborted        at 2001-09-09T01:46:40Z by partition 3: agreement 0.5000 over 2 inputs, below 0.9", "differs        m2: lane ok=true allow, canary ok=false deny"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back CanaryReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Samples != 2 || back.Disagreements[0].Canary.Outcome != stages.OutcomeDeny {
		t.Errorf("JSON %s: %v", js.String(), err)
	}
}
