package schemas

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// stringList is the wire form of a []string inside a payload union: Avro
// allows one array branch per union and array<double> holds it, so string
// lists travel wrapped in the record matriz.StringList.
type stringList struct {
	Items []string `avro:"items"`
}

// emptyDoubles stands in for a nil []float64. twmb/avro writes any nil
// slice in a union as the null branch, which would decode as nil rather
// than as the empty vector the value was; one shared boxed empty slice keeps
// the array branch without allocating per value.
var emptyDoubles any = []float64{}

// toWire returns p in the shape twmb/avro encodes, and whether that is a new
// map. Most payloads (numbers, strings, vectors; a Go int too, which
// twmb/avro writes as a long) are already in that shape: they are checked
// in place and returned as they are, without allocating. Only a []string
// (wrapped as a StringList) or a nil []float64 makes a copy, so the
// caller's map is never changed. A value of a type the union lacks is a
// *PayloadTypeError, caught here and not left to twmb/avro, which would
// write an int32 or a float32 as long or float and so change its type.
func (p Payload) toWire() (Payload, bool, error) {
	var out Payload
	for k, v := range p {
		var w any
		switch x := v.(type) {
		case nil, bool, int, int64, float64, string:
			continue
		case []float64:
			if x != nil {
				continue
			}
			w = emptyDoubles
		case []string:
			w = stringList{Items: x}
		default:
			return nil, false, &PayloadTypeError{Key: k, Value: v}
		}
		if out == nil {
			out = maps.Clone(p)
		}
		out[k] = w
	}
	if out == nil {
		return p, false, nil
	}
	return out, true, nil
}

// normalize rewrites decoded union values to the documented Go types:
// []any of doubles becomes []float64, a StringList record becomes []string.
func (p Payload) normalize() error {
	for k, v := range p {
		switch x := v.(type) {
		case nil, bool, int64, float64, string, []float64, []string:
		case []any:
			fs := make([]float64, len(x))
			for i, e := range x {
				f, ok := e.(float64)
				if !ok {
					return &PayloadTypeError{Key: k, Value: v}
				}
				fs[i] = f
			}
			p[k] = fs
		case map[string]any:
			items, _ := x["items"].([]any)
			ss := make([]string, len(items))
			for i, e := range items {
				s, ok := e.(string)
				if !ok {
					return &PayloadTypeError{Key: k, Value: v}
				}
				ss[i] = s
			}
			p[k] = ss
		default:
			return &PayloadTypeError{Key: k, Value: v}
		}
	}
	return nil
}

// PayloadTypeError reports a payload value whose Go type has no branch in
// the payload union.
type PayloadTypeError struct {
	Key   string
	Value any
}

func (e *PayloadTypeError) Error() string {
	return fmt.Sprintf("schemas: payload key %q holds %T; allowed: nil, bool, int64 (or int), float64, string, []float64, []string", e.Key, e.Value)
}

// Float returns p[key] as a float64 when it is a finite number (double or
// long; a Go int too, since stages may build payloads with one before they
// are encoded).
func (p Payload) Float(key string) (float64, bool) {
	switch x := p[key].(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// Int returns p[key] as an int64 when it is a long (or a Go int, or a whole
// double within ±2^53, where doubles are exact).
func (p Payload) Int(key string) (int64, bool) {
	switch x := p[key].(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

// String returns p[key] when it is a string.
func (p Payload) String(key string) (string, bool) {
	s, ok := p[key].(string)
	return s, ok
}

// Vector returns p[key] when it is an array of doubles.
func (p Payload) Vector(key string) ([]float64, bool) {
	v, ok := p[key].([]float64)
	return v, ok
}

// Strings returns p[key] when it is an array of strings.
func (p Payload) Strings(key string) ([]string, bool) {
	v, ok := p[key].([]string)
	return v, ok
}

// Clone returns a copy of p whose slices are copied too, so the copy can be
// changed without touching p. An empty slice stays empty and a nil one nil,
// so a clone is deep-equal to the original (the conformance suite compares
// inputs with their clones).
func (p Payload) Clone() Payload {
	if p == nil {
		return nil
	}
	out := make(Payload, len(p))
	for k, v := range p {
		switch x := v.(type) {
		case []float64:
			out[k] = slices.Clone(x)
		case []string:
			out[k] = slices.Clone(x)
		default:
			out[k] = v
		}
	}
	return out
}
