package stages_test

import (
	"context"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
	"github.com/matriz/pipelines/stages/stagetest"
)

// goalsFrames are four frames as the goals stage gets them: run through
// route → adapter → guardian with the real orchestration node and a prod
// guardian, dispatched. Glyph 1 plans launch (build, test) at P1 and works
// it to done; glyph 2, without consent, is denied its audit; each frame
// also holds a message for no node and a dropped plan.
func goalsFrames() []*stages.Frame {
	consent := map[string]string{"consent": "granted", "purpose": "care"}
	steps := []string{"build", "test"}
	moves := [][2][]string{
		{{"pending", "pending"}, {"active", "pending"}},
		{{"active", "pending"}, {"done", "active"}},
		{{"done", "active"}, {"done", "active"}},
		{{"done", "active"}, {"done", "done"}},
	}
	router, _ := stages.NewRouter(stages.RouteTo("goal", adapters.Orchestration{}))
	adapter, _ := stages.NewAdapter(router)
	guardian, _ := stages.NewGuardian(schemas.LaneProd)
	chain, _ := stages.NewChain(router, adapter, guardian)
	var fs []*stages.Frame
	for seq, mv := range moves {
		launch := stages.FxMsg(seq*10, stages.FxID(1), "goal", schemas.Payload{"goal": "launch", "subgoals": steps, "values": []float64{1, 2},
			"risks": []float64{0.1, 0.2}, "status": mv[0], "next_status": mv[1], "priority": "P1"})
		launch.Glyph.Tags = consent
		audit := stages.FxMsg(seq*10+1, stages.FxID(2), "goal", schemas.Payload{"goal": "audit", "values": []float64{1}, "risks": []float64{0}})
		other := stages.FxMsg(seq*10+2, stages.FxID(1), "trend", schemas.Payload{"risk": 0.1})
		other.Glyph.Tags = consent
		dropped := stages.FxMsg(seq*10+3, stages.FxID(3), "goal", schemas.Payload{"goal": "x", "values": []float64{1}, "risks": []float64{0}})
		f := stages.FxFrame(schemas.LaneProd, 2, int64(seq), launch, audit, other, dropped)
		f.Flags = stages.Flags{Dispatch: true}
		for i := range f.Records {
			f.Records[i].Result = nil // route makes the results
		}
		f.Records[3].Dropped = true
		if err := chain.Run(context.Background(), f); err != nil {
			panic(err)
		}
		f.Events, f.Traces, f.Actions = nil, nil, nil // the goals stage's own output only
		fs = append(fs, f)
	}
	return fs
}

func newGoalsStage(t testing.TB) *stages.Goals {
	g, err := stages.NewGoals()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGoalsConformance(t *testing.T) {
	crumbed := func(r *stages.Record) bool {
		return r.Result.Node == adapters.NameOrchestration && r.Result.Payload[stages.NodeEventKey] == "reward"
	}
	stagetest.RunStage(t, func() stages.Stage { return newGoalsStage(t) }, goalsFrames, stagetest.CrumbsOnly(crumbed))
	stagetest.RunStateful(t, func() stages.Stateful { return newGoalsStage(t) }, goalsFrames)
}

// TestGoalsFollowTheOrchestrationNode: the stage reads the plans of the
// node it is named after by default, and over the real node and guardian
// the frames give the goal events the plans and decisions call for.
func TestGoalsFollowTheOrchestrationNode(t *testing.T) {
	if stages.DefaultGoalsNode != adapters.NameOrchestration {
		t.Fatalf("stages.DefaultGoalsNode = %q, want the orchestration node's name %q", stages.DefaultGoalsNode, adapters.NameOrchestration)
	}
	g := newGoalsStage(t)
	var moves []string
	for _, f := range goalsFrames() {
		if err := g.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		for _, e := range f.Events {
			moves = append(moves, e.GlyphID[len(e.GlyphID)-1:]+" "+e.Payload["goal"].(string)+":"+e.Payload["from"].(string)+"->"+e.Payload["to"].(string))
		}
	}
	want := []string{
		"1 test:->proposed", "1 launch:->active", "1 build:->active", "2 audit:->blocked",
		"1 build:active->done", "1 test:proposed->active",
		"1 test:active->done", "1 launch:active->done",
	}
	if len(moves) != len(want) {
		t.Fatalf("goal events %q, want %q", moves, want)
	}
	for i := range want {
		if moves[i] != want[i] {
			t.Fatalf("goal events %q, want %q", moves, want)
		}
	}
}
