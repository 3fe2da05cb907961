package schemas

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

// TestEncodeMatchesTwmbAvro pins the hand-written writer to twmb/avro's
// encoder: with at most one entry per map, where map order cannot differ,
// both must give identical bytes for every fixture.
func TestEncodeMatchesTwmbAvro(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			v := singleKeyed(f.value)
			ours, err := encodeAny(nil, v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			s, err := Schema(f.schema)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := s.AppendEncode(nil, toNative(v))
			if err != nil {
				t.Fatalf("twmb/avro encode: %v", err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("bytes differ from twmb/avro:\nours   %x\ntheirs %x", ours, theirs)
			}
		})
	}
}

// TestEncodeSortsMapKeys checks that map order does not leak into the bytes:
// the same message built from maps filled in opposite orders encodes
// identically, many times over (Go randomises map iteration per range).
func TestEncodeSortsMapKeys(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	fwd, rev := Payload{}, Payload{}
	tagsFwd, tagsRev := map[string]string{}, map[string]string{}
	for i := range keys {
		fwd[keys[i]] = float64(i)
		tagsFwd[keys[i]] = keys[i]
		j := len(keys) - 1 - i
		rev[keys[j]] = float64(j)
		tagsRev[keys[j]] = keys[j]
	}
	a := messageFixture()
	a.Payload, a.Glyph.Tags = fwd, tagsFwd
	b := messageFixture()
	b.Payload, b.Glyph.Tags = rev, tagsRev
	want, err := AppendEncode(nil, &a)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		got, err := AppendEncode(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("encode %d differs:\n%x\n%x", i, want, got)
		}
	}
}

// TestEncodeManyKeys covers maps larger than the on-stack sort scratch.
func TestEncodeManyKeys(t *testing.T) {
	m := messageFixture()
	m.Payload = Payload{}
	m.Glyph.Tags = map[string]string{}
	for i := range 3 * sortScratch {
		k := string(rune('A'+i%26)) + string(rune('a'+i/26))
		m.Payload[k] = int64(i)
		m.Glyph.Tags[k] = k
	}
	b, err := AppendEncode(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&m, &got) {
		t.Error(d)
	}
}

// TestEncodeAppends checks that AppendEncode keeps what dst held and, on
// error, returns dst unextended.
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
	m.Lane = "staging"
	out, err = AppendEncode(append([]byte(nil), prefix...), &m)
	if err == nil || !bytes.Equal(out, prefix) {
		t.Fatalf("bad lane: got %q, %v; want the prefix alone and an error", out, err)
	}
}

// TestEncodeIntPayload checks that a Go int in a payload travels as a long
// and comes back as int64, the documented type.
func TestEncodeIntPayload(t *testing.T) {
	m := messageFixture()
	m.Payload = Payload{"fanout": 7, "neg": -3}
	b, err := AppendEncode(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Payload["fanout"] != int64(7) || got.Payload["neg"] != int64(-3) {
		t.Fatalf("got %#v, want int64 7 and -3", got.Payload)
	}
}

// TestEncodeErrors checks that every value outside its schema gives an
// *EncodeError naming the schema and the field.
func TestEncodeErrors(t *testing.T) {
	far := time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		value  any
		schema Name
		field  string
		target any
	}{
		{"bad lane", &MatrizMessage{Lane: "staging"}, NameMessage, "lane", new(*SymbolError)},
		{"empty lane", &MatrizResult{}, NameResult, "lane", new(*SymbolError)},
		{"bad event kind", &Event{Kind: "party", Lane: LaneProd}, NameEvent, "kind", new(*SymbolError)},
		{"bad event lane", &Event{Kind: EventAction}, NameEvent, "lane", new(*SymbolError)},
		{"bad risk class", &Trace{Lane: LaneProd, RiskClass: "extreme"}, NameTrace, "risk_class", new(*SymbolError)},
		{"bad trace lane", &Trace{}, NameTrace, "lane", new(*SymbolError)},
		{"payload int32", &MatrizMessage{Lane: LaneProd, Payload: Payload{"x": int32(1)}}, NameMessage, "payload", new(*PayloadTypeError)},
		{"payload float32", &Event{Kind: EventAction, Lane: LaneProd, Payload: Payload{"x": float32(1)}}, NameEvent, "payload", new(*PayloadTypeError)},
		{"payload []any", &MatrizResult{Lane: LaneProd, Payload: Payload{"x": []any{1.0}}}, NameResult, "payload", new(*PayloadTypeError)},
		{"crumb data", &MatrizResult{Lane: LaneProd, Trace: []Crumb{{}, {Data: Payload{"x": map[string]any{}}}}}, NameResult, "trace[1].data", new(*PayloadTypeError)},
		{"trace inputs", &Trace{Lane: LaneProd, RiskClass: RiskHigh, Inputs: Payload{"x": struct{}{}}}, NameTrace, "inputs", new(*PayloadTypeError)},
		{"trace outputs", &Trace{Lane: LaneProd, RiskClass: RiskHigh, Outputs: Payload{"x": []int{1}}}, NameTrace, "outputs", new(*PayloadTypeError)},
		{"trace crumb", &Trace{Lane: LaneProd, RiskClass: RiskHigh, Crumbs: []Crumb{{Data: Payload{"x": uint8(1)}}}}, NameTrace, "crumbs[0].data", new(*PayloadTypeError)},
		{"ts too late", &MatrizMessage{TS: far, Lane: LaneProd}, NameMessage, "ts", nil},
		{"ts too early", &Event{TS: time.Date(-300000, 1, 1, 0, 0, 0, 0, time.UTC)}, NameEvent, "ts", nil},
		{"result ts", &MatrizResult{TS: far}, NameResult, "ts", nil},
		{"trace ts", &Trace{TS: far}, NameTrace, "ts", nil},
		{"crumb t", &Trace{Lane: LaneProd, Crumbs: []Crumb{{T: far}}}, NameTrace, "crumbs[0].t", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := encodeAny(nil, c.value)
			if !errors.Is(err, ErrEncode) {
				t.Fatalf("got %v, want ErrEncode", err)
			}
			var ee *EncodeError
			if !errors.As(err, &ee) || ee.Schema != c.schema || ee.Field != c.field {
				t.Fatalf("got %#v, want an *EncodeError for %s field %s", err, c.schema, c.field)
			}
			if c.target != nil && !errors.As(err, c.target) {
				t.Fatalf("%v does not wrap %T", err, c.target)
			}
			if ee.Error() == "" || !bytes.Contains([]byte(ee.Error()), []byte(c.field)) {
				t.Fatalf("message %q does not name the field", ee.Error())
			}
		})
	}
}

// TestTimestampBoundaries checks the last representable instants and the
// rounding of sub-microsecond times (towards the past, like UnixMicro).
func TestTimestampBoundaries(t *testing.T) {
	for _, ts := range []time.Time{
		time.UnixMicro(math.MaxInt64).UTC(),
		time.UnixMicro(math.MinInt64).UTC(),
		time.UnixMicro(math.MaxInt64).Add(999 * time.Nanosecond), // rounds down into range
		time.Unix(maxMicroSeconds, 0).UTC(),
		time.Unix(-maxMicroSeconds, 0).UTC(),
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
		time.Unix(maxMicroSeconds+1, 0),
		time.Unix(-maxMicroSeconds-1, 0),
	} {
		m := messageFixture()
		m.TS = ts
		if _, err := AppendEncode(nil, &m); !errors.Is(err, ErrEncode) {
			t.Errorf("%v: got %v, want ErrEncode", ts, err)
		}
	}
}
