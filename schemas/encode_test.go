package schemas

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/avro"
)

// TestEncodeAppends checks that AppendEncode keeps what dst held, that one
// buffer reused for many records gives each its own decodable body, and
// that on error dst comes back unextended.
func TestEncodeAppends(t *testing.T) {
	m := messageFixture()
	prefix := []byte("prefix")
	out, err := AppendEncode(append([]byte(nil), prefix...), &m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("prefix lost: %q", out[:len(prefix)])
	}
	var got MatrizMessage
	if err := Decode(out[len(prefix):], &got); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&m, &got) {
		t.Error(d)
	}

	buf := make([]byte, 0, 64) // small, so some records grow it and some reuse it
	for round := range 2 {
		for _, f := range fixtures() {
			buf, err = encodeAny(buf[:0], f.value, f.version)
			if err != nil {
				t.Fatalf("round %d %s: %v", round, f.name, err)
			}
			v, err := decodeAny(f.schema, f.version, buf)
			if err != nil {
				t.Fatalf("round %d %s: decode from the reused buffer: %v", round, f.name, err)
			}
			for _, d := range diffValues(f.value, v) {
				t.Errorf("round %d %s: %s", round, f.name, d)
			}
		}
	}

	m.Lane = "staging"
	full := append(make([]byte, 0, 512), prefix...)
	out, err = AppendEncode(full, &m)
	if err == nil || !bytes.Equal(out, prefix) {
		t.Fatalf("bad lane: got %q, %v; want the prefix alone and an error", out, err)
	}
	m = messageFixture()
	m.Payload["bad"] = int32(1)
	out, err = AppendEncode(full, &m)
	if err == nil || !bytes.Equal(out, prefix) {
		t.Fatalf("bad payload: got %q, %v; want the prefix alone and an error", out, err)
	}
}

// TestEncodeIntPayload checks that a Go int in a payload travels as a long
// and comes back as int64, the documented type.
func TestEncodeIntPayload(t *testing.T) {
	m := messageFixture()
	m.Payload = Payload{"fanout": 7, "neg": -3, "max": math.MaxInt}
	b, err := AppendEncode(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Payload["fanout"] != int64(7) || got.Payload["neg"] != int64(-3) || got.Payload["max"] != int64(math.MaxInt) {
		t.Fatalf("got %#v, want int64 7, -3 and MaxInt", got.Payload)
	}
}

// TestEncodeNilSlices checks that a nil vector or string list in a payload
// keeps its branch: it comes back as an empty slice of the same type, not
// as null (twmb/avro alone would write a nil slice in a union as null).
func TestEncodeNilSlices(t *testing.T) {
	m := messageFixture()
	m.Payload = Payload{"vec": []float64(nil), "list": []string(nil)}
	b, err := AppendEncode(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Payload["vec"].([]float64); !ok || v == nil || len(v) != 0 {
		t.Errorf("vec: got %#v, want []float64{}", got.Payload["vec"])
	}
	if v, ok := got.Payload["list"].([]string); !ok || v == nil || len(v) != 0 {
		t.Errorf("list: got %#v, want []string{}", got.Payload["list"])
	}
}

// TestToWireCopiesOnlyWhenNeeded checks the payload shape fix: a record
// whose payloads hold no []string (nor a nil vector) goes to twmb/avro as
// it is, without allocating; one that does is copied, and the caller's
// maps and crumbs are left as they were.
func TestToWireCopiesOnlyWhenNeeded(t *testing.T) {
	m := benchMessage()
	m.Payload["count"] = 5 // a Go int needs no copy: twmb/avro writes it as a long
	if w, err := toWire(&m); err != nil || w != any(&m) {
		t.Fatalf("got %p, %v; want the message itself", w, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = toWire(&m) }); n != 0 {
		t.Errorf("toWire allocated %v times for a payload already in wire shape", n)
	}
	r := MatrizResult{Lane: LaneProd, Payload: Payload{"x": 1.0}, Trace: []Crumb{{Data: Payload{"y": "z"}}}}
	if w, err := toWire(&r); err != nil || w != any(&r) {
		t.Fatalf("result: got %p, %v; want the result itself", w, err)
	}

	tr := Trace{Lane: LaneProd, RiskClass: RiskHigh,
		Crumbs:  []Crumb{{Stage: "a", Data: Payload{"n": 1.0}}, {Stage: "b", Data: Payload{"tags": []string{"x"}}}},
		Inputs:  Payload{"reasons": []string{"r"}, "n": int64(1)},
		Outputs: Payload{"n": int64(2)},
	}
	w, err := toWire(&tr)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := w.(*Trace)
	if !ok || c == &tr {
		t.Fatalf("got %T %p, want a copy of the trace", w, w)
	}
	if _, ok := c.Inputs["reasons"].(stringList); !ok {
		t.Errorf("copy inputs: %#v, want a stringList", c.Inputs["reasons"])
	}
	if _, ok := c.Crumbs[1].Data["tags"].(stringList); !ok {
		t.Errorf("copy crumb: %#v, want a stringList", c.Crumbs[1].Data["tags"])
	}
	if _, ok := tr.Inputs["reasons"].([]string); !ok {
		t.Errorf("caller's inputs changed: %#v", tr.Inputs["reasons"])
	}
	if _, ok := tr.Crumbs[1].Data["tags"].([]string); !ok {
		t.Errorf("caller's crumb changed: %#v", tr.Crumbs[1].Data["tags"])
	}
	if c.Outputs["n"] != int64(2) || c.Crumbs[0].Data["n"] != 1.0 {
		t.Errorf("copy lost unchanged values: %#v %#v", c.Outputs, c.Crumbs[0].Data)
	}

	// The whole round trip leaves the caller's value intact too.
	e := Event{ID: "e", Kind: EventAction, Lane: LaneProd, Payload: Payload{"l": []string{"a"}}}
	if _, err := AppendEncode(nil, &e); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Payload["l"].([]string); !ok {
		t.Errorf("AppendEncode changed the caller's payload: %#v", e.Payload["l"])
	}
}

// TestEncodeErrors checks that every value outside its schema gives an
// *EncodeError wrapping ErrEncode, naming the schema and the field, with the
// cause reachable: our *PayloadTypeError for payload values, twmb/avro's
// *avro.SemanticError for enum symbols and times. twmb/avro's field path
// names an array but not the index ("crumbs.t").
func TestEncodeErrors(t *testing.T) {
	far := time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)
	sem, pay := new(*avro.SemanticError), new(*PayloadTypeError)
	cases := []struct {
		name   string
		value  any
		schema Name
		field  string
		target any
		says   string
	}{
		{"bad lane", &MatrizMessage{Lane: "staging"}, NameMessage, "lane", sem, `unknown symbol "staging"`},
		{"empty lane", &MatrizResult{}, NameResult, "lane", sem, `unknown symbol ""`},
		{"bad event kind", &Event{Kind: "party", Lane: LaneProd}, NameEvent, "kind", sem, `unknown symbol "party"`},
		{"bad event lane", &Event{Kind: EventAction}, NameEvent, "lane", sem, "unknown symbol"},
		{"bad risk class", &Trace{Lane: LaneProd, RiskClass: "extreme"}, NameTrace, "risk_class", sem, `"extreme"`},
		{"bad trace lane", &Trace{}, NameTrace, "lane", sem, "unknown symbol"},
		{"payload int32", &MatrizMessage{Lane: LaneProd, Payload: Payload{"x": int32(1)}}, NameMessage, "payload", pay, "int32"},
		{"payload float32", &Event{Kind: EventAction, Lane: LaneProd, Payload: Payload{"x": float32(1)}}, NameEvent, "payload", pay, "float32"},
		{"payload []any", &MatrizResult{Lane: LaneProd, Payload: Payload{"x": []any{1.0}}}, NameResult, "payload", pay, "[]interface {}"},
		{"crumb data", &MatrizResult{Lane: LaneProd, Trace: []Crumb{{}, {Data: Payload{"x": map[string]any{}}}}}, NameResult, "trace[1].data", pay, `key "x"`},
		{"trace inputs", &Trace{Lane: LaneProd, RiskClass: RiskHigh, Inputs: Payload{"x": struct{}{}}}, NameTrace, "inputs", pay, "struct {}"},
		{"trace outputs", &Trace{Lane: LaneProd, RiskClass: RiskHigh, Outputs: Payload{"x": []int{1}}}, NameTrace, "outputs", pay, "[]int"},
		{"trace crumb", &Trace{Lane: LaneProd, RiskClass: RiskHigh, Crumbs: []Crumb{{Data: Payload{"x": uint8(1)}}}}, NameTrace, "crumbs[0].data", pay, "uint8"},
		{"ts too late", &MatrizMessage{TS: far, Lane: LaneProd}, NameMessage, "ts", sem, "overflows"},
		{"ts too early", &Event{TS: time.Date(-300000, 1, 1, 0, 0, 0, 0, time.UTC)}, NameEvent, "ts", sem, "overflows"},
		{"result ts", &MatrizResult{TS: far}, NameResult, "ts", sem, "overflows"},
		{"trace ts", &Trace{TS: far}, NameTrace, "ts", sem, "overflows"},
		{"crumb t", &Trace{Lane: LaneProd, Crumbs: []Crumb{{}, {T: far}}}, NameTrace, "crumbs.t", sem, "overflows"},
		{"result crumb t", &MatrizResult{Lane: LaneProd, Trace: []Crumb{{T: far}}}, NameResult, "trace.t", sem, "overflows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := encodeAny(nil, c.value, Latest)
			if !errors.Is(err, ErrEncode) {
				t.Fatalf("got %v, want ErrEncode", err)
			}
			var ee *EncodeError
			if !errors.As(err, &ee) || ee.Schema != c.schema || ee.Field != c.field {
				t.Fatalf("got %#v, want an *EncodeError for %s field %s", err, c.schema, c.field)
			}
			if !errors.As(err, c.target) {
				t.Fatalf("%v does not wrap %T", err, c.target)
			}
			msg := err.Error()
			for _, want := range []string{string(c.schema), "field " + c.field + ":", c.says} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			if strings.Count(msg, "field "+c.field+":") != 1 {
				t.Errorf("message %q names the field more than once", msg)
			}
		})
	}
	if got := (&EncodeError{Schema: NameGlyph, Err: errors.New("boom")}).Error(); got != "schemas: encode Glyph: boom" {
		t.Errorf("no field: got %q", got)
	}
}

// TestTimestampBoundaries checks the last representable instants and the
// rounding of sub-microsecond times (towards the past, like UnixMicro).
func TestTimestampBoundaries(t *testing.T) {
	const maxSeconds = math.MaxInt64 / 1_000_000 // whole seconds whose micros fit an int64
	for _, ts := range []time.Time{
		time.UnixMicro(math.MaxInt64).UTC(),
		time.UnixMicro(math.MinInt64).UTC(),
		time.UnixMicro(math.MaxInt64).Add(999 * time.Nanosecond), // rounds down into range
		time.Unix(maxSeconds, 0).UTC(),
		time.Unix(-maxSeconds, 0).UTC(),
		time.Unix(-1, 999_999_999).UTC(),
		time.Unix(-1, 1).UTC(),
		time.Unix(0, 1).UTC(),
		{},
	} {
		m := messageFixture()
		m.TS = ts
		b, err := AppendEncode(nil, &m)
		if err != nil {
			t.Fatalf("%v: %v", ts, err)
		}
		var got MatrizMessage
		if err := Decode(b, &got); err != nil {
			t.Fatalf("%v: %v", ts, err)
		}
		if want := time.UnixMicro(ts.UnixMicro()); !got.TS.Equal(want) {
			t.Errorf("%v: got %v, want %v", ts, got.TS, want)
		}
	}
	for _, ts := range []time.Time{
		time.UnixMicro(math.MaxInt64).Add(time.Microsecond),
		time.UnixMicro(math.MinInt64).Add(-time.Nanosecond),
		time.Unix(maxSeconds+1, 0),
		time.Unix(-maxSeconds-1, 0),
	} {
		m := messageFixture()
		m.TS = ts
		if _, err := AppendEncode(nil, &m); !errors.Is(err, ErrEncode) {
			t.Errorf("%v: got %v, want ErrEncode", ts, err)
		}
	}
}
