package stages_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

// adNode is a node whose behaviour a test picks: answer, panic, fail, or
// break the contract in one of several ways.
type adNode struct {
	name string
	mode string
}

func (n adNode) Name() string    { return n.name }
func (n adNode) Version() string { return "2.0.0" }
func (n adNode) Handle(ctx context.Context, m *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	res := schemas.MatrizResult{
		ID: "node-chosen-id", MsgID: m.MsgID, TS: m.TS, Lane: m.Lane, Node: n.name, NodeVersion: n.Version(), OK: true,
		Payload: schemas.Payload{"answer": int64(42)},
		Trace:   []schemas.Crumb{{Stage: n.name, T: m.TS, Data: schemas.Payload{"step": "one"}}},
	}
	switch n.mode {
	case "panic":
		panic("index out of range [7]")
	case "error":
		return schemas.MatrizResult{}, errors.New("upstream model unavailable")
	case "ctx":
		<-ctx.Done()
		return schemas.MatrizResult{}, ctx.Err()
	case "wrong-msg":
		res.MsgID = "someone-else"
	case "wrong-node":
		res.Node = "impostor"
	case "wrong-lane":
		res.Lane = schemas.LaneProd
	case "no-crumb":
		res.Trace = nil
	case "not-ok":
		res.OK, res.Reasons = false, []string{"payload lacks key x"}
	}
	return res, nil
}

func adStages(t testing.TB, nodes ...adNode) (*stages.Router, *stages.Adapter) {
	t.Helper()
	var opts []stages.RouterOption
	for _, n := range nodes {
		opts = append(opts, stages.RouteTo(n.name, n))
	}
	return routerAndAdapter(t, opts...)
}

// routerAndAdapter returns a router with opts and the adapter calling its
// nodes.
func routerAndAdapter(t testing.TB, opts ...stages.RouterOption) (*stages.Router, *stages.Adapter) {
	t.Helper()
	r, err := stages.NewRouter(opts...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := stages.NewAdapter(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, a
}

// adRouted returns frames already routed, as the adapter sees them.
func adRouted(t testing.TB, r *stages.Router, dispatch bool, seeds ...uint64) []*stages.Frame {
	t.Helper()
	var out []*stages.Frame
	for _, s := range seeds {
		f := rtFrame(rtMessages(s, 60), dispatch)
		if err := r.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestAdapterConformance(t *testing.T) {
	nodes := []adNode{{name: "memory"}, {name: "contradiction", mode: "not-ok"}}
	for _, dispatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("dispatch=%v", dispatch), func(t *testing.T) {
			r, _ := adStages(t, nodes...)
			stagetest.RunStage(t,
				func() stages.Stage { _, a := adStages(t, nodes...); return a },
				func() []*stages.Frame { return adRouted(t, r, dispatch, 1, 2, 3) })
		})
	}
}

func TestAdapter(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		dispatch bool
		topic    string
		wantFail string // substring of the failure reason; "" = no failure
		wantNode string // node of the result left on the record
		wantData schemas.Payload
	}{
		{name: "log-only keeps the router result", dispatch: false, topic: "memory", wantNode: "router",
			wantData: schemas.Payload{"dispatched": false, "reason": "DISPATCH_ENABLED is off: routing logged, no node called"}},
		{name: "unknown topic keeps the router result", dispatch: true, topic: "weather", wantNode: "router",
			wantData: schemas.Payload{"dispatched": false, "reason": `no node registered for topic "weather"`}},
		{name: "dispatch replaces the result", dispatch: true, topic: "memory", wantNode: "memory",
			wantData: schemas.Payload{"dispatched": true, "node": "memory", "node_version": "2.0.0", "ok": true}},
		{name: "not ok result is still a result", mode: "not-ok", dispatch: true, topic: "memory", wantNode: "memory",
			wantData: schemas.Payload{"dispatched": true, "node": "memory", "node_version": "2.0.0", "ok": false}},
		{name: "panic goes to the DLQ", mode: "panic", dispatch: true, topic: "memory", wantFail: "node memory panicked: index out of range [7]"},
		{name: "error goes to the DLQ", mode: "error", dispatch: true, topic: "memory", wantFail: "node memory: upstream model unavailable"},
		{name: "wrong msg_id", mode: "wrong-msg", dispatch: true, topic: "memory", wantFail: `answered msg_id "someone-else"`},
		{name: "wrong node", mode: "wrong-node", dispatch: true, topic: "memory", wantFail: `result names node "impostor"`},
		{name: "wrong lane", mode: "wrong-lane", dispatch: true, topic: "memory", wantFail: `result lane "prod"`},
		{name: "no crumb", mode: "no-crumb", dispatch: true, topic: "memory", wantFail: "no crumb from the node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, a := adStages(t, adNode{name: "memory", mode: tc.mode})
			msgs := rtMessages(11, 2)
			msgs[0].Topic = tc.topic
			msgs[1].Topic = "memory"
			f := rtFrame(msgs, tc.dispatch)
			f.Records[1].Dropped = true // not live: the adapter must not touch it
			if err := r.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			routerCrumb := f.Records[0].Result.Trace[0]
			if err := a.Process(context.Background(), f); err != nil {
				t.Fatalf("Process = %v; a bad node must not fail the frame", err)
			}
			if f.Records[1].Result != nil || f.Records[1].Failure != nil {
				t.Fatal("adapter touched a dropped record")
			}
			rec := f.Records[0]
			if tc.wantFail != "" {
				if rec.Failure == nil || rec.Failure.Stage != "adapter" || !strings.Contains(rec.Failure.Reason, tc.wantFail) {
					t.Fatalf("Failure = %+v, want adapter: %q", rec.Failure, tc.wantFail)
				}
				return
			}
			if rec.Failure != nil {
				t.Fatalf("unexpected failure %+v", rec.Failure)
			}
			res := rec.Result
			if res.Node != tc.wantNode || res.ID != stages.ResultID(msgs[0].MsgID, tc.wantNode) {
				t.Fatalf("result node %q id %q, want node %q with its deterministic id", res.Node, res.ID, tc.wantNode)
			}
			if !reflect.DeepEqual(res.Trace[0], routerCrumb) {
				t.Fatalf("first crumb %+v, want the router's %+v", res.Trace[0], routerCrumb)
			}
			last := res.Trace[len(res.Trace)-1]
			if last.Stage != "adapter" || !last.T.Equal(msgs[0].TS) || !reflect.DeepEqual(last.Data, tc.wantData) {
				t.Fatalf("adapter crumb %+v, want data %v at the message time", last, tc.wantData)
			}
			wantStages := []string{"route", "adapter"}
			if tc.wantNode != "router" {
				wantStages = []string{"route", "memory", "adapter"}
			}
			var got []string
			for _, c := range res.Trace {
				got = append(got, c.Stage)
			}
			if !reflect.DeepEqual(got, wantStages) {
				t.Fatalf("crumb stages %v, want %v", got, wantStages)
			}
		})
	}
}

func TestAdapterRecordsWithoutRoute(t *testing.T) {
	_, a := adStages(t, adNode{name: "memory"})
	f := rtFrame(rtMessages(5, 1), true)
	if err := a.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if fl := f.Records[0].Failure; fl == nil || !strings.Contains(fl.Reason, "route stage must run before adapter") {
		t.Fatalf("Failure = %+v", fl)
	}
}

func TestAdapterNodeNotInItsRouter(t *testing.T) {
	// Frames routed by one router and handed to an adapter over another: a
	// wiring mistake, reported per record.
	r1, _ := adStages(t, adNode{name: "memory"})
	_, a2 := adStages(t, adNode{name: "contradiction"})
	msgs := rtMessages(6, 1)
	msgs[0].Topic = "memory"
	f := rtFrame(msgs, true)
	if err := r1.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if err := a2.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if fl := f.Records[0].Failure; fl == nil || !strings.Contains(fl.Reason, `node "memory" routed for topic "memory" is not registered`) {
		t.Fatalf("Failure = %+v", fl)
	}
}

func TestAdapterStopsWhenTheFrameContextEnds(t *testing.T) {
	r, a := adStages(t, adNode{name: "memory", mode: "ctx"})
	msgs := rtMessages(8, 3)
	for i := range msgs {
		msgs[i].Topic = "memory"
	}
	f := rtFrame(msgs, true)
	if err := r.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	// The node blocks until the context ends; the context ends on the
	// adapter's second look at it, i.e. while the node is being called.
	ctx := &cancelAfter{Context: cancelledDone(), n: 2}
	err := a.Process(ctx, f)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "node memory stopped by the frame's context") {
		t.Fatalf("err = %v", err)
	}
	if f.Records[0].Failure != nil {
		t.Fatalf("a cancelled frame's record was sent to the DLQ: %+v", f.Records[0].Failure)
	}

	// Cancellation between records stops at the next check.
	r2, a2 := adStages(t, adNode{name: "memory"})
	f2 := adRouted(t, r2, true, 1, 2)[0]
	f2.Records = append(f2.Records, f2.Records...)
	err = a2.Process(&cancelAfter{Context: context.Background(), n: 2}, f2)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "record 64") {
		t.Fatalf("err = %v", err)
	}
}

// cancelledDone is a context whose Done channel is closed (so a node
// waiting on it returns at once) while Err is decided by cancelAfter.
func cancelledDone() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return doneOnly{ctx}
}

type doneOnly struct{ context.Context }

func (doneOnly) Err() error { return nil }

func TestNewAdapterNeedsARouter(t *testing.T) {
	if _, err := stages.NewAdapter(nil); !errors.Is(err, stages.ErrAdapter) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkAdapter(b *testing.B) {
	for _, dispatch := range []bool{false, true} {
		b.Run(fmt.Sprintf("dispatch=%v", dispatch), func(b *testing.B) {
			r, a := adStages(b, adNode{name: "memory"}, adNode{name: "contradiction"}, adNode{name: "trend"}, adNode{name: "unrouted"})
			msgs := rtMessages(1, 1000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := rtFrame(msgs, dispatch)
				if err := r.Process(context.Background(), f); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := a.Process(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/msg")
		})
	}
}
