package adapters

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// Governance checks a message against declared policy rules and allows it
// only when every applicable rule holds, naming the rules that denied it,
// so a policy is data that can be reviewed and versioned, not code.
//
// A rule holds when `value Op threshold` is true for the value at Key. A
// rule whose key is absent is skipped, unless it is Required, in which case
// it denies. A value of the wrong type for the rule's operator cannot be
// checked: the rule denies (fail closed) and the result is not OK, with a
// reason naming the key. Governance keeps its payload in that case, so the
// deny and its rule ids still travel.
//
// The default rules (DefaultRules) mirror the pipeline's guard rails:
//
//	max-risk                     risk le 0.5
//	max-drift                    drift le 0.35
//	min-constraint-satisfaction  constraint_satisfaction ge 0.5
//	max-fanout                   fanout le 8
//	max-depth                    depth le 4
//	known-priority               priority in P0, P1, P2, P3
//
// Payload out: decision ("allow" or "deny"), denied_by (rule ids),
// violations (one "id: key = value; want op threshold" per denial),
// passed and skipped (rule ids), rules (how many were declared).
type Governance struct {
	cfg governanceConfig
}

type governanceConfig struct {
	rules []Rule
}

func defaultGovernanceConfig() governanceConfig { return governanceConfig{rules: DefaultRules()} }

func (c governanceConfig) validate() error {
	if len(c.rules) == 0 {
		return optionError(NameGovernance, "no rules; want at least one (DefaultRules lists the defaults)")
	}
	seen := make(map[string]bool, len(c.rules))
	for i, r := range c.rules {
		switch {
		case r.ID == "":
			return optionError(NameGovernance, "rule %d: empty ID", i)
		case seen[r.ID]:
			return optionError(NameGovernance, "rule %q: ID declared twice", r.ID)
		case r.Key == "" || r.Key == "tag:":
			return optionError(NameGovernance, "rule %q: empty key; want a payload key or tag:<name>", r.ID)
		case !r.Op.known():
			return optionError(NameGovernance, "rule %q: unknown operator %q; want lt, le, gt, ge, eq, ne, is, is_not, in, present or absent", r.ID, r.Op)
		case r.Op.numeric() && (math.IsNaN(r.Number) || math.IsInf(r.Number, 0)):
			return optionError(NameGovernance, "rule %q: threshold %v; want a finite number", r.ID, r.Number)
		case r.Op == OpIn && len(r.Values) == 0:
			return optionError(NameGovernance, "rule %q: operator in with no values", r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// GovernanceOption configures a Governance node.
type GovernanceOption func(*governanceConfig)

// GovernanceRules replaces the rule set. Rules are evaluated and reported in the
// order given. The node keeps its own copy.
func GovernanceRules(rules ...Rule) GovernanceOption {
	return func(c *governanceConfig) {
		c.rules = make([]Rule, len(rules))
		for i, r := range rules {
			r.Values = slices.Clone(r.Values)
			c.rules[i] = r
		}
	}
}

// NewGovernance returns a Governance node configured by opts.
func NewGovernance(opts ...GovernanceOption) (*Governance, error) {
	cfg := defaultGovernanceConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Governance{cfg: cfg}, nil
}

// Name returns "governance".
func (*Governance) Name() string { return NameGovernance }

// Version returns the node's version.
func (*Governance) Version() string { return "1.0.0" }

// Handle evaluates the rules against msg.
func (g *Governance) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameGovernance); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameGovernance, g.Version()), nil
	}
	rules := g.cfg.rules
	if rules == nil { // the zero value is usable and means the defaults
		rules = DefaultRules()
	}
	in := newInput(NameGovernance, msg)
	denied, passed, skipped, violations := []string{}, []string{}, []string{}, []string{}
	for _, r := range rules {
		v, present := lookup(msg, r.Key)
		var holds, checked bool
		switch {
		case r.Op == OpPresent:
			holds, checked = present, true
		case r.Op == OpAbsent:
			holds, checked = !present, true
		case !present && !r.Required:
			skipped = append(skipped, r.ID)
			continue
		case !present:
			checked = true
		default:
			holds, checked = r.eval(v)
		}
		if !checked {
			in.reasons = append(in.reasons, NameGovernance+": rule "+r.ID+": "+where(r.Key)+": got "+describe(v)+"; want "+r.want())
		}
		if holds {
			passed = append(passed, r.ID)
			continue
		}
		denied = append(denied, r.ID)
		got := "absent"
		if present {
			got = "= " + shortValue(v)
		}
		violations = append(violations, strings.TrimSpace(r.ID+": "+r.Key+" "+got+"; want "+string(r.Op)+" "+r.threshold()))
	}
	decision := "allow"
	if len(denied) > 0 {
		decision = "deny"
	}
	out := schemas.Payload{
		"decision":   decision,
		"denied_by":  denied,
		"violations": violations,
		"passed":     passed,
		"skipped":    skipped,
		"rules":      int64(len(rules)),
	}
	data := schemas.Payload{"decision": decision, "denied": int64(len(denied)), "passed": int64(len(passed)), "skipped": int64(len(skipped))}
	return answer(msg, NameGovernance, g.Version(), in.reasons, out, data), nil
}

// lookup returns the value a rule key names and whether it is present
// (a null payload value counts as absent).
func lookup(msg *schemas.MatrizMessage, key string) (any, bool) {
	if tag, ok := strings.CutPrefix(key, "tag:"); ok {
		v, present := msg.Glyph.Tags[tag]
		return v, present
	}
	v := msg.Payload[key]
	return v, v != nil
}

// where names a rule key the way reasons name payload keys.
func where(key string) string {
	if tag, ok := strings.CutPrefix(key, "tag:"); ok {
		return "glyph.tags " + tag
	}
	return "payload." + key
}

// shortValue prints a scalar as it is and a list by its size.
func shortValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return strconv.Quote(x)
	}
	return describe(v)
}
