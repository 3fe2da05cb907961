package stages_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
	"github.com/matriz/pipelines/stages/stagetest"
)

// neStages returns a router and adapter with the real memory and
// orchestration nodes, and a test node that makes no event.
func neStages(t testing.TB) (*stages.Router, *stages.Adapter) {
	t.Helper()
	return routerAndAdapter(t,
		stages.RouteTo("memory", adapters.Memory{}),
		stages.RouteTo("goal", adapters.Orchestration{}),
		stages.RouteTo("contradiction", rtNode{name: "contradiction"}),
	)
}

// neMessages are, in order: a memory write, a plan evaluation with two
// steps done, a message for a node that makes no event, a memory write
// the node refuses (negative depth), a plan with an invalid transition
// (refused), and a second memory write.
func neMessages() []schemas.MatrizMessage {
	msgs := rtMessages(21, 6)
	topics := []string{"memory", "goal", "contradiction", "memory", "goal", "memory"}
	payloads := []schemas.Payload{
		{"links": []string{"f-1", "f-2", "f-1"}, "depth": int64(2)},
		{"goal": "ship", "subgoals": []string{"design", "build", "test"}, "values": []float64{1, 3, 2}, "risks": []float64{0.05, 0.2, 0.1},
			"status": []string{"done", "active", "pending"}, "next_status": []string{"done", "done", "active"}},
		{"risk": 0.1},
		{"links": []string{"f-3"}, "depth": int64(-1)},
		{"goal": "ship", "values": []float64{1}, "risks": []float64{0}, "status": []string{"done"}, "next_status": []string{"active"}},
		{"links": []string{}, "depth": int64(0)},
	}
	for i := range msgs {
		msgs[i].Topic, msgs[i].Payload = topics[i], payloads[i]
	}
	return msgs
}

// neRun routes and adapts msgs in one frame and returns it.
func neRun(t *testing.T, msgs []schemas.MatrizMessage, dispatch bool) *stages.Frame {
	t.Helper()
	r, a := neStages(t)
	f := rtFrame(msgs, dispatch)
	if err := r.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if err := a.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	for i, rec := range f.Records {
		if rec.Failure != nil {
			t.Fatalf("record %d failed: %+v", i, rec.Failure)
		}
	}
	return f
}

// routerEvents returns how many of f's events, from the first, the router
// wrote, and the msg_ids they list in order.
func routerEvents(t *testing.T, f *stages.Frame) (n int, listed []string) {
	t.Helper()
	for n < len(f.Events) && f.Events[n].Stage == "route" {
		ids, ok := f.Events[n].Payload[stages.RouteEventMsgIDs].([]string)
		if !ok || f.Events[n].MsgID != "" {
			t.Fatalf("router event %d = %+v: want msg_ids listed and no msg_id of its own", n, f.Events[n])
		}
		listed = append(listed, ids...)
		n++
	}
	return n, listed
}

// TestAdapterEmitsTheEventsNodesMake: after the router's events, which
// list every record, the adapter adds a memory_write for every memory write the
// memory node planned and a reward for every plan the orchestration node
// evaluated, in record order, about the message, at its event time.
func TestAdapterEmitsTheEventsNodesMake(t *testing.T) {
	msgs := neMessages()
	f := neRun(t, msgs, true)
	nRouter, listed := routerEvents(t, f)
	if len(listed) != len(msgs) {
		t.Fatalf("router events list %v, want all %d records", listed, len(msgs))
	}
	event := func(i int, kind schemas.EventKind, p schemas.Payload) schemas.Event {
		m := msgs[i]
		return schemas.Event{ID: stages.EventID(m.MsgID, "adapter", kind), TS: m.TS, Kind: kind, Lane: m.Lane,
			GlyphID: m.Glyph.ID, MsgID: m.MsgID, Stage: "adapter", Payload: p}
	}
	want := []schemas.Event{
		event(0, schemas.EventMemoryWrite, schemas.Payload{"fanout": int64(2), "depth": int64(2)}),
		event(1, schemas.EventReward, schemas.Payload{"goal": "ship", "goal_status": "active", "progress": 0.666666667,
			"expected_value": 1.8, "reward": 3.35}), // the node rounds to 9 places; reward = 1·0.95 + 3·0.8
		event(5, schemas.EventMemoryWrite, schemas.Payload{"fanout": int64(0), "depth": int64(0)}),
	}
	got := f.Events[nRouter:]
	if len(got) != len(want) {
		t.Fatalf("node events %+v, want %+v", got, want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("node event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestAdapterNodeEventsNeedADispatchedOKResult: log-only frames call no
// node, so they make no node event; refused results make none either
// (checked above: records 3 and 4).
func TestAdapterNodeEventsNeedADispatchedOKResult(t *testing.T) {
	msgs := neMessages()
	f := neRun(t, msgs, false)
	n, listed := routerEvents(t, f)
	if n != len(f.Events) || len(listed) != len(msgs) {
		t.Fatalf("log-only frame: %d events listing %d records, want the router's only, listing all %d: %+v", len(f.Events), len(listed), len(msgs), f.Events)
	}
	for _, ev := range f.Events {
		if ev.Kind != schemas.EventRouting {
			t.Fatalf("log-only frame has a %s event", ev.Kind)
		}
	}
}

// neNode answers OK or not with a payload a test picks.
type neNode struct {
	ok      bool
	payload schemas.Payload
}

func (neNode) Name() string    { return "probe" }
func (neNode) Version() string { return "1.0.0" }
func (n neNode) Handle(_ context.Context, m *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	return schemas.MatrizResult{MsgID: m.MsgID, TS: m.TS, Lane: m.Lane, Node: "probe", NodeVersion: "1.0.0", OK: n.ok,
		Payload: n.payload, Trace: []schemas.Crumb{{Stage: "probe", T: m.TS}}}, nil
}

// TestAdapterNodeEventRule: the event is the kind a node names, with the
// listed keys it has and nothing else; an unknown kind, a kind that is not
// a string, or a result not OK makes none.
func TestAdapterNodeEventRule(t *testing.T) {
	tests := []struct {
		name    string
		node    neNode
		kind    schemas.EventKind // "" = no event
		payload schemas.Payload
	}{
		{"reward keys only", neNode{ok: true, payload: schemas.Payload{"event_kind": "reward", "reward": 1.5, "goal": "g", "steps": []string{"a"}}},
			schemas.EventReward, schemas.Payload{"reward": 1.5, "goal": "g"}},
		{"memory write keys only", neNode{ok: true, payload: schemas.Payload{"event_kind": "memory_write", "fanout": int64(3), "folds": []string{"a", "b", "c"}}},
			schemas.EventMemoryWrite, schemas.Payload{"fanout": int64(3)}},
		{"not ok", neNode{payload: schemas.Payload{"event_kind": "reward", "reward": 1.5}}, "", nil},
		{"kind nodes do not make", neNode{ok: true, payload: schemas.Payload{"event_kind": "guardian_decision"}}, "", nil},
		{"kind not a string", neNode{ok: true, payload: schemas.Payload{"event_kind": int64(3)}}, "", nil},
		{"no kind", neNode{ok: true, payload: schemas.Payload{"reward": 1.5}}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := stages.NewRouter(stages.RouteTo("probe", tc.node))
			if err != nil {
				t.Fatal(err)
			}
			a, err := stages.NewAdapter(r)
			if err != nil {
				t.Fatal(err)
			}
			msgs := rtMessages(22, 1)
			msgs[0].Topic = "probe"
			f := rtFrame(msgs, true)
			if err := r.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			if err := a.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			got := f.Events[1:]
			if tc.kind == "" {
				if len(got) != 0 {
					t.Fatalf("events %+v, want none from the adapter", got)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != tc.kind || got[0].ID != stages.EventID(msgs[0].MsgID, "adapter", tc.kind) || !reflect.DeepEqual(got[0].Payload, tc.payload) {
				t.Fatalf("events %+v, want one %s with payload %v", got, tc.kind, tc.payload)
			}
		})
	}
}

// TestAdapterNodeEventsInRecordOrder runs a frame of many memory writes
// among other records: the adapter's events follow the records' order and
// each is about its own record.
func TestAdapterNodeEventsInRecordOrder(t *testing.T) {
	msgs := rtMessages(23, 300)
	var writes []string
	for i := range msgs {
		if i%3 == 2 {
			msgs[i].Topic = "contradiction"
			continue
		}
		msgs[i].Topic = "memory"
		msgs[i].Payload = schemas.Payload{"links": []string{fmt.Sprintf("f-%d", i)}, "depth": int64(i % 4)}
		writes = append(writes, msgs[i].MsgID)
	}
	f := neRun(t, msgs, true)
	nRouter, _ := routerEvents(t, f)
	got := f.Events[nRouter:]
	if len(got) != len(writes) {
		t.Fatalf("%d node events for %d memory writes", len(got), len(writes))
	}
	for i, ev := range got {
		if ev.Kind != schemas.EventMemoryWrite || ev.MsgID != writes[i] {
			t.Fatalf("node event %d = %s about %s, want memory_write about %s", i, ev.Kind, ev.MsgID, writes[i])
		}
	}
}

// TestAdapterConformanceWithEventNodes runs the stage suite on frames
// whose nodes make events: the events too must be deterministic.
func TestAdapterConformanceWithEventNodes(t *testing.T) {
	stagetest.RunStage(t,
		func() stages.Stage { _, a := neStages(t); return a },
		func() []*stages.Frame {
			r, _ := neStages(t)
			var out []*stages.Frame
			for range 2 {
				f := rtFrame(neMessages(), true)
				if err := r.Process(context.Background(), f); err != nil {
					t.Fatal(err)
				}
				out = append(out, f)
			}
			return out
		})
}
