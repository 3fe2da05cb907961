package schemas

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// encodeAny encodes a pointer to any Record type with version ver of its
// schema.
func encodeAny(dst []byte, v any, ver Version) ([]byte, error) {
	switch x := v.(type) {
	case *Glyph:
		return AppendEncodeAs(dst, x, ver)
	case *MatrizMessage:
		return AppendEncodeAs(dst, x, ver)
	case *MatrizResult:
		return AppendEncodeAs(dst, x, ver)
	case *Event:
		return AppendEncodeAs(dst, x, ver)
	case *Trace:
		return AppendEncodeAs(dst, x, ver)
	}
	panic(fmt.Sprintf("encodeAny: %T is not a record", v))
}

// newRecord returns a pointer to a zero value of the Go type for name.
func newRecord(name Name) any {
	switch name {
	case NameGlyph:
		return new(Glyph)
	case NameMessage:
		return new(MatrizMessage)
	case NameResult:
		return new(MatrizResult)
	case NameEvent:
		return new(Event)
	case NameTrace:
		return new(Trace)
	}
	panic("newRecord: unknown schema " + string(name))
}

// decodeAny decodes src, written with version ver of name's schema, as the
// record type for name.
func decodeAny(name Name, ver Version, src []byte) (any, error) {
	v := newRecord(name)
	var err error
	switch x := v.(type) {
	case *Glyph:
		err = DecodeAs(src, x, ver)
	case *MatrizMessage:
		err = DecodeAs(src, x, ver)
	case *MatrizResult:
		err = DecodeAs(src, x, ver)
	case *Event:
		err = DecodeAs(src, x, ver)
	case *Trace:
		err = DecodeAs(src, x, ver)
	}
	return v, err
}

var timeType = reflect.TypeFor[time.Time]()

// diffValues compares want and got field by field and returns one line per
// difference, naming the field path. It is stricter than reflect.DeepEqual
// where the codec must be exact (doubles compare by bits, so -0 differs from
// 0 and NaN equals NaN) and looser where the wire cannot tell (a nil and an
// empty slice or map are the same Avro value; times compare as instants).
func diffValues(want, got any) []string {
	var out []string
	diffValue("", reflect.ValueOf(want), reflect.ValueOf(got), &out)
	return out
}

func diffValue(path string, w, g reflect.Value, out *[]string) {
	add := func(format string, args ...any) {
		*out = append(*out, fmt.Sprintf("%s: ", orRoot(path))+fmt.Sprintf(format, args...))
	}
	if !w.IsValid() || !g.IsValid() {
		if w.IsValid() != g.IsValid() {
			add("want %v, got %v", fmtValue(w), fmtValue(g))
		}
		return
	}
	if w.Kind() == reflect.Interface {
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				add("want %v, got %v", fmtValue(w), fmtValue(g))
			}
			return
		}
		w, g = w.Elem(), g.Elem()
	}
	if w.Type() != g.Type() {
		add("want type %s, got %s (%v)", w.Type(), g.Type(), fmtValue(g))
		return
	}
	if w.Type() == timeType {
		wt, gt := w.Interface().(time.Time), g.Interface().(time.Time)
		if !wt.Equal(gt) {
			add("want %s, got %s", wt.Format(time.RFC3339Nano), gt.Format(time.RFC3339Nano))
		}
		return
	}
	switch w.Kind() {
	case reflect.Pointer:
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				add("want %v, got %v", fmtValue(w), fmtValue(g))
			}
			return
		}
		diffValue(path, w.Elem(), g.Elem(), out)
	case reflect.Struct:
		for i := range w.NumField() {
			f := w.Type().Field(i)
			diffValue(join(path, f.Name), w.Field(i), g.Field(i), out)
		}
	case reflect.Map:
		if w.Len() != g.Len() {
			add("want %d entries %v, got %d entries %v", w.Len(), sortedMapKeys(w), g.Len(), sortedMapKeys(g))
			return
		}
		for _, k := range sortedMapKeys(w) {
			gv := g.MapIndex(reflect.ValueOf(k).Convert(g.Type().Key()))
			if !gv.IsValid() {
				add("key %q missing", k)
				continue
			}
			diffValue(fmt.Sprintf("%s[%q]", path, k), w.MapIndex(reflect.ValueOf(k).Convert(w.Type().Key())), gv, out)
		}
	case reflect.Slice:
		if w.Len() != g.Len() {
			add("want %d items %v, got %d items %v", w.Len(), fmtValue(w), g.Len(), fmtValue(g))
			return
		}
		for i := range w.Len() {
			diffValue(fmt.Sprintf("%s[%d]", path, i), w.Index(i), g.Index(i), out)
		}
	case reflect.Float32, reflect.Float64:
		wf, gf := w.Float(), g.Float()
		if math.IsNaN(wf) && math.IsNaN(gf) {
			return
		}
		if math.Float64bits(wf) != math.Float64bits(gf) {
			add("want %v, got %v", wf, gf)
		}
	default:
		if !w.Equal(g) {
			add("want %v, got %v", fmtValue(w), fmtValue(g))
		}
	}
}

func sortedMapKeys(m reflect.Value) []string {
	keys := make([]string, 0, m.Len())
	for _, k := range m.MapKeys() {
		keys = append(keys, k.String())
	}
	slices.Sort(keys)
	return keys
}

func fmtValue(v reflect.Value) string {
	if !v.IsValid() {
		return "<absent>"
	}
	if v.CanInterface() {
		return fmt.Sprintf("%#v", v.Interface())
	}
	return v.String()
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orRoot(path string) string {
	if path == "" {
		return "<root>"
	}
	return path
}

// singleKeyed returns a deep copy of the record v with every map (glyph
// tags, payloads) cut down to its smallest key. With at most one entry per
// map, map order cannot differ between encoders, so the bytes of any two
// correct Avro writers must be identical.
func singleKeyed(v any) any {
	c := reflect.New(reflect.TypeOf(v).Elem())
	c.Elem().Set(trimMaps(reflect.ValueOf(v).Elem()))
	return c.Interface()
}

func trimMaps(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			c.Field(i).Set(trimMaps(v.Field(i)))
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			c.Index(i).Set(trimMaps(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.Len() == 0 {
			return v
		}
		k := reflect.ValueOf(sortedMapKeys(v)[0]).Convert(v.Type().Key())
		c := reflect.MakeMapWithSize(v.Type(), 1)
		c.SetMapIndex(k, v.MapIndex(k))
		return c
	}
	return v
}

// TestDiffValuesCatches checks the comparison the codec tests rely on: it
// must report a changed field, a changed payload type, -0 against 0 and a
// changed time, and accept nil against empty.
func TestDiffValuesCatches(t *testing.T) {
	base := messageFixture()
	mutations := map[string]func(m *MatrizMessage){
		"topic":      func(m *MatrizMessage) { m.Topic = "x" },
		"glyph tag":  func(m *MatrizMessage) { m.Glyph.Tags["consent"] = "denied" },
		"long type":  func(m *MatrizMessage) { m.Payload["fanout"] = 3.0 },
		"vector":     func(m *MatrizMessage) { m.Payload["intent"] = []float64{1} },
		"neg zero":   func(m *MatrizMessage) { m.Payload["risk"] = math.Copysign(0, -1); base.Payload["risk"] = 0.0 },
		"time":       func(m *MatrizMessage) { m.TS = m.TS.Add(time.Microsecond) },
		"extra key":  func(m *MatrizMessage) { m.Payload["new"] = nil },
		"nil vs str": func(m *MatrizMessage) { m.Payload["note"] = "" },
	}
	for name, mutate := range mutations {
		base = messageFixture()
		m := messageFixture()
		mutate(&m)
		if len(diffValues(&base, &m)) == 0 {
			t.Errorf("%s: no difference reported", name)
		}
	}
	a, b := messageFixture(), messageFixture()
	a.Glyph.Tags, b.Glyph.Tags = nil, map[string]string{}
	a.Payload["no_vec"], b.Payload["no_vec"] = []float64(nil), []float64{}
	a.Payload["nan"], b.Payload["nan"] = math.NaN(), math.NaN()
	if d := diffValues(&a, &b); len(d) != 0 {
		t.Errorf("nil/empty or NaN/NaN reported as different: %v", d)
	}
}
