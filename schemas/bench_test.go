package schemas

import (
	"context"
	"testing"
)

// benchMessage is a realistic MatrizMessage: intent and action vectors of 8
// doubles, three glyph tags and six payload keys.
func benchMessage() MatrizMessage {
	return MatrizMessage{
		MsgID: uuidMsg,
		TS:    tsFixture,
		Lane:  LaneProd,
		Glyph: Glyph{ID: uuidGlyph, Kind: "intent", Version: "1.0.0",
			Tags: map[string]string{"subject_sid": "sid-42", "consent": "granted", "purpose": "care"}},
		Payload: Payload{
			"intent":                  []float64{0.12, -0.5, 1, 0.25, 3.25, -7.125, 0.001, 42},
			"action":                  []float64{0.1, -0.45, 0.9, 0.2, 3, -7, 0.002, 41.5},
			"constraint_satisfaction": 0.875,
			"novelty":                 0.62,
			"fanout":                  int64(3),
			"priority":                "P2",
		},
		Topic: "contradiction",
	}
}

func BenchmarkMessageEncode(b *testing.B) {
	m := benchMessage()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEncode(buf[:0], &m); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkMessageDecode(b *testing.B) {
	m := benchMessage()
	body, err := AppendEncode(nil, &m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var out MatrizMessage
	for b.Loop() {
		if err := Decode(body, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageDecodeWire is the runtime's path: header, cached schema
// lookup and resolution, decode.
func BenchmarkMessageDecodeWire(b *testing.B) {
	m := benchMessage()
	l, err := NewSchemaLookup(StaticFetcher(ownTexts(b)))
	if err != nil {
		b.Fatal(err)
	}
	wire, err := AppendWire(nil, 2, &m)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	var out MatrizMessage
	for b.Loop() {
		if _, err := DecodeWire(ctx, l, wire, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageValidate(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
