package stages

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/matriz/pipelines/schemas"
)

// glPlan is the orchestration node's plan for goal over steps (nil: the
// goal alone) with their statuses and risks, computed by the node's rules
// (stages/adapters.Orchestration): goal_status, the risk of the steps not
// done, the next step.
func glPlan(goal string, steps, status []string, risks []float64) schemas.Payload {
	if steps == nil {
		steps = []string{goal}
	}
	survive, done, active, pending := 1.0, 0, 0, 0
	next, nextActive := "", false
	for i, s := range status {
		switch s {
		case "done":
			done++
			continue
		case "active":
			active++
			if !nextActive {
				next, nextActive = steps[i], true
			}
		case "pending":
			pending++
			if next == "" {
				next = steps[i]
			}
		}
		survive *= 1 - risks[i]
	}
	gs := "blocked"
	switch {
	case done == len(steps):
		gs = "done"
	case active > 0:
		gs = "active"
	case pending > 0:
		gs = "pending"
	}
	return schemas.Payload{NodeEventKey: "reward", "goal": goal, "goal_status": gs, "steps": steps, "step_status": status,
		"step_risk": risks, "next_step": next, "risk": 1 - survive, "progress": float64(done) / float64(len(steps))}
}

// glRec is one record for the goals stage: the input payload, the node's
// plan (nil: a record of another node) and the guardian's outcome.
type glRec struct {
	glyph   string
	in      schemas.Payload
	plan    schemas.Payload
	outcome Outcome
	reasons []string
}

// glFrame builds frame seq of partition 0 of the prod lane from recs, as
// the chain hands it to the goals stage after the guardian.
func glFrame(seq int64, recs ...glRec) *Frame {
	var ms []*schemas.MatrizMessage
	for i, r := range recs {
		ms = append(ms, fxMsg(int(seq)*100+i, r.glyph, "goal", r.in))
	}
	f := fxFrame(schemas.LaneProd, 0, seq, ms...)
	for i, r := range recs {
		rec := &f.Records[i]
		if r.plan != nil {
			rec.Result.Node, rec.Result.Payload = DefaultGoalsNode, r.plan
		}
		if r.outcome != "" {
			rec.Verdict = &Verdict{Outcome: r.outcome, Reasons: r.reasons}
		}
	}
	return f
}

func newGoals(t *testing.T, opts ...GoalsOption) *Goals {
	t.Helper()
	g, err := NewGoals(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func glRun(t *testing.T, g *Goals, f *Frame) *Frame {
	t.Helper()
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return f
}

// glMoves lists f's goal events as "goal:from->to".
func glMoves(f *Frame) []string {
	var out []string
	for _, e := range fxEvents(f, schemas.EventGoal) {
		out = append(out, e.Payload["goal"].(string)+":"+e.Payload["from"].(string)+"->"+e.Payload["to"].(string))
	}
	return out
}

func glStatus(t *testing.T, g *Goals, glyph, name string) GoalView {
	t.Helper()
	for _, v := range g.List(glyph) {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("glyph %s has no goal %q: %+v", glyph, name, g.List(glyph))
	return GoalView{}
}

var twoSteps = []string{"build", "test"}

// TestGoalsPlanActEvaluateToDone: a plan makes the goal and its subgoals;
// the guardian's allow acts on the goal and the node's next step; plans
// that mark the steps done complete the subgoals, then the goal, with one
// event per goal changed and a crumb on each record.
func TestGoalsPlanActEvaluateToDone(t *testing.T) {
	g := newGoals(t)
	f0 := glRun(t, g, glFrame(0, glRec{glyph: "g", in: schemas.Payload{"priority": "P1"},
		plan: glPlan("launch", twoSteps, []string{"pending", "pending"}, []float64{0.1, 0.2}), outcome: OutcomeAllow}))
	fxEqual(t, "frame 0 goal events", glMoves(f0), []string{"test:->proposed", "launch:->active", "build:->active"})
	ev := fxEvents(f0, schemas.EventGoal)[2]
	fxEqual(t, "build's event", ev.Payload, schemas.Payload{"goal": "build", "parent": "launch", "from": "", "to": "active",
		"reason": "the next step of launch", "priority": "P1", "progress": 0.0, "order": int64(1), "depth": int64(2), "max_risk": 1.0})
	fxEqual(t, "event id", ev.ID, DerivedID(f0.Records[0].Msg.MsgID, StageGoals, "build", "goal"))
	fxEqual(t, "event glyph and stage", []string{ev.GlyphID, ev.Stage, string(ev.Lane)}, []string{"g", "goals", "prod"})
	fxEqual(t, "crumb", fxCrumb(t, &f0.Records[0], StageGoals).Data,
		schemas.Payload{"goal": "launch", "status": "active", "changes": int64(3), "next_goal": "launch"})

	f1 := glRun(t, g, glFrame(1, glRec{glyph: "g", plan: glPlan("launch", twoSteps, []string{"done", "active"}, []float64{0.1, 0.2}), outcome: OutcomeAllow}))
	fxEqual(t, "frame 1 goal events", glMoves(f1), []string{"build:active->done", "test:proposed->active"})
	fxEqual(t, "launch's progress", glStatus(t, g, "g", "launch").Progress, 0.5)

	f2 := glRun(t, g, glFrame(2, glRec{glyph: "g", plan: glPlan("launch", twoSteps, []string{"done", "done"}, []float64{0.1, 0.2}), outcome: OutcomeAllow}))
	fxEqual(t, "frame 2 goal events", glMoves(f2), []string{"test:active->done", "launch:active->done"})
	done := fxEvents(f2, schemas.EventGoal)[1].Payload
	fxEqual(t, "launch done", []any{done["progress"], done["reason"]}, []any{1.0, "every subgoal is settled"})
	fxEqual(t, "crumb after done", fxCrumb(t, &f2.Records[0], StageGoals).Data,
		schemas.Payload{"goal": "launch", "status": "done", "changes": int64(2), "next_goal": ""})

	// Done is final: a plan that reopens a step changes nothing and says so.
	f3 := glRun(t, g, glFrame(3, glRec{glyph: "g", plan: glPlan("launch", twoSteps, []string{"active", "active"}, []float64{0.1, 0.2}), outcome: OutcomeAllow}))
	fxEqual(t, "events for a final goal", len(glMoves(f3)), 0)
	fxEqual(t, "refused", fxCrumb(t, &f3.Records[0], StageGoals).Data["refused"], []string{`goal "launch" is done, which is final; the plan changes nothing`})
	st := g.Stats()
	fxEqual(t, "stats", [4]any{st.Goals, st.Open, st.Changes, st.Lane}, [4]any{3, 0, uint64(7), schemas.LaneProd})
}

// TestGoalsSingleStepPlanFollowsTheNode: a goal without subgoals takes the
// node's goal_status: active, blocked when its step is, done.
func TestGoalsSingleStepPlanFollowsTheNode(t *testing.T) {
	g := newGoals(t)
	var moves []string
	for seq, s := range []string{"pending", "blocked", "pending", "done"} {
		f := glRun(t, g, glFrame(int64(seq), glRec{glyph: "g", plan: glPlan("tidy", nil, []string{s}, []float64{0}), outcome: OutcomeAllow}))
		moves = append(moves, glMoves(f)...)
	}
	fxEqual(t, "moves", moves, []string{"tidy:->active", "tidy:active->blocked", "tidy:blocked->active", "tidy:active->done"})
	fxEqual(t, "progress", glStatus(t, g, "g", "tidy").Progress, 1.0)
	fxEqual(t, "priority without one in the input", glStatus(t, g, "g", "tidy").Priority, DefaultGoalPriority)
}

// TestGoalsConstraintViolationsFail: a step whose risk is above the goal's
// max_risk fails its subgoal, and the plan's risk above it fails the goal,
// whatever the guardian decided; the constraint is the input's max_risk,
// else the spec's.
func TestGoalsConstraintViolationsFail(t *testing.T) {
	g := newGoals(t, GoalsMaxRisk(0.9))
	f := glRun(t, g, glFrame(0,
		glRec{glyph: "a", in: schemas.Payload{"max_risk": 0.3}, plan: glPlan("launch", twoSteps, []string{"pending", "pending"}, []float64{0.2, 0.5}), outcome: OutcomeAllow},
		glRec{glyph: "b", plan: glPlan("launch", twoSteps, []string{"pending", "pending"}, []float64{0.2, 0.5}), outcome: OutcomeAllow},
	))
	fxEqual(t, "events", glMoves(f), []string{"build:->proposed", "test:->failed", "launch:->failed", "test:->proposed", "launch:->active", "build:->active"})
	evs := fxEvents(f, schemas.EventGoal)
	fxEqual(t, "the step's failure", evs[1].Payload["reason"], "step risk 0.5 exceeds the subgoal's max_risk 0.3")
	if r := evs[2].Payload["reason"].(string); !strings.HasPrefix(r, "plan risk 0.6") || !strings.HasSuffix(r, "exceeds the goal's max_risk 0.3") {
		t.Fatalf("the goal's failure reason %q", r)
	}
	fxEqual(t, "b's constraint, the spec's", glStatus(t, g, "b", "launch").MaxRisk, 0.9)

	// A later plan may lower the constraint, never raise it.
	f = glRun(t, g, glFrame(1, glRec{glyph: "b", in: schemas.Payload{"max_risk": 1.0}, plan: glPlan("launch", twoSteps, []string{"active", "pending"}, []float64{0.2, 0.5}), outcome: OutcomeAllow}))
	fxEqual(t, "raised constraint", glStatus(t, g, "b", "launch").MaxRisk, 0.9)
	f = glRun(t, g, glFrame(2, glRec{glyph: "b", in: schemas.Payload{"max_risk": 0.5}, plan: glPlan("launch", twoSteps, []string{"active", "pending"}, []float64{0.2, 0.5}), outcome: OutcomeAllow}))
	fxEqual(t, "lowered constraint, the plan's risk past it", glMoves(f), []string{"launch:active->failed"})
}

// TestGoalsFailurePropagatesByPriority: a subgoal that fails under its own
// plan fails its parent when it is as important; a less important one is
// settled instead, and the parent is done once the rest are.
func TestGoalsFailurePropagatesByPriority(t *testing.T) {
	g := newGoals(t)
	glRun(t, g, glFrame(0,
		glRec{glyph: "g", in: schemas.Payload{"priority": "P1"}, plan: glPlan("launch", twoSteps, []string{"pending", "pending"}, []float64{0.1, 0.1}), outcome: OutcomeAllow},
		glRec{glyph: "h", in: schemas.Payload{"priority": "P1"}, plan: glPlan("launch", twoSteps, []string{"pending", "pending"}, []float64{0.1, 0.1}), outcome: OutcomeAllow},
	))
	// g: test plans itself at P1 with a constraint its plan breaks.
	f := glRun(t, g, glFrame(1, glRec{glyph: "g", in: schemas.Payload{"max_risk": 0.1}, plan: glPlan("test", nil, []string{"pending"}, []float64{0.4}), outcome: OutcomeAllow}))
	fxEqual(t, "g's moves", glMoves(f), []string{"test:proposed->failed", "launch:active->failed"})
	fxEqual(t, "launch's reason", glStatus(t, g, "g", "launch").Reason, `subgoal "test" (P1) failed`)
	// h: test is lowered to P3 first; its failure does not sink launch.
	f = glRun(t, g, glFrame(2, glRec{glyph: "h", in: schemas.Payload{"priority": "P3", "max_risk": 0.1}, plan: glPlan("test", nil, []string{"pending"}, []float64{0.4}), outcome: OutcomeAllow}))
	fxEqual(t, "h's moves", glMoves(f), []string{"test:proposed->failed"})
	fxEqual(t, "test's priority on its event", fxEvents(f, schemas.EventGoal)[0].Payload["priority"], "P3")
	f = glRun(t, g, glFrame(3, glRec{glyph: "h", plan: glPlan("launch", twoSteps, []string{"done", "pending"}, []float64{0.1, 0.1}), outcome: OutcomeAllow}))
	fxEqual(t, "h's launch done", glMoves(f), []string{"build:active->done", "launch:active->done"})
	fxEqual(t, "progress counts what is done", glStatus(t, g, "h", "launch").Progress, 0.5)
	// Failure and completion move up more than one level.
	glRun(t, g, glFrame(4,
		glRec{glyph: "k", plan: glPlan("a", []string{"b"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "k", plan: glPlan("b", []string{"c"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
	))
	f = glRun(t, g, glFrame(5, glRec{glyph: "k", plan: glPlan("b", []string{"c"}, []string{"done"}, []float64{0}), outcome: OutcomeAllow}))
	fxEqual(t, "completion up two levels", glMoves(f), []string{"c:active->done", "b:active->done", "a:active->done"})
}

// TestGoalsGuardianDecides: deny blocks the goal with the guardian's
// reasons and acts on no step; a later allow unblocks it; dry_run, pending
// and no verdict act on nothing.
func TestGoalsGuardianDecides(t *testing.T) {
	g := newGoals(t)
	pl := glPlan("launch", twoSteps, []string{"active", "pending"}, []float64{0.1, 0.1})
	f := glRun(t, g, glFrame(0, glRec{glyph: "g", plan: pl, outcome: OutcomeDeny, reasons: []string{"consent tag missing", "risk 0.7 exceeds max_risk 0.5"}}))
	fxEqual(t, "denied", glMoves(f), []string{"build:->proposed", "test:->proposed", "launch:->blocked"})
	fxEqual(t, "reason", glStatus(t, g, "g", "launch").Reason, "guardian: consent tag missing; risk 0.7 exceeds max_risk 0.5")
	f = glRun(t, g, glFrame(1, glRec{glyph: "g", plan: pl, outcome: OutcomeAllow}))
	fxEqual(t, "allowed", glMoves(f), []string{"launch:blocked->active", "build:proposed->active"})
	// Many reasons are kept cut at a rune boundary.
	f = glRun(t, g, glFrame(2, glRec{glyph: "g", plan: pl, outcome: OutcomeDeny, reasons: []string{strings.Repeat("é", goalMaxReason)}}))
	if r := glStatus(t, g, "g", "launch").Reason; len(r) != goalMaxReason || !utf8.ValidString(r) || !strings.HasPrefix(r, "guardian: éé") {
		t.Fatalf("a long reason kept as %d bytes (valid UTF-8: %v)", len(r), utf8.ValidString(r))
	}

	for _, o := range []Outcome{OutcomeDryRun, OutcomePending, ""} {
		g := newGoals(t)
		f := glRun(t, g, glFrame(0, glRec{glyph: "g", plan: pl, outcome: o}))
		fxEqual(t, string(o)+": moves", glMoves(f), []string{"launch:->proposed", "build:->proposed", "test:->proposed"})
		want := string(o)
		if o == "" {
			want = "none"
		}
		fxEqual(t, string(o)+": refused", fxCrumb(t, &f.Records[0], StageGoals).Data["refused"], []string{"guardian outcome " + want + ": the plan is not acted on"})
	}
}

// TestGoalsPriorityOrder: List and Next go P0 first, ties by creation
// order, and Next skips goals that are not open.
func TestGoalsPriorityOrder(t *testing.T) {
	g := newGoals(t)
	var recs []glRec
	for _, x := range []struct{ goal, prio string }{{"w", "P2"}, {"x", "P0"}, {"y", "P1"}, {"z", "P0"}, {"v", ""}} {
		in := schemas.Payload{}
		if x.prio != "" {
			in["priority"] = x.prio
		}
		recs = append(recs, glRec{glyph: "g", in: in, plan: glPlan(x.goal, nil, []string{"pending"}, []float64{0}), outcome: OutcomePending})
	}
	f := glRun(t, g, glFrame(0, recs...))
	var order []string
	for _, v := range g.List("g") {
		order = append(order, v.Name+"/"+string(v.Priority))
	}
	fxEqual(t, "list", order, []string{"x/P0", "z/P0", "y/P1", "w/P2", "v/P3"})
	fxEqual(t, "next goal on the last crumb", fxCrumb(t, &f.Records[4], StageGoals).Data["next_goal"], "x")
	glRun(t, g, glFrame(1, glRec{glyph: "g", plan: glPlan("x", nil, []string{"done"}, []float64{0}), outcome: OutcomeAllow}))
	if n, ok := g.Next("g"); !ok || n.Name != "z" {
		t.Fatalf("next after x is done = %+v, %v; want z, the other P0", n, ok)
	}
	glRun(t, g, glFrame(2, glRec{glyph: "g", in: schemas.Payload{"priority": "P3"}, plan: glPlan("z", nil, []string{"pending"}, []float64{0}), outcome: OutcomeDeny}))
	if n, _ := g.Next("g"); n.Name != "y" {
		t.Fatalf("next after z is blocked = %q, want y", n.Name)
	}
	if st := g.Stats(); st.Open != 3 || st.Goals != 5 {
		t.Fatalf("stats %+v: want 5 goals, 3 open (y, w, v)", st)
	}
	if _, ok := g.Next("other"); ok {
		t.Fatal("a glyph without goals has a next goal")
	}
}

// TestGoalsTreeShape: a step that is a root goal of the glyph is adopted;
// one under another parent, one above the goal, the goal itself and one
// past max_depth are refused, with reasons on the crumb.
func TestGoalsTreeShape(t *testing.T) {
	g := newGoals(t, GoalsMaxDepth(3))
	glRun(t, g, glFrame(0,
		glRec{glyph: "g", plan: glPlan("build", []string{"compile"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan("ship", []string{"pack"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
	))
	f := glRun(t, g, glFrame(1, glRec{glyph: "g", plan: glPlan("launch", []string{"build", "pack", "launch"}, []string{"pending", "pending", "pending"}, []float64{0, 0, 0}), outcome: OutcomeAllow}))
	fxEqual(t, "moves", glMoves(f), []string{"build:active->active", "launch:->active"})
	ev := fxEvents(f, schemas.EventGoal)[0].Payload
	fxEqual(t, "adopted", []any{ev["parent"], ev["depth"]}, []any{"launch", int64(2)})
	fxEqual(t, "compile deepened", glStatus(t, g, "g", "compile").Depth, 3)
	fxEqual(t, "refused", fxCrumb(t, &f.Records[0], StageGoals).Data["refused"], []string{
		`step "pack" is a subgoal of "ship"; it stays there`, `step "launch": a goal is not its own subgoal`})

	f = glRun(t, g, glFrame(2,
		glRec{glyph: "g", plan: glPlan("compile", []string{"launch", "link"}, []string{"pending", "pending"}, []float64{0, 0}), outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan("root", []string{"launch"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan("solo", nil, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan("top", []string{"solo"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
	))
	fxEqual(t, "refused at level 4", fxCrumb(t, &f.Records[0], StageGoals).Data["refused"], []string{
		`step "launch" is above "compile" in its tree; adopting it would make a cycle`, `step "link" would be level 4, past max_depth 3`})
	fxEqual(t, "refused: too deep to adopt", fxCrumb(t, &f.Records[1], StageGoals).Data["refused"], []string{
		`step "launch": adopting it would make the tree 4 levels deep, past max_depth 3`})
	fxEqual(t, "solo adopted by top", glStatus(t, g, "g", "top").Subgoals, []string{"solo"})
}

// TestGoalsBoundedState: past max_goals, new goals and subgoals are
// refused, counted and named on the crumb; goals already held still
// change.
func TestGoalsBoundedState(t *testing.T) {
	g := newGoals(t, GoalsMaxGoals(3))
	f := glRun(t, g, glFrame(0,
		glRec{glyph: "g", plan: glPlan("launch", []string{"a", "b", "c"}, []string{"pending", "pending", "pending"}, []float64{0, 0, 0}), outcome: OutcomeAllow},
		glRec{glyph: "h", plan: glPlan("other", nil, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
	))
	fxEqual(t, "moves", glMoves(f), []string{"b:->proposed", "launch:->active", "a:->active"})
	fxEqual(t, "refused subgoal", fxCrumb(t, &f.Records[0], StageGoals).Data["refused"], []string{`step "c": the partition holds max_goals (3) goals; a new subgoal is not planned`})
	fxEqual(t, "refused goal", fxCrumb(t, &f.Records[1], StageGoals).Data, schemas.Payload{"goal": "other", "changes": int64(0), "next_goal": "",
		"refused": []string{`goal "other": the partition holds max_goals (3) goals; a new goal is not planned`}})
	f = glRun(t, g, glFrame(1, glRec{glyph: "g", plan: glPlan("launch", []string{"a", "b", "c"}, []string{"done", "done", "done"}, []float64{0, 0, 0}), outcome: OutcomeAllow}))
	fxEqual(t, "held goals still change", glMoves(f), []string{"a:active->done", "b:proposed->done", "launch:active->done"})
	st := g.Stats()
	fxEqual(t, "goals and refused", [2]any{st.Goals, st.Refused}, [2]any{3, uint64(3)})
}

// TestGoalsRefusesBadInput: a bad priority, max_risk or plan, or a name
// too long, is refused on the crumb and changes nothing; records that are
// not the node's plans get no crumb.
func TestGoalsRefusesBadInput(t *testing.T) {
	long := strings.Repeat("x", GoalMaxName+1)
	pl := glPlan("launch", nil, []string{"pending"}, []float64{0})
	broken := glPlan("launch", twoSteps, []string{"pending"}, []float64{0, 0})
	f := glFrame(0,
		glRec{glyph: "g", in: schemas.Payload{"priority": "P9"}, plan: pl, outcome: OutcomeAllow},
		glRec{glyph: "g", in: schemas.Payload{"priority": int64(1)}, plan: pl, outcome: OutcomeAllow},
		glRec{glyph: "g", in: schemas.Payload{"max_risk": 2.0}, plan: pl, outcome: OutcomeAllow},
		glRec{glyph: "g", plan: broken, outcome: OutcomeAllow},
		glRec{glyph: "g", plan: schemas.Payload{NodeEventKey: "reward"}, outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan(long, nil, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan("launch", []string{long}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "g", in: schemas.Payload{"risk": 0.1}, outcome: OutcomeAllow},                                 // another node's result
		glRec{glyph: "g", plan: schemas.Payload{NodeEventKey: "memory_write", "goal": "x"}, outcome: OutcomeAllow}, // not a plan
		glRec{glyph: "g", plan: pl, outcome: OutcomeAllow},                                                         // dropped below
	)
	f.Records[9].Dropped = true
	glRun(t, newGoals(t), f)
	want := []string{
		`input priority "P9" is not P0, P1, P2 or P3; the goal is not planned`,
		"input priority is int64, want a string P0..P3; the goal is not planned",
		"input max_risk 2: want a number in [0, 1]; the goal is not planned",
		"the plan has 2 steps, 1 step statuses and 2 step risks; want as many of each, at least one",
		"the plan names no goal",
		"goal name of 257 bytes: at most 256 are kept; the goal is not planned",
		"step of 257 bytes: at most 256 are kept",
	}
	for i, w := range want {
		got, _ := fxCrumb(t, &f.Records[i], StageGoals).Data["refused"].([]string)
		if len(got) != 1 || got[0] != w {
			t.Errorf("record %d refused %q, want %q", i, got, w)
		}
	}
	fxEqual(t, "goal events", glMoves(f), []string{"launch:->active"})
	for i := 7; i < 10; i++ {
		if slices.ContainsFunc(f.Records[i].Result.Trace, func(c schemas.Crumb) bool { return c.Stage == StageGoals }) {
			t.Errorf("record %d got a goals crumb", i)
		}
	}
}

// TestGoalsStateSurvivesARestart: an instance restored from a snapshot
// taken after each frame goes on exactly as the one that never stopped,
// and a second run of the same frames makes the same events.
func TestGoalsStateSurvivesARestart(t *testing.T) {
	frames := func() []*Frame {
		pl := func(st ...string) schemas.Payload {
			return glPlan("launch", []string{"build", "test", "ship"}, st, []float64{0.1, 0.1, 0.1})
		}
		return []*Frame{
			glFrame(0, glRec{glyph: "g", in: schemas.Payload{"priority": "P0"}, plan: pl("pending", "pending", "pending"), outcome: OutcomeDeny, reasons: []string{"no consent"}}),
			glFrame(1, glRec{glyph: "g", plan: pl("active", "pending", "pending"), outcome: OutcomeAllow},
				glRec{glyph: "h", plan: glPlan("other", nil, []string{"pending"}, []float64{0}), outcome: OutcomeAllow}),
			glFrame(2, glRec{glyph: "g", plan: pl("done", "active", "pending"), outcome: OutcomeAllow}),
			glFrame(3, glRec{glyph: "g", plan: pl("done", "done", "done"), outcome: OutcomeAllow}),
		}
	}
	whole := newGoals(t)
	var want [][]schemas.Event
	for _, f := range frames() {
		want = append(want, glRun(t, whole, f).Events)
	}
	total := 0
	for _, evs := range want {
		total += len(evs)
	}
	fxEqual(t, "goal events of the uninterrupted run", total, 12)
	again := newGoals(t)
	for i, f := range frames() {
		fxEqual(t, "second run's events", glRun(t, again, f).Events, want[i])
	}
	for k := 1; k < 4; k++ {
		first := newGoals(t)
		fs := frames()
		for _, f := range fs[:k] {
			glRun(t, first, f)
		}
		snap, err := first.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restarted := newGoals(t)
		if err := restarted.Restore(snap); err != nil {
			t.Fatal(err)
		}
		for i, f := range fs[k:] {
			fxEqual(t, "events after a restart", glRun(t, restarted, f).Events, want[k+i])
		}
		fxEqual(t, "goals after a restart", restarted.List("g"), whole.List("g"))
		fxEqual(t, "open goals after a restart", [2]int{restarted.Stats().Goals, restarted.Stats().Open}, [2]int{5, 1})
	}
}

// TestGoalsRestoreFitsAndRefuses: a snapshot of more goals or deeper trees
// than this instance keeps is fitted, never keeping a goal without its
// parent; a snapshot that is not a forest of valid goals is refused.
func TestGoalsRestoreFitsAndRefuses(t *testing.T) {
	big := newGoals(t)
	glRun(t, big, glFrame(0,
		glRec{glyph: "g", plan: glPlan("a", []string{"b", "c"}, []string{"pending", "pending"}, []float64{0, 0}), outcome: OutcomeAllow},
		glRec{glyph: "g", plan: glPlan("b", []string{"d"}, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
		glRec{glyph: "h", plan: glPlan("e", nil, []string{"pending"}, []float64{0}), outcome: OutcomeAllow},
	))
	snap, _ := big.Snapshot()
	small := newGoals(t, GoalsMaxGoals(3), GoalsMaxDepth(2))
	if err := small.Restore(snap); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, glyph := range []string{"g", "h"} {
		for _, v := range small.List(glyph) {
			kept = append(kept, v.Name)
		}
	}
	fxEqual(t, "kept", kept, []string{"a", "b", "e"})

	good := string(snap)
	bad := map[string]string{
		"unknown parent": strings.Replace(good, `"parent":"b"`, `"parent":"zz"`, 1),
		"own parent":     strings.Replace(good, `"name":"d","parent":"b"`, `"name":"d","parent":"d"`, 1),
		"cycle":          strings.Replace(strings.Replace(good, `"name":"a",`, `"name":"a","parent":"d",`, 1), `"name":"d","parent":"b"`, `"name":"d","parent":"a"`, 1),
		"status":         strings.Replace(good, `"status":"active"`, `"status":"asleep"`, 1),
		"priority":       strings.Replace(good, `"priority":"P3"`, `"priority":"P7"`, 1),
		"order":          strings.Replace(good, `"next":5`, `"next":2`, 1),
		"twice":          strings.Replace(good, `"name":"c"`, `"name":"b"`, 1),
		"lane":           strings.Replace(good, `"lane":"prod"`, `"lane":"moon"`, 1),
		"progress":       strings.Replace(good, `"progress":0`, `"progress":2`, 1),
		"max_risk":       strings.Replace(good, `"max_risk":1`, `"max_risk":-1`, 1),
		"no name":        strings.Replace(good, `"name":"e"`, `"name":""`, 1),
		"long name":      strings.Replace(good, `"name":"e"`, `"name":"`+strings.Repeat("e", GoalMaxName+1)+`"`, 1),
		"long reason":    strings.Replace(good, `"reason":"the guardian allowed the plan"`, `"reason":"`+strings.Repeat("r", goalMaxReason+1)+`"`, 1),
	}
	for what, b := range bad {
		if b == good {
			t.Fatalf("%s: the bad snapshot is the good one", what)
		}
		if err := small.Restore([]byte(b)); !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrSnapshot", what, err)
		}
	}
	fxEqual(t, "state after refusals", len(small.List("g")), 2)
}

// TestGoalsOptions: every option out of range is refused with an
// OptionError naming it; the edges are accepted.
func TestGoalsOptions(t *testing.T) {
	for _, c := range []struct {
		opt    GoalsOption
		option string
	}{
		{GoalsNode(""), "GoalsNode"}, {GoalsMaxGoals(0), "GoalsMaxGoals"}, {GoalsMaxDepth(0), "GoalsMaxDepth"},
		{GoalsMaxDepth(GoalsMaxDepthLimit + 1), "GoalsMaxDepth"}, {GoalsMaxRisk(1.5), "GoalsMaxRisk"}, {GoalsMaxRisk(-0.1), "GoalsMaxRisk"},
	} {
		_, err := NewGoals(c.opt)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option || !errors.Is(err, ErrGoalsConfig) {
			t.Errorf("%s: NewGoals = %v, want an OptionError for it wrapping ErrGoalsConfig", c.option, err)
		}
	}
	if _, err := NewGoals(GoalsMaxGoals(1), GoalsMaxDepth(1), GoalsMaxDepth(GoalsMaxDepthLimit), GoalsMaxRisk(0), GoalsNode("planner")); err != nil {
		t.Fatal(err)
	}
}

// TestGoalsFramesOfOneLane: the instance works the lane of its first
// frame and refuses another's; a cancelled context stops it mid-frame.
func TestGoalsFramesOfOneLane(t *testing.T) {
	g := newGoals(t)
	glRun(t, g, glFrame(0))
	other := fxFrame(schemas.LaneCandidate, 0, 1)
	if err := g.Process(context.Background(), other); !errors.Is(err, ErrPartitionLane) {
		t.Fatalf("a candidate frame: %v, want ErrPartitionLane", err)
	}
	var recs []glRec
	for i := range recordsPerCtxCheck + 1 {
		recs = append(recs, glRec{glyph: "g", plan: glPlan(fxID(i), nil, []string{"pending"}, []float64{0}), outcome: OutcomeAllow})
	}
	// The context ends after the stage's first look at it.
	err := g.Process(&endsAfter{Context: context.Background(), looks: 1}, glFrame(2, recs...))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped at record 64") {
		t.Fatalf("context ended during the frame: %v", err)
	}
	if n := len(g.List("g")); n != recordsPerCtxCheck {
		t.Fatalf("%d goals, want the %d records' before the stop", n, recordsPerCtxCheck)
	}
}
