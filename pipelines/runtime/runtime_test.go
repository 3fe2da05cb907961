package runtime

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// laneMessages makes n valid messages for lane with event times spread
// over span before now, so every frame closes by the idle watermark.
func laneMessages(lane schemas.Lane, n int, seed uint64, span time.Duration) []schemas.MatrizMessage {
	gen := devstack.NewSynthetic(lane, seed, 256)
	base := time.Now().Add(-time.Minute - span)
	step := span / time.Duration(max(n, 1))
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		out[i] = gen.Next(base.Add(time.Duration(i) * step))
	}
	return out
}

// corruptValues makes n bad records of the four kinds the DLQ must take:
// wrong magic byte, truncated body, unknown schema id, contract violation.
func corruptValues(t *testing.T, e *pipetest.Env, lane schemas.Lane, n int) []topics.Message {
	t.Helper()
	id, err := e.Serde.ID(serde.ValueSubject(topics.Name(string(lane), topics.KindMessages)))
	if err != nil {
		t.Fatal(err)
	}
	good := laneMessages(lane, 1, 99, time.Second)[0]
	body, err := schemas.AppendWire(nil, id, &good)
	if err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.MsgID = "NOT-A-UUID"
	badBody, err := schemas.AppendWire(nil, id, &bad)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]topics.Message, n)
	for i := range out {
		var v []byte
		switch i % 4 {
		case 0:
			v = append([]byte{'{'}, body[1:]...) // JSON where Avro was expected
		case 1:
			v = body[:len(body)/2]
		case 2:
			v = binary.BigEndian.AppendUint32([]byte{0}, 999999)
			v = append(v, body[5:]...)
		case 3:
			v = badBody
		}
		out[i] = topics.Message{Key: fmt.Appendf(nil, "corrupt-%d", i), Value: v}
	}
	return out
}

// waitCounted waits until the lane answered want records (results + DLQ).
func waitCounted(t *testing.T, c *observe.LaneCounters, want int64, within time.Duration) time.Duration {
	t.Helper()
	return clocktest.WaitFor(t, within, fmt.Sprintf("%d records answered (results + DLQ)", want), func() bool {
		return c.Out.Load()+c.DLQ.Load() >= want
	}, func() string {
		// Where a lane that stalled stood: how far it got, and by which path.
		return fmt.Sprintf("%d results and %d DLQ records so far", c.Out.Load(), c.DLQ.Load())
	})
}

func TestRuntimeAnswersEveryMessageExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: 101,000 messages through the full chain on the embedded broker (skipped with -short)")
	}
	const valid, corrupt = 100_000, 1_000
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	msgs := laneMessages(lane, valid, 1, 20*time.Second)
	records := append(e.Encode(t, lane, msgs), corruptValues(t, e, lane, corrupt)...)
	rng := rand.New(rand.NewPCG(7, 7))
	rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
	e.Produce(t, lane, nil, records)

	counters := &observe.LaneCounters{}
	start := time.Now()
	stop := runLane(t, e, Config{Lane: lane, Counters: counters, Getenv: envMap(map[string]string{FlagDispatch: "true"})})
	took := waitCounted(t, counters, valid+corrupt, 5*time.Minute)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("%d messages (%d corrupt) over 6 partitions answered in %v: %.0f msgs/s through the full chain with dispatch on",
		valid+corrupt, corrupt, took.Round(time.Millisecond), float64(valid+corrupt)/time.Since(start).Seconds())

	results := e.ReadAll(t, topics.Name(string(lane), topics.KindResults))
	seen := make(map[string]int, valid)
	nodes := map[string]int{}
	for _, r := range results {
		seen[pipetest.Header(r, HeaderMsgID)]++
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), r.Value, &res); err != nil {
			t.Fatalf("result at %d/%d does not decode: %v", r.Partition, r.Offset, err)
		}
		nodes[res.Node]++
	}
	dlq := e.ReadAll(t, topics.Name(string(lane), topics.KindDLQ))
	reasons := map[string]int{}
	dlqKeys := map[string]int{}
	for _, d := range dlq {
		reasons[pipetest.Header(d, HeaderDLQReason)]++
		dlqKeys[string(d.Key)]++
		if pipetest.Header(d, HeaderSrcOffset) == "" || pipetest.Header(d, HeaderDLQStage) == "" || pipetest.Header(d, HeaderDLQDetail) == "" {
			t.Fatalf("DLQ record without source offset, stage or detail: %+v", d.Headers)
		}
	}
	for _, m := range msgs {
		if n := seen[m.MsgID]; n != 1 {
			t.Fatalf("msg %s has %d results, want exactly 1", m.MsgID, n)
		}
	}
	if len(results) != valid {
		t.Fatalf("%d results for %d valid messages", len(results), valid)
	}
	for i := range corrupt {
		if k := fmt.Sprintf("corrupt-%d", i); dlqKeys[k] != 1 {
			t.Fatalf("corrupt record %s has %d DLQ records, want 1", k, dlqKeys[k])
		}
	}
	if len(dlq) != corrupt {
		t.Fatalf("%d DLQ records for %d corrupt messages; reasons %v", len(dlq), corrupt, reasons)
	}
	want := map[string]int{ReasonUndecodable: corrupt / 2, ReasonUnknownSchemaID: corrupt / 4, ReasonContract: corrupt / 4}
	for r, n := range want {
		if reasons[r] != n {
			t.Fatalf("DLQ reasons %v, want %v", reasons, want)
		}
	}
	if nodes["router"] > 0 || len(nodes) < 5 {
		t.Fatalf("with dispatch on, results by node %v: want node answers, none from the router alone", nodes)
	}
	t.Logf("results by node: %v; DLQ by reason: %v", nodes, reasons)
}

// envMap is a getenv over m.
func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDispatchToggleThroughControlSwitchesAtAFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	e := pipetest.Start(t, lane)
	changed := make(chan FlagChange, 4)
	counters := &observe.LaneCounters{}
	stop := runLane(t, e, Config{Lane: lane, Counters: counters, OnFlagChange: func(c FlagChange) { changed <- c }})

	gen := devstack.NewSynthetic(lane, 3, 64)
	before := nowBatch(gen, 600)
	e.Produce(t, lane, before, nil)
	waitCounted(t, counters, int64(len(before)), time.Minute)

	writeControl(t, e, FlagDispatch, "true")
	select {
	case c := <-changed:
		if c.Name != FlagDispatch || !c.New {
			t.Fatalf("flag change %v, want DISPATCH_ENABLED → true", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the runtime did not apply the control record within 30s")
	}
	after := nowBatch(gen, 600)
	e.Produce(t, lane, after, nil)
	waitCounted(t, counters, int64(len(before)+len(after)), time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Per partition, in offset order, routing switches from log-only to
	// dispatched once, at a frame boundary, and never back; every message
	// written after the change was applied is dispatched.
	results := e.ReadAll(t, topics.Name(string(lane), topics.KindResults))
	afterIDs := map[string]bool{}
	for _, m := range after {
		afterIDs[m.MsgID] = true
	}
	type row struct {
		off        int64
		dispatched bool
		msg        string
	}
	byPart := map[int32][]row{}
	for _, r := range results {
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), r.Value, &res); err != nil {
			t.Fatal(err)
		}
		p := int32(pipetest.HeaderInt(t, r, HeaderSrcPartition))
		byPart[p] = append(byPart[p], row{off: pipetest.HeaderInt(t, r, HeaderSrcOffset), dispatched: res.Node != "router", msg: res.MsgID})
	}
	switched := 0
	for p, rows := range byPart {
		slices.SortFunc(rows, func(a, b row) int { return int(a.off - b.off) })
		on := false
		for _, r := range rows {
			if on && !r.dispatched {
				t.Fatalf("partition %d: offset %d routed log-only after dispatch was on", p, r.off)
			}
			if r.dispatched && !on {
				on = true
				switched++
			}
			if afterIDs[r.msg] && !r.dispatched {
				t.Fatalf("partition %d: message %s written after the flag changed was not dispatched", p, r.msg)
			}
		}
	}
	if switched == 0 {
		t.Fatal("no partition switched to dispatch")
	}
	t.Logf("%d partitions switched once from log-only to dispatch, never back; every message written after the change was dispatched", switched)
}

// writeControl writes one matriz.control record the way an operator does,
// through `matriz flags set` (ops.SetFlag): key NAME or lane/NAME, value a
// boolean.
func writeControl(t *testing.T, e *pipetest.Env, key, value string) {
	t.Helper()
	lane, name, err := stages.ParseControlKey(key)
	if err != nil {
		t.Fatal(err)
	}
	on, err := ParseFlagValue(value)
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.SetFlag(t.Context(), e.Brokers, lane, name, on); err != nil {
		t.Fatalf("control record %s=%s: %v", key, value, err)
	}
}
