package stages

// The goals stage's state in the snapshot encoding (snapshot.go):
//
//	{"lane":"prod","next":3,"goals":[
//	  {"glyph":"g-1","name":"launch","priority":"P1","status":"active","progress":0.5,"max_risk":1,"order":0},
//	  {"glyph":"g-1","name":"build","parent":"launch","priority":"P1","status":"done","progress":1,"max_risk":1,"order":1,"reason":"done in the plan of launch"}]}
//
// Goals are listed by order, the creation order; next is the order the
// next goal gets. Depth and subgoals are not written: the parents say
// them. The envelope's format is the version: a change an older reader
// would misread is a new format (see snapshot.go).

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/matriz/pipelines/schemas"
)

type goalJSON struct {
	Glyph    string     `json:"glyph"`
	Name     string     `json:"name"`
	Parent   string     `json:"parent,omitempty"`
	Priority Priority   `json:"priority"`
	Status   GoalStatus `json:"status"`
	Progress float64    `json:"progress"`
	MaxRisk  float64    `json:"max_risk"`
	Order    int64      `json:"order"`
	Reason   string     `json:"reason,omitempty"`
}

type goalsSnapshot struct {
	Lane  schemas.Lane `json:"lane"`
	Next  int64        `json:"next"`
	Goals []goalJSON   `json:"goals"`
}

// Snapshot returns the partition's goal trees, or nil before the first
// frame; Restore accepts nil as "start empty".
func (g *Goals) Snapshot() ([]byte, error) {
	if g.bind.lane == "" {
		return nil, nil
	}
	s := goalsSnapshot{Lane: g.bind.lane, Next: g.t.next, Goals: make([]goalJSON, 0, len(g.t.goals))}
	for _, x := range g.t.goals {
		s.Goals = append(s.Goals, goalJSON{Glyph: x.Glyph, Name: x.Name, Parent: x.Parent, Priority: x.Priority, Status: x.Status,
			Progress: x.Progress, MaxRisk: x.MaxRisk, Order: x.Order, Reason: x.Reason})
	}
	slices.SortFunc(s.Goals, func(a, b goalJSON) int { return cmp.Compare(a.Order, b.Order) })
	return encodeSnapshot(StageGoals, s)
}

// Restore replaces the partition's goal trees with a snapshot, or resets
// them when state is empty. A snapshot written under a larger max_goals or
// max_depth is fitted to this one: goals deeper than MaxDepth are left
// out, then past MaxGoals those made last, level by level, so a goal is
// never kept without its parent. A refused snapshot changes nothing.
func (g *Goals) Restore(state []byte) error {
	if len(state) == 0 {
		g.bind.lane, g.t = "", newGoalTree()
		return nil
	}
	var s goalsSnapshot
	if err := decodeSnapshot(StageGoals, state, &s); err != nil {
		return err
	}
	if !s.Lane.Valid() {
		return restoreError(StageGoals, fmt.Sprintf("lane %q", s.Lane), "experimental, candidate or prod")
	}
	byKey := make(map[goalKey]*goalJSON, len(s.Goals))
	orders := make(map[int64]bool, len(s.Goals))
	for i := range s.Goals {
		j := &s.Goals[i]
		if why := j.problem(s.Next); why != "" {
			return restoreError(StageGoals, fmt.Sprintf("goal %d (%q of glyph %q): %s", i, j.Name, j.Glyph, why), "goals as the goals stage writes them")
		}
		k := goalKey{j.Glyph, j.Name}
		if byKey[k] != nil || orders[j.Order] {
			return restoreError(StageGoals, fmt.Sprintf("goal %q of glyph %q (order %d) twice", j.Name, j.Glyph, j.Order), "each goal and order once")
		}
		byKey[k], orders[j.Order] = j, true
	}
	// depth of each goal by its parents, refusing a missing parent or a cycle.
	depth := make(map[goalKey]int, len(byKey))
	for k, j := range byKey {
		d, p := 1, j
		for p.Parent != "" {
			if p = byKey[goalKey{k.glyph, p.Parent}]; p == nil {
				return restoreError(StageGoals, fmt.Sprintf("goal %q of glyph %q under %q, which is not there", j.Name, k.glyph, j.Parent), "every parent among the goals")
			}
			if d++; d > len(byKey) {
				return restoreError(StageGoals, fmt.Sprintf("goal %q of glyph %q in a cycle of parents", j.Name, k.glyph), "trees")
			}
		}
		depth[k] = d
	}
	keep := slices.Clone(s.Goals)
	slices.SortStableFunc(keep, func(a, b goalJSON) int {
		return cmp.Or(cmp.Compare(depth[goalKey{a.Glyph, a.Name}], depth[goalKey{b.Glyph, b.Name}]), cmp.Compare(a.Order, b.Order))
	})
	t := newGoalTree()
	t.next = s.Next
	for _, j := range keep {
		d := depth[goalKey{j.Glyph, j.Name}]
		if d > g.cfg.maxDepth || len(t.goals) >= g.cfg.maxGoals {
			continue
		}
		var parent *Goal
		if j.Parent != "" {
			if parent = t.get(j.Glyph, j.Parent); parent == nil {
				continue // its parent was left out
			}
		}
		x := &Goal{Glyph: j.Glyph, Name: j.Name, Priority: j.Priority, Status: j.Status, Progress: j.Progress,
			MaxRisk: j.MaxRisk, Order: j.Order, Depth: 1, Reason: j.Reason}
		t.insert(x)
		if parent != nil {
			t.attach(x, parent)
		}
	}
	g.bind.lane, g.t = s.Lane, t
	return nil
}

// problem says what is wrong with one goal of a snapshot whose next order
// is next, or returns "".
func (j *goalJSON) problem(next int64) string {
	_, perr := ParsePriority(string(j.Priority))
	switch {
	case j.Glyph == "" || j.Name == "":
		return "no glyph or no name"
	case len(j.Name) > GoalMaxName || len(j.Parent) > GoalMaxName:
		return fmt.Sprintf("a name longer than %d bytes", GoalMaxName)
	case j.Parent == j.Name:
		return "its own parent"
	case perr != nil:
		return perr.Error()
	case !j.Status.valid():
		return fmt.Sprintf("status %q is not proposed, active, done, failed or blocked", j.Status)
	case !(j.Progress >= 0 && j.Progress <= 1):
		return fmt.Sprintf("progress %v is not in [0, 1]", j.Progress)
	case !(j.MaxRisk >= 0 && j.MaxRisk <= 1):
		return fmt.Sprintf("max_risk %v is not in [0, 1]", j.MaxRisk)
	case j.Order < 0 || j.Order >= next:
		return fmt.Sprintf("order %d is not in [0, next %d)", j.Order, next)
	case len(j.Reason) > goalMaxReason:
		return fmt.Sprintf("a reason longer than %d bytes", goalMaxReason)
	}
	return ""
}
