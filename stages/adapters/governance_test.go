package adapters_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestGovernanceOperators(t *testing.T) {
	rules := []adapters.Rule{
		{ID: "lt", Key: "x", Op: adapters.OpLT, Number: 5},
		{ID: "le", Key: "x", Op: adapters.OpLE, Number: 5},
		{ID: "gt", Key: "x", Op: adapters.OpGT, Number: 5},
		{ID: "ge", Key: "x", Op: adapters.OpGE, Number: 5},
		{ID: "eq", Key: "x", Op: adapters.OpEQ, Number: 5},
		{ID: "ne", Key: "x", Op: adapters.OpNE, Number: 5},
		{ID: "is", Key: "mode", Op: adapters.OpIs, Text: "safe"},
		{ID: "is-not", Key: "mode", Op: adapters.OpIsNot, Text: "yolo"},
		{ID: "in", Key: "tag:region", Op: adapters.OpIn, Values: []string{"eu", "uk"}},
		{ID: "consent", Key: "tag:consent", Op: adapters.OpPresent},
		{ID: "no-override", Key: "override", Op: adapters.OpAbsent},
		{ID: "tag-number", Key: "tag:tier", Op: adapters.OpLE, Number: 2},
	}
	node := must(adapters.NewGovernance(adapters.GovernanceRules(rules...)))(t)
	tags := map[string]string{"region": "eu", "consent": "granted", "tier": " 2 "}
	for _, tc := range []struct {
		x      any
		passed []string
		denied []string
	}{
		{int64(5), []string{"le", "ge", "eq", "is", "is-not", "in", "consent", "no-override", "tag-number"}, []string{"lt", "gt", "ne"}},
		{4.5, []string{"lt", "le", "ne", "is", "is-not", "in", "consent", "no-override", "tag-number"}, []string{"gt", "ge", "eq"}},
		{5.5, []string{"gt", "ge", "ne", "is", "is-not", "in", "consent", "no-override", "tag-number"}, []string{"lt", "le", "eq"}},
	} {
		r := handle(t, node, message(schemas.Payload{"x": tc.x, "mode": "safe"}, tags))
		wantOK(t, r)
		if got := strs(t, r, "passed"); !slices.Equal(got, tc.passed) {
			t.Errorf("x=%v passed %v, want %v", tc.x, got, tc.passed)
		}
		if got := strs(t, r, "denied_by"); !slices.Equal(got, tc.denied) {
			t.Errorf("x=%v denied %v, want %v", tc.x, got, tc.denied)
		}
		if str(t, r, "decision") != "deny" || len(strs(t, r, "violations")) != len(tc.denied) {
			t.Errorf("x=%v: %v", tc.x, r.Payload)
		}
	}
	// Everything the other way round.
	r := handle(t, node, message(schemas.Payload{"x": int64(5), "mode": "yolo", "override": true}, map[string]string{"region": "us", "tier": "3"}))
	want := []string{"lt", "gt", "ne", "is", "is-not", "in", "consent", "no-override", "tag-number"}
	if got := strs(t, r, "denied_by"); !slices.Equal(got, want) {
		t.Errorf("denied %v, want %v", got, want)
	}
	if v := strs(t, r, "violations"); !slices.Contains(v, `in: tag:region = "us"; want in [eu, uk]`) || !slices.Contains(v, "consent: tag:consent absent; want present") {
		t.Errorf("violations %q", v)
	}
}

func TestGovernanceRequiredAndSkipped(t *testing.T) {
	node := must(adapters.NewGovernance(adapters.GovernanceRules(
		adapters.Rule{ID: "need-risk", Key: "risk", Op: adapters.OpLE, Number: 0.5, Required: true},
		adapters.Rule{ID: "opt-drift", Key: "drift", Op: adapters.OpLE, Number: 0.35},
	)))(t)
	r := handle(t, node, message(schemas.Payload{"drift": nil}, nil))
	wantOK(t, r)
	if !slices.Equal(strs(t, r, "denied_by"), []string{"need-risk"}) || !slices.Equal(strs(t, r, "skipped"), []string{"opt-drift"}) {
		t.Fatalf("%v", r.Payload)
	}
	if !slices.Equal(strs(t, r, "violations"), []string{"need-risk: risk absent; want le 0.5"}) {
		t.Fatalf("violations %q", strs(t, r, "violations"))
	}
	r = handle(t, node, message(schemas.Payload{"risk": 0.5}, nil))
	if str(t, r, "decision") != "allow" || i64(t, r, "rules") != 2 {
		t.Fatalf("%v", r.Payload)
	}
}

func TestGovernanceDefaults(t *testing.T) {
	if got := len(adapters.DefaultRules()); got != 6 {
		t.Fatalf("%d default rules, want 6", got)
	}
	d := adapters.DefaultRules()
	d[0].Number = 99 // a caller's copy must not change the defaults
	for _, node := range []*adapters.Governance{must(adapters.NewGovernance())(t), {}} {
		r := handle(t, node, message(schemas.Payload{"risk": 0.51}, nil))
		if !slices.Equal(strs(t, r, "denied_by"), []string{"max-risk"}) {
			t.Fatalf("risk 0.51: %v", r.Payload)
		}
	}
	// GovernanceRules keeps its own copy of Values.
	vals := []string{"a"}
	node := must(adapters.NewGovernance(adapters.GovernanceRules(adapters.Rule{ID: "v", Key: "k", Op: adapters.OpIn, Values: vals})))(t)
	vals[0] = "b"
	if r := handle(t, node, message(schemas.Payload{"k": "a"}, nil)); str(t, r, "decision") != "allow" {
		t.Fatalf("changing the caller's slice changed the rule: %v", r.Payload)
	}
}

func TestGovernanceWrongTypeFailsClosed(t *testing.T) {
	node := must(adapters.NewGovernance(adapters.GovernanceRules(
		adapters.Rule{ID: "num", Key: "n", Op: adapters.OpGT, Number: 0},
		adapters.Rule{ID: "str", Key: "s", Op: adapters.OpIs, Text: "x"},
		adapters.Rule{ID: "tag", Key: "tag:t", Op: adapters.OpLT, Number: 1},
	)))(t)
	for _, tc := range []struct {
		p    schemas.Payload
		tags map[string]string
		want string
	}{
		{schemas.Payload{"n": "many"}, nil, `rule num: payload.n: got string "many"; want a finite number to compare gt 0`},
		{schemas.Payload{"n": math.NaN()}, nil, "rule num: payload.n: got NaN"},
		{schemas.Payload{"n": []float64{1}}, nil, "rule num: payload.n: got array<double> of 1"},
		{schemas.Payload{"s": int64(1)}, nil, `rule str: payload.s: got long 1; want a string to compare is "x"`},
		{nil, map[string]string{"t": "low"}, `rule tag: glyph.tags t: got string "low"`},
	} {
		r := handle(t, node, message(tc.p, tc.tags))
		wantReason(t, r, tc.want)
		if str(t, r, "decision") != "deny" {
			t.Fatalf("a rule that cannot be checked must deny: %v", r.Payload)
		}
	}
}

func TestGovernanceBadOptions(t *testing.T) {
	for _, rules := range [][]adapters.Rule{
		{},
		{{ID: "", Key: "k", Op: adapters.OpLE}},
		{{ID: "a", Key: "k", Op: adapters.OpLE}, {ID: "a", Key: "j", Op: adapters.OpLE}},
		{{ID: "a", Key: "", Op: adapters.OpLE}},
		{{ID: "a", Key: "tag:", Op: adapters.OpPresent}},
		{{ID: "a", Key: "k", Op: "approx"}},
		{{ID: "a", Key: "k", Op: adapters.OpLT, Number: math.Inf(1)}},
		{{ID: "a", Key: "k", Op: adapters.OpIn}},
	} {
		if _, err := adapters.NewGovernance(adapters.GovernanceRules(rules...)); !errors.Is(err, adapters.ErrInvalidOption) {
			t.Errorf("rules %+v: err %v, want ErrInvalidOption", rules, err)
		}
	}
}
