package stages_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

// learnFrames are four frames of ideas of three glyphs routed to the
// creative node, dispatched, with learning on but in frame 2; and in each
// a record for another node, one without features, and a dropped idea.
func learnFrames() []*stages.Frame {
	var fs []*stages.Frame
	for seq := range 4 {
		var ms []*schemas.MatrizMessage
		for i := range 5 {
			n := seq*10 + i
			ms = append(ms, stages.FxMsg(n, stages.FxID(i%3), "idea", schemas.Payload{"features": stages.FxRotated(0.3*float64(n), 3), "value": 0.5}))
		}
		ms = append(ms, stages.FxMsg(seq*10+6, stages.FxID(0), "trend", schemas.Payload{"features": []float64{1, 0, 0}}))
		ms = append(ms, stages.FxMsg(seq*10+7, stages.FxID(1), "idea", schemas.Payload{"value": 0.5}))
		ms = append(ms, stages.FxMsg(seq*10+8, stages.FxID(2), "idea", schemas.Payload{"features": []float64{0, 0, 1}}))
		f := stages.FxFrame(schemas.LaneExperimental, 1, int64(seq), ms...)
		f.Flags = stages.Flags{Dispatch: true, Learning: seq != 2}
		for i := range f.Records {
			r := &f.Records[i]
			node := stages.DefaultLearnNode
			if r.Msg.Topic == "trend" {
				node = "consciousness"
			}
			r.Route = &stages.Route{Topic: r.Msg.Topic, Node: node, Dispatch: true}
		}
		f.Records[len(f.Records)-1].Dropped = true
		fs = append(fs, f)
	}
	return fs
}

func TestLearnConformance(t *testing.T) {
	newLearn := func() *stages.Learn {
		l, err := stages.NewLearn(stages.LearnWindow(4))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// Learn crumbs only what it injected into, learned or refused: in these
	// frames every idea with features, as every glyph has a centroid by the
	// frame whose learning is off.
	crumbed := func(r *stages.Record) bool {
		return r.Route.Node == stages.DefaultLearnNode && r.Msg.Payload["features"] != nil
	}
	stagetest.RunStage(t, func() stages.Stage { return newLearn() }, learnFrames, stagetest.CrumbsOnly(crumbed))
	stagetest.RunStateful(t, func() stages.Stateful { return newLearn() }, learnFrames)
}

// ideaNode stands for the creative node: it answers with the centroid it
// was given, and records every message it handled.
type ideaNode struct{ got *[]*schemas.MatrizMessage }

func (ideaNode) Name() string    { return stages.DefaultLearnNode }
func (ideaNode) Version() string { return "1.0.0" }
func (n ideaNode) Handle(_ context.Context, m *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	*n.got = append(*n.got, m)
	out := schemas.Payload{"novelty": 0.5}
	if c, ok := m.Payload["centroid"]; ok {
		out["seen_centroid"] = c
	}
	return schemas.MatrizResult{MsgID: m.MsgID, TS: m.TS, Lane: m.Lane, Node: n.Name(), NodeVersion: n.Version(), OK: true,
		Payload: out, Trace: []schemas.Crumb{{Stage: n.Name(), T: m.TS}}}, nil
}

// TestLearnFeedsTheNodeThroughTheAdapter: in a chain route → learn →
// adapter, the node is called with the injected centroid, the input stays
// as it was, and the node's result keeps the learn crumb after route's.
func TestLearnFeedsTheNodeThroughTheAdapter(t *testing.T) {
	var got []*schemas.MatrizMessage
	router, err := stages.NewRouter(stages.RouteTo("idea", ideaNode{&got}))
	if err != nil {
		t.Fatal(err)
	}
	adapter, _ := stages.NewAdapter(router)
	learn, _ := stages.NewLearn()
	chain, err := stages.NewChain(router, learn, adapter)
	if err != nil {
		t.Fatal(err)
	}
	first := stages.FxMsg(1, "g", "idea", schemas.Payload{"features": []float64{1, 2}})
	second := stages.FxMsg(2, "g", "idea", schemas.Payload{"features": []float64{3, 4}})
	f := stages.FxFrame(schemas.LaneProd, 0, 0, first, second)
	for i := range f.Records {
		f.Records[i].Result = nil // route makes the results
	}
	f.Flags = stages.Flags{Dispatch: true, Learning: true}
	if err := chain.Run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != first || got[1] == second || got[1].MsgID != second.MsgID {
		t.Fatalf("the node handled %v: want the first input itself and a copy of the second", got)
	}
	if !reflect.DeepEqual(got[1].Payload["centroid"], []float64{1, 2}) || got[1].Payload["centroid_n"] != int64(1) {
		t.Fatalf("the node was given %v, want the centroid learned from the first idea", got[1].Payload)
	}
	if _, ok := second.Payload["centroid"]; ok {
		t.Fatal("the input message was given a centroid")
	}
	res := f.Records[1].Result
	var crumbs []string
	for _, c := range res.Trace {
		crumbs = append(crumbs, c.Stage)
	}
	if !reflect.DeepEqual(crumbs, []string{"route", "learn", "creative", "adapter"}) || res.Node != "creative" {
		t.Fatalf("result of node %q with crumbs %v, want the route and learn crumbs kept before the node's", res.Node, crumbs)
	}
	if want := (schemas.Payload{"injected": true, "learned": true, "centroid_n": int64(2)}); !reflect.DeepEqual(res.Trace[1].Data, want) {
		t.Fatalf("learn crumb %v, want %v", res.Trace[1].Data, want)
	}
	if !reflect.DeepEqual(res.Payload["seen_centroid"], []float64{1, 2}) {
		t.Fatalf("node answered %v", res.Payload)
	}
}
