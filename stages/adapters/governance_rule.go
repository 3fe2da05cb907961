package adapters

// This file is governance's rule language: the operators, the Rule type,
// the default rule set and how one rule is checked against one value.

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Op is a governance rule's comparison.
type Op string

// Operators. lt..ne compare numbers (doubles, longs, or tags that parse as
// numbers); is and is_not compare strings; in tests membership of a string
// in Values; present and absent test the key itself.
const (
	OpLT      Op = "lt"
	OpLE      Op = "le"
	OpGT      Op = "gt"
	OpGE      Op = "ge"
	OpEQ      Op = "eq"
	OpNE      Op = "ne"
	OpIs      Op = "is"
	OpIsNot   Op = "is_not"
	OpIn      Op = "in"
	OpPresent Op = "present"
	OpAbsent  Op = "absent"
)

func (o Op) numeric() bool {
	switch o {
	case OpLT, OpLE, OpGT, OpGE, OpEQ, OpNE:
		return true
	}
	return false
}

func (o Op) known() bool {
	switch o {
	case OpIs, OpIsNot, OpIn, OpPresent, OpAbsent:
		return true
	}
	return o.numeric()
}

// Rule is one declared policy rule.
type Rule struct {
	ID       string   // stable id, reported when the rule denies
	Key      string   // payload key, or "tag:<name>" for a glyph tag
	Op       Op       // the comparison
	Number   float64  // threshold of lt, le, gt, ge, eq, ne
	Text     string   // operand of is, is_not
	Values   []string // the allowed values of in
	Required bool     // an absent key denies instead of skipping the rule
}

func (r Rule) threshold() string {
	switch {
	case r.Op.numeric():
		return strconv.FormatFloat(r.Number, 'g', -1, 64)
	case r.Op == OpIn:
		return "[" + strings.Join(r.Values, ", ") + "]"
	case r.Op == OpIs, r.Op == OpIsNot:
		return strconv.Quote(r.Text)
	}
	return ""
}

// DefaultRules returns a new copy of the default rule set.
func DefaultRules() []Rule {
	return []Rule{
		{ID: "max-risk", Key: "risk", Op: OpLE, Number: 0.5},
		{ID: "max-drift", Key: "drift", Op: OpLE, Number: 0.35},
		{ID: "min-constraint-satisfaction", Key: "constraint_satisfaction", Op: OpGE, Number: 0.5},
		{ID: "max-fanout", Key: "fanout", Op: OpLE, Number: 8},
		{ID: "max-depth", Key: "depth", Op: OpLE, Number: 4},
		{ID: "known-priority", Key: "priority", Op: OpIn, Values: []string{"P0", "P1", "P2", "P3"}},
	}
}

// eval applies r to v; checked is false when v has the wrong type.
func (r Rule) eval(v any) (holds, checked bool) {
	if r.Op.numeric() {
		x, ok := asNumber(v)
		if !ok {
			return false, false
		}
		switch r.Op {
		case OpLT:
			return x < r.Number, true
		case OpLE:
			return x <= r.Number, true
		case OpGT:
			return x > r.Number, true
		case OpGE:
			return x >= r.Number, true
		case OpEQ:
			return x == r.Number, true
		default: // OpNE
			return x != r.Number, true
		}
	}
	s, ok := v.(string)
	if !ok {
		return false, false
	}
	switch r.Op {
	case OpIs:
		return s == r.Text, true
	case OpIsNot:
		return s != r.Text, true
	default: // OpIn
		return slices.Contains(r.Values, s), true
	}
}

func (r Rule) want() string {
	if r.Op.numeric() {
		return "a finite number to compare " + string(r.Op) + " " + r.threshold()
	}
	return "a string to compare " + string(r.Op) + " " + r.threshold()
}

// asNumber reads a finite double, a long, or a tag string that parses as one.
func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}
