package replay

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// This file compares two decoded records field by field. Bytes would not
// do: Avro writes map entries (payloads, tags) in Go's map iteration order,
// so equal records can encode differently.

// Absent stands for a value one side does not have: a map key only the
// other side has, or a list element past the end of the shorter list.
type Absent struct{}

func (Absent) String() string { return "(absent)" }

// MarshalText makes an Absent read "(absent)" in --json output too.
func (Absent) MarshalText() ([]byte, error) { return []byte("(absent)"), nil }

// FirstDifference returns the first path at which a and b differ, with the
// value each side has there, or ok false when they are equal. Structs are
// compared field by field in declaration order, named by their avro tag
// (so a path reads like the schema: payload.drift_ema, trace[3].data.outcome);
// maps key by key in sorted order; slices index by index (nil and empty are
// equal); times by instant; floats exactly, NaN equal to NaN.
func FirstDifference(a, b any) (path string, left, right any, ok bool) {
	d := firstDiff(reflect.ValueOf(a), reflect.ValueOf(b))
	if d == nil {
		return "", nil, nil, false
	}
	slices.Reverse(d.path)
	return strings.TrimPrefix(strings.Join(d.path, ""), "."), d.left, d.right, true
}

// difference is where two values differ. The path is built only once a
// difference is found, innermost element first, as the recursion unwinds:
// comparing equal records allocates no paths.
type difference struct {
	path        []string // ".field", ".key", `["odd key"]`, "[3]"
	left, right any
}

func (d *difference) under(seg string) *difference {
	d.path = append(d.path, seg)
	return d
}

func diffAt(left, right any) *difference { return &difference{left: left, right: right} }

var (
	timeType    = reflect.TypeFor[time.Time]()
	payloadType = reflect.TypeFor[schemas.Payload]()
)

func firstDiff(a, b reflect.Value) *difference {
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() == b.IsValid() {
			return nil
		}
		return diffAt(valueOrNil(a), valueOrNil(b))
	}
	if a.Type() != b.Type() {
		return diffAt(valueOrNil(a), valueOrNil(b))
	}
	switch a.Type() {
	case timeType:
		if ta, tb := a.Interface().(time.Time), b.Interface().(time.Time); !ta.Equal(tb) {
			return diffAt(ta, tb)
		}
		return nil
	case payloadType:
		// Most of a record is payloads: compared without reflection.
		return payloadDiff(a.Interface().(schemas.Payload), b.Interface().(schemas.Payload))
	}
	switch a.Kind() {
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() == b.IsNil() {
				return nil
			}
			return diffAt(valueOrNil(a), valueOrNil(b))
		}
		return firstDiff(a.Elem(), b.Elem())
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if d := firstDiff(a.Field(i), b.Field(i)); d != nil {
				return d.under("." + fieldName(f))
			}
		}
		return nil
	case reflect.Map:
		return mapDiff(a, b)
	case reflect.Slice, reflect.Array:
		n := min(a.Len(), b.Len())
		for i := range n {
			if d := firstDiff(a.Index(i), b.Index(i)); d != nil {
				return d.under(index(i))
			}
		}
		switch {
		case a.Len() > n:
			return diffAt(a.Index(n).Interface(), Absent{}).under(index(n))
		case b.Len() > n:
			return diffAt(Absent{}, b.Index(n).Interface()).under(index(n))
		}
		return nil
	case reflect.Float32, reflect.Float64:
		if sameFloat(a.Float(), b.Float()) {
			return nil
		}
		return diffAt(a.Interface(), b.Interface())
	}
	if !a.Comparable() { // funcs, chans: not in records; report rather than panic
		return diffAt(fmt.Sprintf("%v", a), fmt.Sprintf("%v", b))
	}
	if a.Equal(b) {
		return nil
	}
	return diffAt(a.Interface(), b.Interface())
}

// mapDiff compares two maps of the same type. Equal maps (the usual case)
// are checked in any order; only unequal ones are walked over the union of
// their keys in sorted order, so the first difference is the same on every
// run.
func mapDiff(a, b reflect.Value) *difference {
	if a.Len() == b.Len() {
		equal := true
		for it := a.MapRange(); it.Next(); {
			vb := b.MapIndex(it.Key())
			if !vb.IsValid() || firstDiff(it.Value(), vb) != nil {
				equal = false
				break
			}
		}
		if equal {
			return nil
		}
	}
	keys := a.MapKeys()
	for _, k := range b.MapKeys() {
		if !a.MapIndex(k).IsValid() {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
	for _, k := range keys {
		seg := key(fmt.Sprint(k))
		va, vb := a.MapIndex(k), b.MapIndex(k)
		switch {
		case !va.IsValid():
			return diffAt(Absent{}, vb.Interface()).under(seg)
		case !vb.IsValid():
			return diffAt(va.Interface(), Absent{}).under(seg)
		}
		if d := firstDiff(va, vb); d != nil {
			return d.under(seg)
		}
	}
	return nil
}

// payloadDiff is mapDiff for a Payload, whose values are the few types of
// the payload union.
func payloadDiff(a, b schemas.Payload) *difference {
	if len(a) == len(b) {
		equal := true
		for k, va := range a {
			vb, ok := b[k]
			if !ok || valueDiff(va, vb) != nil {
				equal = false
				break
			}
		}
		if equal {
			return nil
		}
	}
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		va, okA := a[k]
		vb, okB := b[k]
		switch {
		case !okA:
			return diffAt(Absent{}, vb).under(key(k))
		case !okB:
			return diffAt(va, Absent{}).under(key(k))
		}
		if d := valueDiff(va, vb); d != nil {
			return d.under(key(k))
		}
	}
	return nil
}

// valueDiff compares two payload values.
func valueDiff(a, b any) *difference {
	switch x := a.(type) {
	case nil:
		if b == nil {
			return nil
		}
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return nil
		}
	case int64:
		if y, ok := b.(int64); ok && x == y {
			return nil
		}
	case string:
		if y, ok := b.(string); ok && x == y {
			return nil
		}
	case float64:
		if y, ok := b.(float64); ok && sameFloat(x, y) {
			return nil
		}
	case []float64:
		y, ok := b.([]float64)
		if !ok {
			break
		}
		for i := range min(len(x), len(y)) {
			if !sameFloat(x[i], y[i]) {
				return diffAt(x[i], y[i]).under(index(i))
			}
		}
		return lengthDiff(len(x), len(y), func(i int) any { return x[i] }, func(i int) any { return y[i] })
	case []string:
		y, ok := b.([]string)
		if !ok {
			break
		}
		for i := range min(len(x), len(y)) {
			if x[i] != y[i] {
				return diffAt(x[i], y[i]).under(index(i))
			}
		}
		return lengthDiff(len(x), len(y), func(i int) any { return x[i] }, func(i int) any { return y[i] })
	default: // not a payload type: the general comparer
		return firstDiff(reflect.ValueOf(a), reflect.ValueOf(b))
	}
	return diffAt(a, b)
}

// lengthDiff reports the first element past the shorter list's end.
func lengthDiff(la, lb int, ea, eb func(int) any) *difference {
	switch {
	case la > lb:
		return diffAt(ea(lb), Absent{}).under(index(lb))
	case lb > la:
		return diffAt(Absent{}, eb(la)).under(index(la))
	}
	return nil
}

func sameFloat(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }

func valueOrNil(v reflect.Value) any {
	if !v.IsValid() || !v.CanInterface() {
		return nil
	}
	return v.Interface()
}

// fieldName is a struct field's avro name, or its Go name without a tag.
func fieldName(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("avro"), ","); tag != "" && tag != "-" {
		return tag
	}
	return f.Name
}

func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// key is a map key as a path element: .key, or ["key"] when it would not
// read as one.
func key(k string) string {
	plain := k != "" && strings.IndexFunc(k, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	if !plain {
		return "[" + strconv.Quote(k) + "]"
	}
	return "." + k
}
