package schemas

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestPayloadAccessors(t *testing.T) {
	p := Payload{
		"d": 0.5, "l": int64(-4), "i": 7, "whole": 3.0, "frac": 2.5, "big": 1e300, "nan": math.NaN(),
		"inf": math.Inf(-1), "s": "x", "v": []float64{1, 2}, "ss": []string{"a"}, "nil": nil, "b": true,
	}
	floats := map[string]struct {
		v  float64
		ok bool
	}{
		"d": {0.5, true}, "l": {-4, true}, "i": {7, true}, "nan": {0, false}, "inf": {0, false},
		"s": {0, false}, "nil": {0, false}, "missing": {0, false}, "b": {0, false},
	}
	for k, w := range floats {
		if v, ok := p.Float(k); v != w.v || ok != w.ok {
			t.Errorf("Float(%q) = %v, %v; want %v, %v", k, v, ok, w.v, w.ok)
		}
	}
	ints := map[string]struct {
		v  int64
		ok bool
	}{
		"l": {-4, true}, "i": {7, true}, "whole": {3, true}, "frac": {0, false}, "big": {0, false},
		"nan": {0, false}, "inf": {0, false}, "s": {0, false}, "missing": {0, false},
	}
	for k, w := range ints {
		if v, ok := p.Int(k); v != w.v || ok != w.ok {
			t.Errorf("Int(%q) = %v, %v; want %v, %v", k, v, ok, w.v, w.ok)
		}
	}
	if s, ok := p.String("s"); s != "x" || !ok {
		t.Errorf("String(s) = %q, %v", s, ok)
	}
	if _, ok := p.String("d"); ok {
		t.Error("String(d) ok for a double")
	}
	if v, ok := p.Vector("v"); !ok || !slices.Equal(v, []float64{1, 2}) {
		t.Errorf("Vector(v) = %v, %v", v, ok)
	}
	if _, ok := p.Vector("ss"); ok {
		t.Error("Vector(ss) ok for strings")
	}
	if v, ok := p.Strings("ss"); !ok || !slices.Equal(v, []string{"a"}) {
		t.Errorf("Strings(ss) = %v, %v", v, ok)
	}
	if _, ok := p.Strings("v"); ok {
		t.Error("Strings(v) ok for doubles")
	}
}

func TestPayloadClone(t *testing.T) {
	if Payload(nil).Clone() != nil {
		t.Fatal("Clone of nil is not nil")
	}
	p := payloadAll()
	c := p.Clone()
	for _, d := range diffValues(p, c) {
		t.Error(d)
	}
	c["intent"].([]float64)[0] = 99
	c["reasons"].([]string)[0] = "changed"
	c["novelty"] = 0.0
	if p["intent"].([]float64)[0] == 99 || p["reasons"].([]string)[0] == "changed" || p["novelty"] == 0.0 {
		t.Fatal("changing the clone changed the original")
	}
}

// TestNormalizeRefusesForeignShapes covers values that only a foreign writer
// schema could produce: a list mixing types, a record that is not a
// StringList, a Go type the union lacks.
func TestNormalizeRefusesForeignShapes(t *testing.T) {
	for name, p := range map[string]Payload{
		"mixed list":     {"k": []any{1.0, "x"}},
		"list of longs":  {"k": []any{int64(1)}},
		"string list":    {"k": map[string]any{"items": []any{"a", 2.0}}},
		"int32":          {"k": int32(1)},
		"float32 scalar": {"k": float32(1)},
	} {
		err := p.normalize()
		var pe *PayloadTypeError
		if !errors.As(err, &pe) || pe.Key != "k" {
			t.Errorf("%s: got %v, want *PayloadTypeError for key k", name, err)
		}
	}
	p := Payload{"v": []any{1.0, 2.0}, "s": map[string]any{"items": []any{"a"}}, "n": nil}
	if err := p.normalize(); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Vector("v"); !slices.Equal(v, []float64{1, 2}) {
		t.Errorf("vector: %#v", p["v"])
	}
	if s, _ := p.Strings("s"); !slices.Equal(s, []string{"a"}) {
		t.Errorf("strings: %#v", p["s"])
	}
	if (&PayloadTypeError{Key: "k", Value: int32(1)}).Error() == "" {
		t.Error("empty message")
	}
}
