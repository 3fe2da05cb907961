package adapters

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Orchestration is the Goal Manager: it expands a goal into plan steps
// (its subgoals), rates each step's expected value and risk, applies the
// requested status transitions, and says which step to work on next and
// how much value and risk the remaining plan carries. The plan's risk is a
// canonical key, so the guardian's max_risk applies to plans too.
//
// Payload in:
//
//	goal         string, required
//	subgoals     array<string>, optional, distinct: the steps (the goal
//	             itself is the one step when there are none); deeper trees
//	             are planned by sending a subgoal as its own goal
//	values       array<double>, required, one per step: the value of
//	             finishing the step
//	risks        array<double> in [0,1], required, one per step: the chance
//	             the step fails
//	status       array<string>, optional, one per step: pending, active,
//	             done or blocked (default all pending)
//	next_status  array<string>, optional, one per step: the statuses
//	             requested now; a step whose entry equals its status stays
//
// Allowed transitions: pending → active, blocked; active → done, blocked,
// pending; blocked → pending, active; done is final. Any other transition
// makes the result not OK with a reason naming the step.
//
// For each step, ev = value·(1 - risk). Over the steps not done:
// expected_value = Σ ev and risk = 1 - Π(1 - riskᵢ), the chance that at
// least one remaining step fails (steps taken as independent). next_step
// is the active step with the highest ev, else the pending one (ties: the
// first), else "". goal_status is done when every step is, else active
// when any step is, else pending when any step is, else blocked. reward =
// Σ ev over the steps done: the value the plan has realised so far.
//
// Payload out: event_kind ("reward"), goal, goal_status, steps,
// step_status, step_value, step_risk, step_ev, transitions ("step:
// from->to"), next_step, expected_value, risk, progress (done / steps),
// reward. event_kind (stages.NodeEventKey) makes the adapter stage write a
// reward event for every OK result it dispatched here.
type Orchestration struct{}

// Name returns "orchestration".
func (Orchestration) Name() string { return NameOrchestration }

// Version returns the node's version.
func (Orchestration) Version() string { return "1.0.0" }

// Plan step statuses.
const (
	StatusPending = "pending"
	StatusActive  = "active"
	StatusDone    = "done"
	StatusBlocked = "blocked"
)

var transitions = map[string][]string{
	StatusPending: {StatusActive, StatusBlocked},
	StatusActive:  {StatusDone, StatusBlocked, StatusPending},
	StatusBlocked: {StatusPending, StatusActive},
	StatusDone:    {},
}

// ValidTransition reports whether a plan step may go from one status to
// another (staying put is always valid for a known status).
func ValidTransition(from, to string) bool {
	next, ok := transitions[from]
	if !ok {
		return false
	}
	return from == to || slices.Contains(next, to)
}

// Handle expands msg's goal into a plan.
func (o Orchestration) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameOrchestration); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameOrchestration, o.Version()), nil
	}
	in := newInput(NameOrchestration, msg)
	goal, okGoal := in.text("goal", true)
	steps := []string{goal}
	if subs, ok := in.texts("subgoals", false, false); ok {
		steps = subs
		for i, s := range subs {
			if slices.Index(subs, s) != i {
				in.problem("payload.subgoals: %q listed twice; want distinct subgoals", s)
			}
		}
	} else if in.has("subgoals") || !okGoal {
		return refuse(msg, NameOrchestration, o.Version(), in.reasons), nil
	}
	n := len(steps)
	values, okV := in.vector("values", true)
	if okV {
		in.sameLength("values", len(values), "subgoals (or the goal)", n)
	}
	risks, okR := in.vector("risks", true)
	if okR && in.sameLength("risks", len(risks), "subgoals (or the goal)", n) {
		for i, r := range risks {
			if r < 0 || r > 1 {
				in.problem("payload.risks[%d] (%s): %v; want a probability in [0, 1]", i, steps[i], r)
			}
		}
	}
	status := o.statuses(in, "status", steps)
	next := status
	if in.has("next_status") {
		next = o.statuses(in, "next_status", steps)
	}
	if !in.ok() {
		return refuse(msg, NameOrchestration, o.Version(), in.reasons), nil
	}
	moves := []string{}
	for i := range steps {
		if status[i] == next[i] {
			continue
		}
		if !ValidTransition(status[i], next[i]) {
			allowed := strings.Join(transitions[status[i]], ", ")
			if allowed == "" {
				allowed = "none, done is final"
			}
			in.problem("step %q: transition %s -> %s is not allowed; allowed from %s: %s", steps[i], status[i], next[i], status[i], allowed)
			continue
		}
		moves = append(moves, steps[i]+": "+status[i]+"->"+next[i])
	}
	if !in.ok() {
		return refuse(msg, NameOrchestration, o.Version(), in.reasons), nil
	}

	ev := make([]float64, n)
	var remainingEV, doneEV, survive float64 = 0, 0, 1
	var done int
	nextStep, nextRank, bestEV := "", 0, math.Inf(-1)
	var active, pending int
	for i := range steps {
		ev[i] = values[i] * (1 - risks[i])
		switch next[i] {
		case StatusActive:
			active++
		case StatusPending:
			pending++
		}
		if next[i] == StatusDone {
			done++
			doneEV += ev[i]
			continue
		}
		remainingEV += ev[i]
		survive *= 1 - risks[i]
		rank := 0 // blocked steps are never next
		switch next[i] {
		case StatusActive:
			rank = 2
		case StatusPending:
			rank = 1
		}
		if rank > 0 && (rank > nextRank || rank == nextRank && ev[i] > bestEV) {
			nextStep, nextRank, bestEV = steps[i], rank, ev[i]
		}
	}
	goalStatus := StatusBlocked
	switch {
	case done == n:
		goalStatus = StatusDone
	case active > 0:
		goalStatus = StatusActive
	case pending > 0:
		goalStatus = StatusPending
	}
	evTotal, risk, progress := round9(remainingEV), round9(1-survive), round9(float64(done)/float64(n))
	out := schemas.Payload{
		stages.NodeEventKey: string(schemas.EventReward),
		"goal":              goal,
		"goal_status":       goalStatus,
		"steps":             slices.Clone(steps),
		"step_status":       slices.Clone(next),
		"step_value":        round9s(values),
		"step_risk":         round9s(risks),
		"step_ev":           round9s(ev),
		"transitions":       moves,
		"next_step":         nextStep,
		"expected_value":    evTotal,
		"risk":              risk,
		"progress":          progress,
		"reward":            round9(doneEV),
	}
	data := schemas.Payload{"goal_status": goalStatus, "next_step": nextStep, "expected_value": evTotal, "risk": risk, "progress": progress}
	return answer(msg, NameOrchestration, o.Version(), nil, out, data), nil
}

// statuses reads a status list for steps (all pending when absent).
func (Orchestration) statuses(in *input, key string, steps []string) []string {
	list, ok := in.texts(key, false, false)
	if !ok {
		out := make([]string, len(steps))
		for i := range out {
			out[i] = StatusPending
		}
		return out
	}
	if !in.sameLength(key, len(list), "subgoals (or the goal)", len(steps)) {
		return nil
	}
	for i, s := range list {
		if _, known := transitions[s]; !known {
			in.problem("payload.%s[%d] (%s): unknown status %q; want pending, active, done or blocked", key, i, steps[i], s)
		}
	}
	return list
}
