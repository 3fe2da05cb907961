package replay

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
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
	return firstDiff("", reflect.ValueOf(a), reflect.ValueOf(b))
}

var timeType = reflect.TypeFor[time.Time]()

func firstDiff(path string, a, b reflect.Value) (string, any, any, bool) {
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() == b.IsValid() {
			return "", nil, nil, false
		}
		return path, valueOrNil(a), valueOrNil(b), true
	}
	if a.Type() != b.Type() {
		return path, valueOrNil(a), valueOrNil(b), true
	}
	if a.Type() == timeType {
		if ta, tb := a.Interface().(time.Time), b.Interface().(time.Time); !ta.Equal(tb) {
			return path, ta, tb, true
		}
		return "", nil, nil, false
	}
	switch a.Kind() {
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() == b.IsNil() {
				return "", nil, nil, false
			}
			return path, valueOrNil(a), valueOrNil(b), true
		}
		return firstDiff(path, a.Elem(), b.Elem())
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if p, l, r, ok := firstDiff(joinField(path, fieldName(f)), a.Field(i), b.Field(i)); ok {
				return p, l, r, true
			}
		}
		return "", nil, nil, false
	case reflect.Map:
		return mapDiff(path, a, b)
	case reflect.Slice, reflect.Array:
		n := min(a.Len(), b.Len())
		for i := range n {
			if p, l, r, ok := firstDiff(path+"["+strconv.Itoa(i)+"]", a.Index(i), b.Index(i)); ok {
				return p, l, r, true
			}
		}
		switch {
		case a.Len() > n:
			return path + "[" + strconv.Itoa(n) + "]", a.Index(n).Interface(), Absent{}, true
		case b.Len() > n:
			return path + "[" + strconv.Itoa(n) + "]", Absent{}, b.Index(n).Interface(), true
		}
		return "", nil, nil, false
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		if x == y || math.IsNaN(x) && math.IsNaN(y) {
			return "", nil, nil, false
		}
		return path, a.Interface(), b.Interface(), true
	}
	if a.Comparable() && a.Equal(b) {
		return "", nil, nil, false
	}
	if !a.Comparable() { // funcs, chans: not in records; report rather than panic
		return path, fmt.Sprintf("%v", a), fmt.Sprintf("%v", b), true
	}
	return path, a.Interface(), b.Interface(), true
}

// mapDiff compares two maps of the same type over the union of their keys,
// in sorted order so the first difference is the same on every run.
func mapDiff(path string, a, b reflect.Value) (string, any, any, bool) {
	keys := a.MapKeys()
	for _, k := range b.MapKeys() {
		if !a.MapIndex(k).IsValid() {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y reflect.Value) int { return cmp.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
	for _, k := range keys {
		p := joinKey(path, fmt.Sprint(k))
		va, vb := a.MapIndex(k), b.MapIndex(k)
		switch {
		case !va.IsValid():
			return p, Absent{}, vb.Interface(), true
		case !vb.IsValid():
			return p, va.Interface(), Absent{}, true
		}
		if p, l, r, ok := firstDiff(p, va, vb); ok {
			return p, l, r, true
		}
	}
	return "", nil, nil, false
}

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

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// joinKey appends a map key as .key, or as ["key"] when it would not read
// as one path element.
func joinKey(path, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	return joinField(path, key)
}
