package adapters

import (
	"fmt"
	"math"
	"strconv"

	"github.com/matriz/pipelines/schemas"
)

// input reads a message's payload and tags and collects one reason per
// problem, so a message with three bad keys gets three reasons at once
// instead of one per retry.
type input struct {
	node    string
	p       schemas.Payload
	reasons []string
}

func newInput(node string, msg *schemas.MatrizMessage) *input {
	return &input{node: node, p: msg.Payload}
}

// ok reports whether no problem has been found so far.
func (in *input) ok() bool { return len(in.reasons) == 0 }

// bad records that payload key holds something other than want.
func (in *input) bad(key, want string) {
	v, present := in.p[key]
	got := "missing"
	if present {
		got = "got " + describe(v)
	}
	// Joined, not formatted: Sprintf boxes each of the four strings.
	in.reasons = append(in.reasons, in.node+": payload."+key+": "+got+"; want "+want)
}

// problem records a reason about something other than one payload value.
func (in *input) problem(format string, args ...any) {
	in.reasons = append(in.reasons, in.node+": "+fmt.Sprintf(format, args...))
}

// has reports whether key is present with a non-null value.
func (in *input) has(key string) bool { return in.p[key] != nil }

// number reads a finite number (double or long) in [lo, hi]. It returns
// false when the key is absent (a reason only if required) or bad.
// What a number or long wants is written only for a reason: most values
// are good, and formatting the bounds costs allocations per key.
func (in *input) number(key string, lo, hi float64, required bool) (float64, bool) {
	if !in.has(key) {
		if required {
			in.bad(key, numberIn(lo, hi))
		}
		return 0, false
	}
	v, ok := in.p.Float(key)
	if !ok || v < lo || v > hi {
		in.bad(key, numberIn(lo, hi))
		return 0, false
	}
	return v, true
}

func numberIn(lo, hi float64) string { return "a number in " + interval(lo, hi) }

// long reads a whole number in [lo, hi].
func (in *input) long(key string, lo, hi int64, required bool) (int64, bool) {
	if !in.has(key) {
		if required {
			in.bad(key, wholeIn(lo, hi))
		}
		return 0, false
	}
	v, ok := in.p.Int(key)
	if !ok || v < lo || v > hi {
		in.bad(key, wholeIn(lo, hi))
		return 0, false
	}
	return v, true
}

func wholeIn(lo, hi int64) string {
	if hi == math.MaxInt64 {
		return fmt.Sprintf("a whole number ≥ %d", lo)
	}
	return fmt.Sprintf("a whole number in [%d, %d]", lo, hi)
}

// text reads a non-empty string.
func (in *input) text(key string, required bool) (string, bool) {
	const want = "a non-empty string"
	if !in.has(key) {
		if required {
			in.bad(key, want)
		}
		return "", false
	}
	s, ok := in.p.String(key)
	if !ok || s == "" {
		in.bad(key, want)
		return "", false
	}
	return s, true
}

// vector reads a non-empty array of finite doubles.
func (in *input) vector(key string, required bool) ([]float64, bool) {
	const want = "a non-empty array<double> of finite numbers"
	if !in.has(key) {
		if required {
			in.bad(key, want)
		}
		return nil, false
	}
	v, ok := in.p.Vector(key)
	if !ok || len(v) == 0 || !finite(v) {
		in.bad(key, want)
		return nil, false
	}
	return v, true
}

// texts reads an array of non-empty strings; empty is allowed only when
// allowEmpty is set.
func (in *input) texts(key string, required, allowEmpty bool) ([]string, bool) {
	want := "a non-empty array<string> of non-empty strings"
	if allowEmpty {
		want = "an array<string> of non-empty strings"
	}
	if !in.has(key) {
		if required {
			in.bad(key, want)
		}
		return nil, false
	}
	v, ok := in.p.Strings(key)
	if !ok || (len(v) == 0 && !allowEmpty) {
		in.bad(key, want)
		return nil, false
	}
	for _, s := range v {
		if s == "" {
			in.bad(key, want)
			return nil, false
		}
	}
	return v, true
}

// sameLength records a problem when key's array does not match n, the
// length of the array named by other.
func (in *input) sameLength(key string, got int, other string, n int) bool {
	if got == n {
		return true
	}
	in.problem("payload.%s: has %d entries; want %d, one per payload.%s entry", key, got, n, other)
	return false
}

// describe names a payload value's union branch and, for scalars, its
// value, so a reason says exactly what arrived.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case int64:
		return "long " + strconv.FormatInt(x, 10)
	case int:
		return "int " + strconv.Itoa(x)
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "+Inf"
		case math.IsInf(x, -1):
			return "-Inf"
		}
		return "double " + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return "string " + strconv.Quote(x)
	case []float64:
		if !finite(x) {
			return fmt.Sprintf("array<double> of %d with NaN or Inf", len(x))
		}
		return fmt.Sprintf("array<double> of %d", len(x))
	case []string:
		return fmt.Sprintf("array<string> of %d", len(x))
	}
	return fmt.Sprintf("%T", v)
}

// interval prints [lo, hi] with ∞ for unbounded ends.
func interval(lo, hi float64) string {
	f := func(x float64) string {
		switch {
		case math.IsInf(x, 1):
			return "+∞"
		case math.IsInf(x, -1):
			return "-∞"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "[" + f(lo) + ", " + f(hi) + "]"
}
