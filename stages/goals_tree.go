package stages

// The goal tree of one partition: every glyph's goals, their parents and
// children, and the rules that move a status up the tree (a subgoal that
// fails fails its parent, a goal whose subgoals are all settled is done).
// The Goals stage (goals.go) drives it; this file knows nothing of frames.

import (
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
)

// GoalStatus is where a goal stands.
type GoalStatus string

// Goal statuses. Done and failed are final.
const (
	GoalProposed GoalStatus = "proposed" // planned, not acted on yet
	GoalActive   GoalStatus = "active"   // the guardian allowed acting on it
	GoalDone     GoalStatus = "done"     // its plan (or every subgoal) is done
	GoalFailed   GoalStatus = "failed"   // a constraint or a subgoal as important failed it
	GoalBlocked  GoalStatus = "blocked"  // the guardian denied it, or every step is blocked
)

// Final reports whether s is done or failed: no plan changes it again.
func (s GoalStatus) Final() bool { return s == GoalDone || s == GoalFailed }

// Open reports whether a goal in s is one to act on: proposed or active.
func (s GoalStatus) Open() bool { return s == GoalProposed || s == GoalActive }

func (s GoalStatus) valid() bool {
	switch s {
	case GoalProposed, GoalActive, GoalDone, GoalFailed, GoalBlocked:
		return true
	}
	return false
}

const (
	// GoalMaxName is the longest goal name kept, in bytes: with max_goals
	// it bounds the partition's state.
	GoalMaxName = 256
	// goalMaxReason is the longest reason kept on a goal, in bytes; a
	// longer one (many guardian reasons) is cut at a rune boundary.
	goalMaxReason = 512
)

// Goal is one goal of a glyph's tree as the stage holds it.
type Goal struct {
	Glyph    string
	Name     string
	Parent   string // "" for a root
	Priority Priority
	Status   GoalStatus
	Progress float64 // subgoals done / subgoals; a goal without subgoals: 1 when done, else 0
	MaxRisk  float64 // the plan risk past which the goal fails
	Order    int64   // creation order within the partition: ties of priority go by it
	Depth    int     // 1 for a root
	Reason   string  // why it has its status, when a rule set it

	children []*Goal // by Order
}

type goalKey struct{ glyph, name string }

// goalTree is one partition's goals. Restore replaces it whole.
type goalTree struct {
	goals  map[goalKey]*Goal
	glyphs map[string][]*Goal // each glyph's goals by Order
	next   int64              // the Order of the next goal made
	open   int                // goals proposed or active
}

func newGoalTree() goalTree {
	return goalTree{goals: make(map[goalKey]*Goal), glyphs: make(map[string][]*Goal)}
}

func (t *goalTree) get(glyph, name string) *Goal { return t.goals[goalKey{glyph, name}] }

// add makes a goal under parent (nil: a root) and returns it.
func (t *goalTree) add(glyph, name string, parent *Goal, prio Priority, maxRisk float64) *Goal {
	g := &Goal{Glyph: glyph, Name: name, Priority: prio, Status: GoalProposed, MaxRisk: maxRisk, Order: t.next, Depth: 1}
	t.next++
	t.insert(g)
	if parent != nil {
		t.attach(g, parent)
	}
	return g
}

// insert puts g, whose Order is set, in the indexes.
func (t *goalTree) insert(g *Goal) {
	if g.Status.Open() {
		t.open++
	}
	t.goals[goalKey{g.Glyph, g.Name}] = g
	list := t.glyphs[g.Glyph]
	i, _ := slices.BinarySearchFunc(list, g.Order, func(x *Goal, o int64) int { return cmp.Compare(x.Order, o) })
	t.glyphs[g.Glyph] = slices.Insert(list, i, g)
}

// attach makes g, a root, a child of parent, and deepens g's subtree.
func (t *goalTree) attach(g, parent *Goal) {
	g.Parent = parent.Name
	i, _ := slices.BinarySearchFunc(parent.children, g.Order, func(x *Goal, o int64) int { return cmp.Compare(x.Order, o) })
	parent.children = slices.Insert(parent.children, i, g)
	var deepen func(*Goal, int)
	deepen = func(g *Goal, d int) {
		g.Depth = d
		for _, c := range g.children {
			deepen(c, d+1)
		}
	}
	deepen(g, parent.Depth+1)
}

// setStatus moves g to s, keeping the count of open goals.
func (t *goalTree) setStatus(g *Goal, s GoalStatus) {
	if g.Status.Open() {
		t.open--
	}
	if s.Open() {
		t.open++
	}
	g.Status = s
}

// parent returns g's parent, nil for a root.
func (t *goalTree) parent(g *Goal) *Goal {
	if g.Parent == "" {
		return nil
	}
	return t.get(g.Glyph, g.Parent)
}

// height is the levels of g's subtree, g included.
func height(g *Goal) int {
	h := 0
	for _, c := range g.children {
		h = max(h, height(c))
	}
	return h + 1
}

// isAncestor reports whether a is g or above it.
func (t *goalTree) isAncestor(a, g *Goal) bool {
	for p := g; p != nil; p = t.parent(p) {
		if p == a {
			return true
		}
	}
	return false
}

// settled reports whether child no longer holds parent back: it is done,
// or it failed and is less important than parent (a larger P number), so
// its failure does not sink the goal.
func settled(child, parent *Goal) bool {
	return child.Status == GoalDone || child.Status == GoalFailed && child.Priority > parent.Priority
}

// evaluate settles g from its subgoals, then its ancestors from theirs:
// a subgoal as important as its parent (or more) that failed fails it, and
// a goal whose subgoals are all settled is done. set records each change.
// Progress is recomputed on the way up.
func (t *goalTree) evaluate(g *Goal, set func(*Goal, GoalStatus, string)) {
	for ; g != nil; g = t.parent(g) {
		if len(g.children) == 0 {
			continue
		}
		done, all := 0, true
		var sank *Goal
		for _, c := range g.children {
			if c.Status == GoalDone {
				done++
			}
			if !settled(c, g) {
				all = false
			}
			if sank == nil && c.Status == GoalFailed && c.Priority <= g.Priority {
				sank = c
			}
		}
		g.Progress = float64(done) / float64(len(g.children))
		switch {
		case g.Status.Final():
		case sank != nil:
			set(g, GoalFailed, fmt.Sprintf("subgoal %q (%s) failed", sank.Name, sank.Priority))
		case all:
			set(g, GoalDone, "every subgoal is settled")
		}
	}
}

// ranked returns glyph's goals in priority order: P0 first, ties by
// creation order.
func (t *goalTree) ranked(glyph string) []*Goal {
	out := slices.Clone(t.glyphs[glyph])
	slices.SortStableFunc(out, func(a, b *Goal) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// nextOpen returns glyph's open goal to act on next: the first proposed or
// active one in priority order, or nil when none is open.
func (t *goalTree) nextOpen(glyph string) *Goal {
	for _, g := range t.ranked(glyph) {
		if g.Status.Open() {
			return g
		}
	}
	return nil
}

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
