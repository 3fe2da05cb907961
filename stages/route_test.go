package stages_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

// rtEpoch is the event time the route tests' messages start at.
var rtEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rtNode is a deterministic test node: it answers with the message's
// topic and payload size, and a crumb naming itself.
type rtNode struct {
	name  string
	calls *int
}

func (n rtNode) Name() string    { return n.name }
func (n rtNode) Version() string { return "0.1.0" }
func (n rtNode) Handle(ctx context.Context, m *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := ctx.Err(); err != nil {
		return schemas.MatrizResult{}, err
	}
	if n.calls != nil {
		*n.calls++
	}
	return schemas.MatrizResult{
		MsgID: m.MsgID, TS: m.TS, Lane: m.Lane, Node: n.name, NodeVersion: n.Version(), OK: true,
		Payload: schemas.Payload{"seen_topic": m.Topic, "keys": int64(len(m.Payload))},
		Trace:   []schemas.Crumb{{Stage: n.name, T: m.TS, Data: schemas.Payload{"n": int64(len(m.Payload))}}},
	}, nil
}

// rtMessages returns n messages with seeded topics, a few of them on a
// topic no node is registered for.
func rtMessages(seed uint64, n int) []schemas.MatrizMessage {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	topics := []string{"memory", "contradiction", "trend", "unrouted"}
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		out[i] = schemas.MatrizMessage{
			MsgID:   fmt.Sprintf("m-%d-%d", seed, i),
			TS:      rtEpoch.Add(time.Duration(i) * time.Millisecond),
			Lane:    schemas.LaneCandidate,
			Glyph:   schemas.Glyph{ID: fmt.Sprintf("g-%d", rng.IntN(5)), Kind: "intent", Version: "1", Tags: map[string]string{"consent": "yes"}},
			Payload: schemas.Payload{"risk": rng.Float64(), "intent": []float64{rng.Float64(), 1}},
			Topic:   topics[rng.IntN(len(topics))],
		}
	}
	return out
}

// rtFrame wraps msgs in one frame of partition 3.
func rtFrame(msgs []schemas.MatrizMessage, dispatch bool) *stages.Frame {
	f := &stages.Frame{
		Lane: schemas.LaneCandidate, Partition: 3, Seq: 100, FPS: 30,
		Start: rtEpoch, End: rtEpoch.Add(33333333),
		Flags: stages.Flags{Dispatch: dispatch},
	}
	for i := range msgs {
		m := msgs[i]
		f.Records = append(f.Records, stages.Record{Partition: 3, Offset: int64(1000 + i), Msg: &m})
	}
	return f
}

func rtRouter(t testing.TB, calls *int) *stages.Router {
	t.Helper()
	r, err := stages.NewRouter(
		stages.RouteTo("memory", rtNode{name: "memory", calls: calls}),
		stages.RouteTo("contradiction", rtNode{name: "contradiction", calls: calls}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouterConformance(t *testing.T) {
	for _, dispatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("dispatch=%v", dispatch), func(t *testing.T) {
			stagetest.RunStage(t,
				func() stages.Stage { return rtRouter(t, nil) },
				func() []*stages.Frame {
					return []*stages.Frame{rtFrame(rtMessages(1, 40), dispatch), rtFrame(rtMessages(2, 70), dispatch)}
				})
		})
	}
}

func TestRouterRoutesAndLogs(t *testing.T) {
	tests := []struct {
		name         string
		topic        string
		dispatch     bool
		wantOK       bool
		wantNode     string
		wantDispatch bool
		wantReason   string
	}{
		{name: "log-only known topic", topic: "memory", wantOK: true, wantNode: "memory"},
		{name: "dispatch known topic", topic: "memory", dispatch: true, wantOK: true, wantNode: "memory", wantDispatch: true},
		{name: "unknown topic", topic: "weather", wantReason: `no node registered for topic "weather"; registered: contradiction, memory`},
		{name: "unknown topic with dispatch", topic: "weather", dispatch: true, wantReason: `no node registered for topic "weather"`},
		{name: "empty topic", topic: "", wantReason: `no node registered for topic ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			r := rtRouter(t, &calls)
			msgs := rtMessages(7, 1)
			msgs[0].Topic = tc.topic
			f := rtFrame(msgs, tc.dispatch)
			if err := r.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			if calls != 0 {
				t.Fatalf("router called a node %d times; it only routes", calls)
			}
			rec := f.Records[0]
			wantRoute := stages.Route{Topic: tc.topic, Node: tc.wantNode, Dispatch: tc.wantDispatch}
			if rec.Route == nil || *rec.Route != wantRoute {
				t.Fatalf("Route = %+v, want %+v", rec.Route, wantRoute)
			}
			res := rec.Result
			if res == nil || res.OK != tc.wantOK || res.Node != stages.RouterNode || res.NodeVersion != stages.RouterVersion {
				t.Fatalf("Result = %+v, want ok=%v from node router", res, tc.wantOK)
			}
			if res.ID != stages.ResultID(msgs[0].MsgID, "router") || res.MsgID != msgs[0].MsgID || !res.TS.Equal(msgs[0].TS) || res.Lane != msgs[0].Lane {
				t.Fatalf("Result header = %+v", res)
			}
			if tc.wantReason != "" && (len(res.Reasons) != 1 || !strings.Contains(res.Reasons[0], tc.wantReason)) {
				t.Fatalf("Reasons = %q, want %q", res.Reasons, tc.wantReason)
			}
			if tc.wantReason == "" && len(res.Reasons) != 0 {
				t.Fatalf("Reasons = %q on an ok route", res.Reasons)
			}
			wantPayload := schemas.Payload{"topic": tc.topic, "routed_to": tc.wantNode, "dispatched": tc.wantDispatch}
			if !reflect.DeepEqual(res.Payload, wantPayload) {
				t.Fatalf("Payload = %v, want %v", res.Payload, wantPayload)
			}
			wantCrumb := schemas.Crumb{Stage: "route", T: msgs[0].TS, Data: schemas.Payload{
				"topic": tc.topic, "lane": "candidate", "msg_id": msgs[0].MsgID, "routed_to": tc.wantNode, "dispatched": tc.wantDispatch,
			}}
			if len(res.Trace) != 1 || !reflect.DeepEqual(res.Trace[0], wantCrumb) {
				t.Fatalf("Trace = %+v, want [%+v]", res.Trace, wantCrumb)
			}
			// A dispatched record is the router's intention that its node act
			// on the message; anything else is a routing decision only logged.
			wantKind := schemas.EventRouting
			if tc.wantDispatch {
				wantKind = schemas.EventIntention
			}
			// The frame's one event lists its one record; no glyph or
			// msg_id of its own, since a frame's event speaks for many.
			wantEvent := schemas.Event{
				ID: stages.DerivedID(msgs[0].MsgID, "route", string(wantKind), "frame"), TS: msgs[0].TS, Kind: wantKind,
				Lane: schemas.LaneCandidate, Stage: "route",
				Payload: schemas.Payload{"msg_ids": []string{msgs[0].MsgID}, "topics": []string{tc.topic},
					"routed_to": []string{tc.wantNode}, "dispatched": tc.wantDispatch, "records": int64(1)},
			}
			if len(f.Events) != 1 || !reflect.DeepEqual(f.Events[0], wantEvent) {
				t.Fatalf("Events = %+v, want [%+v]", f.Events, wantEvent)
			}
		})
	}
}

func TestRouterSkipsRecordsThatAreNotLive(t *testing.T) {
	r := rtRouter(t, nil)
	f := rtFrame(rtMessages(3, 4), false)
	f.Records[0].Dropped = true
	f.Records[1].Fail("decimate", "earlier failure")
	f.Records[2].Msg = nil
	if err := r.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if f.Records[i].Result != nil || f.Records[i].Route != nil {
			t.Fatalf("record %d was routed although not live", i)
		}
	}
	if f.Records[1].Failure.Stage != "decimate" {
		t.Fatalf("first failure overwritten: %+v", f.Records[1].Failure)
	}
	if fl := f.Records[2].Failure; fl == nil || fl.Stage != "route" || !strings.Contains(fl.Reason, "offset 1002 has no message") {
		t.Fatalf("record without a message: failure %+v", fl)
	}
	if f.Records[3].Result == nil || len(f.Events) != 1 {
		t.Fatalf("live record not routed: result %v, %d events", f.Records[3].Result, len(f.Events))
	}
	if ids := f.Events[0].Payload["msg_ids"]; !reflect.DeepEqual(ids, []string{f.Records[3].Msg.MsgID}) {
		t.Fatalf("the frame's event lists %v, want only the live record", ids)
	}
}

// TestRouterEveryLiveRecordHasOneResultAndIsListed: every live record
// gets one result and is listed, in record order, by exactly one of the
// frame's events, of the kind that says whether it was dispatched; a list
// longer than an event holds continues in the next event of its kind.
func TestRouterEveryLiveRecordHasOneResultAndIsListed(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		r := rtRouter(t, nil)
		f := rtFrame(rtMessages(seed, 600), seed%2 == 0)
		if err := r.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for i, rec := range f.Records {
			if rec.Result == nil {
				t.Fatalf("seed %d record %d has no result", seed, i)
			}
			ids[rec.Result.ID] = true
		}
		if len(ids) != len(f.Records) {
			t.Fatalf("seed %d: %d distinct result ids for %d records", seed, len(ids), len(f.Records))
		}
		listed := map[schemas.EventKind][]string{}
		eventIDs := map[string]bool{}
		for _, ev := range f.Events {
			got, _ := ev.Payload["msg_ids"].([]string)
			if n, _ := ev.Payload["records"].(int64); int(n) != len(got) || len(got) == 0 || len(got) > 256 {
				t.Fatalf("seed %d: event %s lists %d records and says %d; want 1 to 256", seed, ev.ID, len(got), n)
			}
			if first := got[0]; ev.ID != stages.DerivedID(first, "route", string(ev.Kind), "frame") || eventIDs[ev.ID] {
				t.Fatalf("seed %d: event id %s is not its first record's, or repeats", seed, ev.ID)
			}
			eventIDs[ev.ID] = true
			listed[ev.Kind] = append(listed[ev.Kind], got...)
		}
		var want = map[schemas.EventKind][]string{}
		for _, rec := range f.Records {
			kind := schemas.EventRouting
			if rec.Route.Dispatch {
				kind = schemas.EventIntention
			}
			want[kind] = append(want[kind], rec.Msg.MsgID)
		}
		if !reflect.DeepEqual(listed, want) {
			t.Fatalf("seed %d: events list %d intention and %d routing records, want %d and %d in record order",
				seed, len(listed[schemas.EventIntention]), len(listed[schemas.EventRouting]), len(want[schemas.EventIntention]), len(want[schemas.EventRouting]))
		}
		if seed%2 == 0 && (len(want[schemas.EventIntention]) == 0 || len(want[schemas.EventRouting]) == 0) {
			t.Fatalf("seed %d with dispatch: want both routed and unrouted topics", seed)
		}
		if len(f.Events) < 3 {
			t.Fatalf("seed %d: %d events for 600 records; want a list split at 256", seed, len(f.Events))
		}
	}
}

// TestRouteEventListsFindsAListedMessage: explain's test for an event
// that lists a message rather than naming it.
func TestRouteEventListsFindsAListedMessage(t *testing.T) {
	r := rtRouter(t, nil)
	f := rtFrame(rtMessages(9, 3), false)
	if err := r.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	ev := &f.Events[0]
	if !stages.RouteEventLists(ev, f.Records[2].Msg.MsgID) || stages.RouteEventLists(ev, "not-routed") {
		t.Fatalf("RouteEventLists on %v: want the frame's records only", ev.Payload["msg_ids"])
	}
	other := schemas.Event{Kind: schemas.EventDriftAlert, Payload: ev.Payload}
	if stages.RouteEventLists(&other, f.Records[2].Msg.MsgID) {
		t.Fatal("RouteEventLists matched a drift_alert event")
	}
}

func TestRouterStopsOnCancelMidFrame(t *testing.T) {
	r := rtRouter(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	f := rtFrame(rtMessages(4, 200), false)
	cancel()
	err := r.Process(ctx, f)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if f.Records[0].Result != nil {
		t.Fatal("a cancelled frame was routed")
	}
	// A context cancelled after the first check stops at the next check.
	ctx2 := &cancelAfter{Context: context.Background(), n: 2}
	f2 := rtFrame(rtMessages(4, 200), false)
	err = r.Process(ctx2, f2)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "record 64") {
		t.Fatalf("err = %v, want a stop at record 64", err)
	}
}

// cancelAfter is a context whose Err turns to Canceled on the n-th call.
type cancelAfter struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *cancelAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n <= 0 {
		return context.Canceled
	}
	return nil
}

func TestRouterRegister(t *testing.T) {
	r, err := stages.NewRouter()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Topics(); len(got) != 0 {
		t.Fatalf("Topics = %v", got)
	}
	f := rtFrame(rtMessages(9, 1), false)
	f.Records[0].Msg.Topic = "memory"
	if err := r.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if got := f.Records[0].Result.Reasons[0]; !strings.HasSuffix(got, "registered: none") {
		t.Fatalf("reason with no routes = %q", got)
	}
	if err := r.Register("memory", rtNode{name: "memory"}); err != nil {
		t.Fatal(err)
	}
	if n, ok := r.Lookup("memory"); !ok || n.Name() != "memory" {
		t.Fatalf("Lookup = %v, %v", n, ok)
	}
	bad := []struct {
		name  string
		topic string
		node  stages.Node
		want  string
	}{
		{"empty topic", " ", rtNode{name: "x"}, "empty topic"},
		{"nil node", "x", nil, "nil node"},
		{"unnamed node", "x", rtNode{}, "has no name"},
		{"duplicate", "memory", rtNode{name: "other"}, `already routes to node "memory"`},
	}
	for _, tc := range bad {
		err := r.Register(tc.topic, tc.node)
		if !errors.Is(err, stages.ErrRouter) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := stages.NewRouter(stages.RouteTo("a", rtNode{name: "a"}), stages.RouteTo("a", rtNode{name: "b"})); !errors.Is(err, stages.ErrRouter) {
		t.Fatalf("duplicate option: err = %v", err)
	}
	if _, err := stages.NewRouter(stages.RouteTo("a", nil)); !errors.Is(err, stages.ErrRouter) {
		t.Fatalf("nil node option: err = %v", err)
	}
	if got := r.Topics(); !reflect.DeepEqual(got, []string{"memory"}) {
		t.Fatalf("Topics = %v", got)
	}
}

func TestRouterConcurrentRegisterAndProcess(t *testing.T) {
	r := rtRouter(t, nil)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := rtFrame(rtMessages(uint64(i), 50), false)
			if err := r.Process(context.Background(), f); err != nil {
				t.Error(err)
			}
		}()
	}
	for i := 0; i < 4; i++ {
		if err := r.Register(fmt.Sprintf("t%d", i), rtNode{name: "n"}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(r.Topics()) != 6 {
		t.Fatalf("Topics = %v", r.Topics())
	}
}

func TestIDsAreDeterministicAndDistinct(t *testing.T) {
	if stages.ResultID("m1", "router") != stages.ResultID("m1", "router") {
		t.Fatal("ResultID not deterministic")
	}
	ids := map[string]string{
		"r m1 router": stages.ResultID("m1", "router"),
		"r m1 memory": stages.ResultID("m1", "memory"),
		"r m2 router": stages.ResultID("m2", "router"),
		"e m1 route":  stages.EventID("m1", "route", schemas.EventRouting),
		"e m1 drift":  stages.EventID("m1", "drift", schemas.EventRouting),
		"e m1 kind":   stages.EventID("m1", "route", schemas.EventDecimation),
	}
	seen := map[string]string{}
	for k, v := range ids {
		if len(v) != 36 || v[14] != '5' {
			t.Fatalf("%s: %q is not a v5 uuid", k, v)
		}
		if o, dup := seen[v]; dup {
			t.Fatalf("%s and %s share id %s", k, o, v)
		}
		seen[v] = k
	}
	long := strings.Repeat("x", 300) // longer than the stack buffer
	same := []struct{ got, name string }{
		{stages.ResultID("m1", "router"), "m1/router"},
		{stages.EventID("m1", "route", schemas.EventRouting), "m1/route/routing"},
		{stages.ResultID(long, "memory"), long + "/memory"},
	}
	for _, c := range same {
		if want := uuid.NewSHA1(stages.IDNamespace, []byte(c.name)).String(); c.got != want {
			t.Fatalf("id of %.20q = %s, want uuid.NewSHA1's %s", c.name, c.got, want)
		}
	}
	if got := stages.FrameSubject(schemas.LaneProd, 7, 30, -12); got != "prod/7/30/-12" {
		t.Fatalf("FrameSubject = %q", got)
	}
}

func BenchmarkRoute(b *testing.B) {
	for _, dispatch := range []bool{false, true} {
		b.Run(fmt.Sprintf("dispatch=%v", dispatch), func(b *testing.B) {
			r := rtRouter(b, nil)
			msgs := rtMessages(1, 1000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := rtFrame(msgs, dispatch)
				b.StartTimer()
				if err := r.Process(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/msg")
		})
	}
}
