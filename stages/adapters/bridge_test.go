package adapters_test

import (
	"math"
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestBridgePriority(t *testing.T) {
	for in, want := range map[any]string{
		"urgent": "P0", "Critical": "P0", "blocker": "P0", " high ": "P1", "HIGH": "P1",
		"normal": "P2", "medium": "P2", "default": "P2", "low": "P3", "minor": "P3",
		"p0": "P0", "P3": "P3", int64(0): "P0", int64(2): "P2",
	} {
		r := handle(t, adapters.Bridge{}, message(schemas.Payload{"priority": in}, nil))
		wantOK(t, r)
		if got := str(t, r, "priority"); got != want {
			t.Errorf("priority %#v → %q, want %q", in, got, want)
		}
	}
	r := handle(t, adapters.Bridge{}, message(schemas.Payload{"prio": "high"}, nil))
	if str(t, r, "priority") != "P1" || !slices.Equal(strs(t, r, "renamed"), []string{"prio->priority"}) {
		t.Errorf("prio alias: %v", r.Payload)
	}
	for _, bad := range []any{"P7", "whenever", int64(4), int64(-1), 1.0, nil} {
		r := handle(t, adapters.Bridge{}, message(schemas.Payload{"priority": bad}, nil))
		wantReason(t, r, "payload.priority", "want P0..P3")
	}
}

func TestBridgeUnits(t *testing.T) {
	for _, tc := range []struct {
		key  string
		in   any
		to   string
		want float64
	}{
		{"risk_pct", int64(42), "risk", 0.42},
		{"riskPct", 100.0, "risk", 1},
		{"risk_score", 0.3, "risk", 0.3},
		{"latency_ms", int64(250), "latency", 0.25},
		{"latencyUs", 1500.0, "latency", 0.0015},
		{"latency_s", 2.5, "latency", 2.5},
		{"constraint_pct", int64(80), "constraint_satisfaction", 0.8},
		{"battery_pct", int64(5), "energy", 0.05},
		{"cpu_pct", 99.5, "load", 0.995},
		{"temp_f", 212.0, "temperature", 100},
		{"temperature_f", int64(-40), "temperature", -40},
		{"temperature_c", 36.6, "temperature", 36.6},
		{"noveltyScore", 0.7, "novelty", 0.7},
		{"fan_out", int64(3), "fanout", 3},
	} {
		r := handle(t, adapters.Bridge{}, message(schemas.Payload{tc.key: tc.in}, nil))
		wantOK(t, r)
		var got float64
		switch v := r.Payload[tc.to].(type) {
		case float64:
			got = v
		case int64:
			got = float64(v)
		default:
			t.Fatalf("%s → %s: %#v", tc.key, tc.to, r.Payload[tc.to])
		}
		if !near(got, tc.want) {
			t.Errorf("%s=%v → %s=%v, want %v", tc.key, tc.in, tc.to, got, tc.want)
		}
		if _, kept := r.Payload[tc.key]; kept {
			t.Errorf("alias %s kept in the output", tc.key)
		}
		if !slices.Equal(strs(t, r, "renamed"), []string{tc.key + "->" + tc.to}) {
			t.Errorf("renamed = %v", r.Payload["renamed"])
		}
	}
}

func TestBridgeVectorsAndUnmapped(t *testing.T) {
	in := schemas.Payload{
		"intent_vector": []float64{1, 2},
		"action_vec":    []float64{3, 4},
		"dataOrigin":    "crm",
		"labels":        []string{"a"},
		"zeta":          int64(1),
		"alpha":         "x",
	}
	r := handle(t, adapters.Bridge{}, message(in, nil))
	wantOK(t, r)
	if !slices.Equal(vec(t, r, "intent"), []float64{1, 2}) || !slices.Equal(vec(t, r, "action"), []float64{3, 4}) {
		t.Fatalf("vectors: %v", r.Payload)
	}
	if str(t, r, "data_origin") != "crm" || !slices.Equal(strs(t, r, "labels"), []string{"a"}) {
		t.Fatalf("strings: %v", r.Payload)
	}
	if got := strs(t, r, "unmapped"); !slices.Equal(got, []string{"alpha", "zeta"}) {
		t.Fatalf("unmapped %v, want sorted [alpha zeta]", got)
	}
	if got := strs(t, r, "renamed"); !slices.Equal(got, []string{"action_vec->action", "dataOrigin->data_origin", "intent_vector->intent"}) {
		t.Fatalf("renamed %v", got)
	}
	if r.Trace[0].Data["unmapped"] != int64(2) || r.Trace[0].Data["canonical"] != int64(4) {
		t.Fatalf("crumb %v", r.Trace[0].Data)
	}
}

func TestBridgeBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    schemas.Payload
		want []string
	}{
		{"alias conflict", schemas.Payload{"risk": 0.1, "risk_pct": int64(10)}, []string{"payload.risk and payload.risk_pct both give risk"}},
		{"two aliases", schemas.Payload{"intentVec": []float64{1}, "intent_vec": []float64{1}}, []string{"both give intent"}},
		{"pct out of range", schemas.Payload{"risk_pct": -5.0}, []string{"payload.risk_pct: got double -5; want a number in [0, 100]"}},
		{"negative latency", schemas.Payload{"latency_ms": int64(-1)}, []string{"payload.latency_ms", "want a number in [0, +∞]"}},
		{"canonical wrong type", schemas.Payload{"intent": "up"}, []string{`payload.intent: got string "up"; want a non-empty array<double>`}},
		{"unit out of range", schemas.Payload{"risk": 1.2}, []string{"payload.risk: got double 1.2; want a number in [0, 1]"}},
		{"signed out of range", schemas.Payload{"valence": -2.0}, []string{"payload.valence", "[-1, 1]"}},
		{"count negative", schemas.Payload{"fanout": int64(-3)}, []string{"payload.fanout: got long -3; want a whole number ≥ 0"}},
		{"count fraction", schemas.Payload{"depth": 1.5}, []string{"payload.depth: got double 1.5"}},
		{"text empty", schemas.Payload{"purpose": ""}, []string{`payload.purpose: got string ""; want a non-empty string`}},
		{"texts with empty", schemas.Payload{"links": []string{"a", ""}}, []string{"payload.links: got array<string> of 2"}},
		{"vector NaN", schemas.Payload{"salience": []float64{1, math.NaN()}}, []string{"payload.salience: got array<double> of 2 with NaN or Inf"}},
		{"number NaN", schemas.Payload{"drift": math.NaN()}, []string{"payload.drift: got NaN"}},
		{"temp_f string", schemas.Payload{"temp_f": "hot"}, []string{"payload.temp_f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantReason(t, handle(t, adapters.Bridge{}, message(tc.p, nil)), tc.want...)
		})
	}
}

func TestBridgeEmptyPayload(t *testing.T) {
	r := handle(t, adapters.Bridge{}, message(nil, nil))
	wantOK(t, r)
	if len(strs(t, r, "unmapped")) != 0 || len(strs(t, r, "renamed")) != 0 || len(r.Payload) != 2 {
		t.Fatalf("empty payload gave %v", r.Payload)
	}
}
