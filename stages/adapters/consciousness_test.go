package adapters_test

import (
	"errors"
	"math"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestConsciousnessSoftmax(t *testing.T) {
	node := must(adapters.NewConsciousness())(t)
	r := handle(t, node, message(schemas.Payload{"salience": []float64{1, 2, 3}}, nil))
	wantOK(t, r)
	w := vec(t, r, "weights")
	den := math.Exp(1) + math.Exp(2) + math.Exp(3)
	for i, want := range []float64{math.Exp(1) / den, math.Exp(2) / den, math.Exp(3) / den} {
		if !near(w[i], want) {
			t.Errorf("weight %d = %v, want %v", i, w[i], want)
		}
	}
	if str(t, r, "focus") != "2" || i64(t, r, "focus_index") != 2 || !near(f64(t, r, "focus_weight"), w[2]) {
		t.Errorf("focus %v", r.Payload)
	}

	// Equal salience: even attention, maximal entropy, focus on the first.
	r = handle(t, node, message(schemas.Payload{"salience": []float64{5, 5, 5, 5}, "labels": []string{"a", "b", "c", "d"}}, nil))
	if str(t, r, "focus") != "a" || !near(f64(t, r, "entropy"), 1) || !near(f64(t, r, "focus_weight"), 0.25) {
		t.Errorf("even attention %v", r.Payload)
	}

	// Huge spreads stay finite.
	r = handle(t, node, message(schemas.Payload{"salience": []float64{-1e308, 1e308}}, nil))
	if w := vec(t, r, "weights"); w[0] != 0 || w[1] != 1 || f64(t, r, "entropy") != 0 {
		t.Errorf("extreme salience %v", r.Payload)
	}
}

func TestConsciousnessTemperature(t *testing.T) {
	sal := schemas.Payload{"salience": []float64{0.2, 1.0, 0.6}}
	var prev float64
	for _, temp := range []float64{10, 1, 0.1, 0.01} {
		node := must(adapters.NewConsciousness(adapters.ConsciousnessTemperature(temp)))(t)
		r := handle(t, node, message(sal, nil))
		fw := f64(t, r, "focus_weight")
		if fw < prev {
			t.Fatalf("temperature %v: focus weight %v fell below %v; colder must focus more", temp, fw, prev)
		}
		if f64(t, r, "temperature") != temp {
			t.Fatalf("temperature reported %v", r.Payload["temperature"])
		}
		prev = fw
	}
	if prev < 0.999 {
		t.Fatalf("at temperature 0.01 focus weight is %v, want ≈1", prev)
	}
	// The zero value is the default node.
	zero := handle(t, &adapters.Consciousness{}, message(sal, nil))
	def := handle(t, must(adapters.NewConsciousness())(t), message(sal, nil))
	if !near(f64(t, zero, "focus_weight"), f64(t, def, "focus_weight")) {
		t.Fatal("zero-value Consciousness differs from the default")
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := adapters.NewConsciousness(adapters.ConsciousnessTemperature(bad)); !errors.Is(err, adapters.ErrInvalidOption) {
			t.Errorf("temperature %v: err %v, want ErrInvalidOption", bad, err)
		}
	}
}

func TestConsciousnessBadInput(t *testing.T) {
	node := must(adapters.NewConsciousness())(t)
	for _, tc := range []struct {
		p    schemas.Payload
		want string
	}{
		{nil, "payload.salience: missing"},
		{schemas.Payload{"salience": []float64{}}, "payload.salience: got array<double> of 0"},
		{schemas.Payload{"salience": []float64{math.NaN()}}, "with NaN or Inf"},
		{schemas.Payload{"salience": []string{"a"}}, "got array<string> of 1"},
		{schemas.Payload{"salience": []float64{1}, "labels": []string{}}, "payload.labels: got array<string> of 0"},
		{schemas.Payload{"salience": []float64{1}, "labels": []string{"a", "b"}}, "payload.labels: has 2 entries; want 1"},
	} {
		wantReason(t, handle(t, node, message(tc.p, nil)), tc.want)
	}
}
