package stages

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/matriz/pipelines/schemas"
)

// Goals is the Goal Manager: it keeps each glyph's goal tree and runs the
// plan → act → evaluate loop over the orchestration node's plans and the
// guardian's decisions on them. It runs last, after the guardian.
//
// A record is the stage's when it is live and its result is the node's
// (Node, default DefaultGoalsNode) plan: a payload whose event_kind is
// "reward" (see stages/adapters.Orchestration) with goal, steps,
// step_status, step_risk, goal_status, risk and next_step. For each:
//
//   - plan: the plan's goal becomes a goal of the glyph (made proposed when
//     new, a root unless a plan of another goal lists it as a step), and
//     each step other than the goal itself becomes its subgoal. A goal is
//     the glyph and the goal's name. Its priority is the input's payload
//     `priority` (P0, the most important, to P3; without one a new goal is
//     P3 and an old one keeps its own); a subgoal is made with its
//     parent's. Its constraint max_risk is the input's `max_risk`, else the
//     parent's, else the spec's; a later plan may lower it, never raise
//     it. A step that is already a root goal of the glyph is adopted as a
//     subgoal (not when that makes a cycle or a tree deeper than MaxDepth);
//     a step under another parent stays there and is refused here;
//   - constraints: a plan whose risk (of the steps not done) is above the
//     goal's max_risk fails the goal, and a step whose own risk is above
//     its subgoal's max_risk fails the subgoal, whatever the guardian said;
//   - act: the guardian's verdict on the record decides. deny blocks the
//     goal with the guardian's reasons (a later allowed plan unblocks it);
//     allow or executed acts: the goal becomes active, and so does the
//     node's next_step when it is a proposed subgoal; dry_run, pending,
//     uncertain or no verdict at all acts on nothing (new goals stay
//     proposed);
//   - evaluate, when the plan was acted on: a subgoal without subgoals of
//     its own takes its status from step_status (done → done, blocked →
//     blocked, active → active, pending unblocks a blocked one); a goal
//     with subgoals is done when every subgoal is settled, and fails when
//     one as important as it (or more) fails: a failed subgoal of a lower
//     priority (a larger P number) counts as settled, so a nice-to-have
//     does not sink its goal. This moves up the tree. A goal without
//     subgoals takes the node's goal_status (done, blocked with "every
//     remaining step is blocked", else active).
//
// Done and failed are final: a plan for a final goal changes nothing.
// Subgoals are never removed: a plan that no longer needs a step marks it
// done. Progress is the share of a goal's subgoals done (a goal without
// any: 1 when done, else 0).
//
// Every change of a goal's status, priority or parent, and every goal made,
// is one goal event, in the order the goals reached what the events say (kind schemas.EventGoal, at the message's event time,
// id DerivedID(msg_id, "goals", goal name, "goal")): at most one per goal
// per record, from the status before the record to the one after, with
// payload goal, parent, from ("" for a new goal), to, reason, priority,
// progress, order (creation order in the partition), depth and max_risk.
// The order goals are listed and acted on is priority, then creation
// order: P0 before P1, ties by which came first (Next, List).
//
// A "goals" crumb goes on the result of every record the stage planned
// from or refused: {"goal", "status" (after the record), "changes" (goal
// events made), "next_goal" (the glyph's goal to act on next, "" when none
// is open), "refused" (what it did not take, when anything)}. Other
// records get no crumb.
//
// State is bounded: at most MaxGoals goals per partition, each name at
// most GoalMaxName bytes. Past the bound a new goal or subgoal is refused:
// named under "refused" on the crumb and counted (GoalsStats.Refused),
// never dropped silently. Nothing is forgotten: goals are state, not a
// cache.
//
// A Goals is one partition's trees (make one per partition, see Factory;
// it works one lane, see ErrPartitionLane). Snapshot and Restore write and
// read them in the snapshot encoding (goalsstate.go).
type Goals struct {
	cfg     goalsConfig
	bind    laneBinding
	t       goalTree
	changes atomic.Uint64
	refused atomic.Uint64
}

// StageGoals names the goals stage on its crumbs, events and state.
const StageGoals = "goals"

const (
	// DefaultGoalsNode is the node whose plans drive the goals: the
	// orchestration node (stages/adapters.NameOrchestration; a test there
	// checks the two agree).
	DefaultGoalsNode = "orchestration"
	// DefaultGoalsMaxGoals is how many goals one partition keeps by
	// default: at GoalMaxName bytes a name, a few MB at worst.
	DefaultGoalsMaxGoals = 10_000
	// DefaultGoalsMaxDepth is how many levels a goal tree has at most by
	// default.
	DefaultGoalsMaxDepth = 4
	// GoalsMaxDepthLimit is the deepest tree MaxDepth allows.
	GoalsMaxDepthLimit = 64
	// DefaultGoalPriority is the priority of a new goal whose input names
	// none: it waits behind every goal that does.
	DefaultGoalPriority = P3
)

// Payload keys of the node's plan and of the input the stage reads.
const (
	goalKeyGoal       = "goal"
	goalKeySteps      = "steps"
	goalKeyStepStatus = "step_status"
	goalKeyStepRisk   = "step_risk"
	goalKeyStatus     = "goal_status"
	goalKeyRisk       = "risk"
	goalKeyNextStep   = "next_step"
	goalKeyPriority   = "priority"
	goalKeyMaxRisk    = "max_risk"
)

type goalsConfig struct {
	node     string
	maxGoals int
	maxDepth int
	maxRisk  float64
}

// GoalsOption configures NewGoals.
type GoalsOption func(*goalsConfig)

// GoalsNode sets the node whose plans drive the goals (default
// DefaultGoalsNode).
func GoalsNode(name string) GoalsOption { return func(c *goalsConfig) { c.node = name } }

// GoalsMaxGoals bounds the goals one partition keeps (default
// DefaultGoalsMaxGoals, at least 1): past it, new goals are refused.
func GoalsMaxGoals(n int) GoalsOption { return func(c *goalsConfig) { c.maxGoals = n } }

// GoalsMaxDepth bounds the levels of a goal tree, a root being level 1
// (default DefaultGoalsMaxDepth, 1..GoalsMaxDepthLimit): a subgoal below
// it is refused.
func GoalsMaxDepth(n int) GoalsOption { return func(c *goalsConfig) { c.maxDepth = n } }

// GoalsMaxRisk sets the max_risk constraint of a goal whose input names
// none (default 1: only the guardian's max_risk applies).
func GoalsMaxRisk(v float64) GoalsOption { return func(c *goalsConfig) { c.maxRisk = v } }

func (c *goalsConfig) validate() error {
	bad := func(option string, v any, want string) error {
		return &OptionError{Stage: StageGoals, Option: option, Value: v, Want: want, Err: ErrGoalsConfig}
	}
	switch {
	case c.node == "":
		return bad("GoalsNode", `""`, "the name of the node whose plans drive the goals (orchestration)")
	case c.maxGoals < 1:
		return bad("GoalsMaxGoals", c.maxGoals, ">= 1")
	case c.maxDepth < 1 || c.maxDepth > GoalsMaxDepthLimit:
		return bad("GoalsMaxDepth", c.maxDepth, fmt.Sprintf("1..%d", GoalsMaxDepthLimit))
	case !(c.maxRisk >= 0 && c.maxRisk <= 1):
		return bad("GoalsMaxRisk", c.maxRisk, "a number in [0, 1]")
	}
	return nil
}

// NewGoals returns one partition's Goal Manager with the defaults (node
// orchestration, 10,000 goals, 4 levels, max_risk 1) changed by opts.
func NewGoals(opts ...GoalsOption) (*Goals, error) {
	cfg := goalsConfig{node: DefaultGoalsNode, maxGoals: DefaultGoalsMaxGoals, maxDepth: DefaultGoalsMaxDepth, maxRisk: 1}
	if err := configure(&cfg, opts, (*goalsConfig).validate); err != nil {
		return nil, err
	}
	return &Goals{cfg: cfg, t: newGoalTree()}, nil
}

// Name returns "goals".
func (g *Goals) Name() string { return StageGoals }

// Process plans, acts and evaluates over f's records in order. It looks at
// ctx every recordsPerCtxCheck records: a frame stopped half way leaves
// state the runtime drops with the partition's claim.
func (g *Goals) Process(ctx context.Context, f *Frame) error {
	if err := g.bind.admit(ctx, StageGoals, f); err != nil {
		return err
	}
	for i := range f.Records {
		if i > 0 && i%recordsPerCtxCheck == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("goals: frame %d partition %d stopped at record %d: %w", f.Seq, f.Partition, i, err)
			}
		}
		r := &f.Records[i]
		if !r.Live() || r.Msg == nil || r.Result == nil || r.Result.Node != g.cfg.node {
			continue
		}
		if kind, _ := r.Result.Payload.String(NodeEventKey); kind != string(schemas.EventReward) {
			continue
		}
		g.record(f, r)
	}
	return nil
}

// plan is the node's plan on one record, read and checked.
type plan struct {
	goal       string
	steps      []string
	stepStatus []string
	stepRisk   []float64
	status     string
	risk       float64
	nextStep   string
}

// readPlan reads the node's plan, or says why it cannot.
func readPlan(p schemas.Payload) (plan, string) {
	var pl plan
	var ok bool
	if pl.goal, ok = p.String(goalKeyGoal); !ok || pl.goal == "" {
		return pl, "the plan names no goal"
	}
	pl.steps, _ = p.Strings(goalKeySteps)
	pl.stepStatus, _ = p.Strings(goalKeyStepStatus)
	pl.stepRisk, _ = p.Vector(goalKeyStepRisk)
	if len(pl.steps) == 0 || len(pl.stepStatus) != len(pl.steps) || len(pl.stepRisk) != len(pl.steps) {
		return pl, fmt.Sprintf("the plan has %d steps, %d step statuses and %d step risks; want as many of each, at least one",
			len(pl.steps), len(pl.stepStatus), len(pl.stepRisk))
	}
	pl.status, _ = p.String(goalKeyStatus)
	pl.risk, _ = p.Float(goalKeyRisk)
	pl.nextStep, _ = p.String(goalKeyNextStep)
	return pl, ""
}

// change is what one record did to one goal, for its event.
type change struct {
	g      *Goal
	from   GoalStatus // "" for a goal the record made
	prio   Priority
	parent string
	last   int // when the record last changed the goal, to order the events
}

// recordRun collects one record's changes to goals.
type recordRun struct {
	t       *goalTree
	order   []*change
	byGoal  map[*Goal]*change
	steps   int
	refused []string
}

// touch notes g as changed by the record, remembering what it was before
// the record's first change.
func (rr *recordRun) touch(g *Goal, made bool) *change {
	c, ok := rr.byGoal[g]
	if !ok {
		c = &change{g: g, from: g.Status, prio: g.Priority, parent: g.Parent}
		if made {
			c.from = ""
		}
		rr.byGoal[g] = c
		rr.order = append(rr.order, c)
	}
	rr.steps++
	c.last = rr.steps
	return c
}

// set moves g to status s for reason, unless g is final.
func (rr *recordRun) set(g *Goal, s GoalStatus, reason string) {
	if g.Status.Final() || g.Status == s {
		return
	}
	rr.touch(g, false)
	rr.t.setStatus(g, s)
	g.Reason = clip(reason, goalMaxReason)
	if g.Status == GoalDone && len(g.children) == 0 {
		g.Progress = 1
	}
}

func (rr *recordRun) refuse(format string, args ...any) {
	rr.refused = append(rr.refused, fmt.Sprintf(format, args...))
}

// record runs plan → act → evaluate for one record of the node's.
func (g *Goals) record(f *Frame, r *Record) {
	rr := &recordRun{t: &g.t, byGoal: make(map[*Goal]*change)}
	pl, why := readPlan(r.Result.Payload)
	var target *Goal
	if why == "" {
		target = g.plan(r, pl, rr)
	} else {
		rr.refuse("%s", why)
	}
	if target != nil {
		g.act(r, pl, target, rr)
	}
	g.emit(f, r, pl.goal, target, rr)
}

// plan makes or updates the plan's goal and its subgoals, and applies the
// constraints; it returns the goal, or nil when it refused it.
func (g *Goals) plan(r *Record, pl plan, rr *recordRun) *Goal {
	glyph, in := r.Msg.Glyph.ID, r.Msg.Payload
	var prio Priority
	if s, ok := in[goalKeyPriority]; ok && s != nil {
		p, err := parsePriorityValue(s)
		if err != nil {
			rr.refuse("input %v; the goal is not planned", err)
			return nil
		}
		prio = p
	}
	maxRisk, hasMax := in.Float(goalKeyMaxRisk)
	if v, ok := in[goalKeyMaxRisk]; ok && v != nil && (!hasMax || maxRisk < 0 || maxRisk > 1) {
		rr.refuse("input max_risk %v: want a number in [0, 1]; the goal is not planned", v)
		return nil
	}
	if len(pl.goal) > GoalMaxName {
		rr.refuse("goal name of %d bytes: at most %d are kept; the goal is not planned", len(pl.goal), GoalMaxName)
		return nil
	}
	t := g.t.get(glyph, pl.goal)
	switch {
	case t == nil && len(g.t.goals) >= g.cfg.maxGoals:
		g.refused.Add(1)
		rr.refuse("goal %q: the partition holds max_goals (%d) goals; a new goal is not planned", pl.goal, g.cfg.maxGoals)
		return nil
	case t == nil:
		p, risk := prio, g.cfg.maxRisk
		if p == "" {
			p = DefaultGoalPriority
		}
		if hasMax {
			risk = maxRisk
		}
		t = g.t.add(glyph, pl.goal, nil, p, risk)
		rr.touch(t, true)
	case t.Status.Final():
		rr.refuse("goal %q is %s, which is final; the plan changes nothing", t.Name, t.Status)
		return t
	default:
		rr.touch(t, false)
		if prio != "" {
			t.Priority = prio
		}
		if hasMax && maxRisk < t.MaxRisk {
			t.MaxRisk = maxRisk
		}
	}
	if len(pl.steps) > 1 || pl.steps[0] != pl.goal {
		for i, step := range pl.steps {
			g.step(t, step, pl.stepRisk[i], pl.stepStatus[i], rr)
		}
	}
	if pl.risk > t.MaxRisk {
		rr.set(t, GoalFailed, fmt.Sprintf("plan risk %v exceeds the goal's max_risk %v", pl.risk, t.MaxRisk))
	}
	return t
}

// step makes or finds subgoal name of t and checks its risk.
func (g *Goals) step(t *Goal, name string, risk float64, status string, rr *recordRun) {
	c := g.t.get(t.Glyph, name)
	switch {
	case name == t.Name:
		rr.refuse("step %q: a goal is not its own subgoal", name)
		return
	case len(name) > GoalMaxName:
		rr.refuse("step of %d bytes: at most %d are kept", len(name), GoalMaxName)
		return
	case c != nil && c.Parent == t.Name:
	case c != nil && c.Parent != "":
		rr.refuse("step %q is a subgoal of %q; it stays there", name, c.Parent)
		return
	case c != nil && g.t.isAncestor(c, t):
		rr.refuse("step %q is above %q in its tree; adopting it would make a cycle", name, t.Name)
		return
	case c != nil && t.Depth+height(c) > g.cfg.maxDepth:
		rr.refuse("step %q: adopting it would make the tree %d levels deep, past max_depth %d", name, t.Depth+height(c), g.cfg.maxDepth)
		return
	case c != nil:
		rr.touch(c, false)
		g.t.attach(c, t)
	case t.Depth+1 > g.cfg.maxDepth:
		rr.refuse("step %q would be level %d, past max_depth %d", name, t.Depth+1, g.cfg.maxDepth)
		return
	case len(g.t.goals) >= g.cfg.maxGoals:
		g.refused.Add(1)
		rr.refuse("step %q: the partition holds max_goals (%d) goals; a new subgoal is not planned", name, g.cfg.maxGoals)
		return
	default:
		c = g.t.add(t.Glyph, name, t, t.Priority, t.MaxRisk)
		rr.touch(c, true)
	}
	if status != "done" && risk > c.MaxRisk {
		rr.set(c, GoalFailed, fmt.Sprintf("step risk %v exceeds the subgoal's max_risk %v", risk, c.MaxRisk))
	}
}

// act applies the guardian's verdict on the record to t, then evaluates
// t and the goals above it.
func (g *Goals) act(r *Record, pl plan, t *Goal, rr *recordRun) {
	defer g.t.evaluate(t, rr.set)
	if t.Status.Final() {
		return
	}
	var outcome Outcome
	if r.Verdict != nil {
		outcome = r.Verdict.Outcome
	}
	switch outcome {
	case OutcomeDeny:
		rr.set(t, GoalBlocked, "guardian: "+strings.Join(r.Verdict.Reasons, "; "))
		return
	case OutcomeAllow, OutcomeExecuted:
	default:
		if outcome == "" {
			outcome = "none"
		}
		rr.refuse("guardian outcome %s: the plan is not acted on", outcome)
		return
	}
	rr.set(t, GoalActive, "the guardian allowed the plan")
	for i, name := range pl.steps {
		c := g.t.get(t.Glyph, name)
		if c == nil || c.Parent != t.Name || len(c.children) > 0 {
			continue
		}
		switch pl.stepStatus[i] {
		case "done":
			rr.set(c, GoalDone, "done in the plan of "+t.Name)
		case "blocked":
			rr.set(c, GoalBlocked, "blocked in the plan of "+t.Name)
		case "active":
			rr.set(c, GoalActive, "active in the plan of "+t.Name)
		case "pending":
			if c.Status == GoalBlocked {
				rr.set(c, GoalProposed, "pending again in the plan of "+t.Name)
			}
		}
		if name == pl.nextStep && c.Status == GoalProposed {
			rr.set(c, GoalActive, "the next step of "+t.Name)
		}
	}
	switch {
	case pl.status == "blocked":
		rr.set(t, GoalBlocked, "every remaining step is blocked")
	case pl.status == "done" && len(t.children) == 0:
		rr.set(t, GoalDone, "the plan is done")
	}
}

// emit writes the record's goal events and its crumb.
func (g *Goals) emit(f *Frame, r *Record, name string, t *Goal, rr *recordRun) {
	m := r.Msg
	events := 0
	// In the order the goals reached what their events say: a subgoal's
	// completion before the goal it completes.
	slices.SortFunc(rr.order, func(a, b *change) int { return cmp.Compare(a.last, b.last) })
	for _, c := range rr.order {
		x := c.g
		if c.from == x.Status && c.prio == x.Priority && c.parent == x.Parent {
			continue
		}
		events++
		f.Events = append(f.Events, schemas.Event{
			ID:      DerivedID(m.MsgID, StageGoals, x.Name, string(schemas.EventGoal)),
			TS:      m.TS,
			Kind:    schemas.EventGoal,
			Lane:    f.Lane,
			GlyphID: m.Glyph.ID,
			MsgID:   m.MsgID,
			Stage:   StageGoals,
			Payload: schemas.Payload{
				"goal": x.Name, "parent": x.Parent, "from": string(c.from), "to": string(x.Status), "reason": x.Reason,
				"priority": string(x.Priority), "progress": x.Progress, "order": x.Order, "depth": int64(x.Depth), "max_risk": x.MaxRisk,
			},
		})
	}
	g.changes.Add(uint64(events))
	data := schemas.Payload{"goal": name, "changes": int64(events), "next_goal": ""}
	if t != nil {
		data["status"] = string(t.Status)
	}
	if n := g.t.nextOpen(m.Glyph.ID); n != nil {
		data["next_goal"] = n.Name
	}
	if len(rr.refused) > 0 {
		data["refused"] = rr.refused
	}
	r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: StageGoals, T: m.TS, Data: data})
}

// parsePriorityValue reads a payload priority: a string P0..P3.
func parsePriorityValue(v any) (Priority, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("priority is %T, want a string P0..P3", v)
	}
	return ParsePriority(s)
}

// GoalView is one goal as Next and List show it.
type GoalView struct {
	Glyph, Name, Parent string
	Priority            Priority
	Status              GoalStatus
	Progress, MaxRisk   float64
	Order               int64
	Depth               int
	Reason              string
	Subgoals            []string // by creation order
}

func view(x *Goal) GoalView {
	v := GoalView{Glyph: x.Glyph, Name: x.Name, Parent: x.Parent, Priority: x.Priority, Status: x.Status,
		Progress: x.Progress, MaxRisk: x.MaxRisk, Order: x.Order, Depth: x.Depth, Reason: x.Reason}
	for _, c := range x.children {
		v.Subgoals = append(v.Subgoals, c.Name)
	}
	return v
}

// List returns glyph's goals in priority order: P0 first, ties by
// creation order.
func (g *Goals) List(glyph string) []GoalView {
	var out []GoalView
	for _, x := range g.t.ranked(glyph) {
		out = append(out, view(x))
	}
	return out
}

// Next returns glyph's goal to act on next: the first proposed or active
// goal in List's order.
func (g *Goals) Next(glyph string) (GoalView, bool) {
	if x := g.t.nextOpen(glyph); x != nil {
		return view(x), true
	}
	return GoalView{}, false
}

// GoalsStats are one partition's goal figures.
type GoalsStats struct {
	// Lane is the lane the instance works, empty before its first frame;
	// Partition that of the last frame it processed.
	Lane      schemas.Lane
	Partition int32
	// Goals is how many goals the partition holds, Open how many of them
	// are proposed or active.
	Goals, Open int
	// Changes counts goal events, and Refused goals and subgoals refused
	// at max_goals, since the instance was made (process-local, not
	// restored).
	Changes, Refused uint64
}

// Stats returns this partition's figures. It takes no lock: the runtime
// reads it on the partition's goroutine, between frames.
func (g *Goals) Stats() GoalsStats {
	return GoalsStats{Lane: g.bind.lane, Partition: g.bind.partition, Goals: len(g.t.goals), Open: g.t.open,
		Changes: g.changes.Load(), Refused: g.refused.Load()}
}
