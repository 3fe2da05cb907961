package schemas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/avro"
)

// Writer schemas that are not the project's own: what another producer on
// a lane topic may have registered. Some resolve against MatrizMessage
// (extra fields, promotable types, other field order, enum symbols the
// reader lacks, recursive types the reader skips), some do not.
const (
	glyphV1Inline = `{"type":"record","name":"Glyph","namespace":"matriz","fields":[` +
		`{"name":"id","type":"string"},{"name":"kind","type":"string"},{"name":"version","type":"string"},` +
		`{"name":"tags","type":{"type":"map","values":"string"}}]}`
	stringListSchema = `{"type":"record","name":"StringList","namespace":"matriz","fields":[{"name":"items","type":{"type":"array","items":"string"}}]}`
	payloadValues    = `["null","boolean","long","double","string",{"type":"array","items":"double"},` + stringListSchema + `]`
)

var foreignWriters = []string{
	// 0: extra lane symbol, ts as int, topic as bytes, float and int in the payload union.
	`{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[` +
		`{"name":"msg_id","type":"string"},{"name":"ts","type":"int"},` +
		`{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","staging","candidate","prod"]}},` +
		`{"name":"glyph","type":` + glyphV1Inline + `},` +
		`{"name":"payload","type":{"type":"map","values":["null","int","float","string",{"type":"array","items":"float"},` + stringListSchema + `]}},` +
		`{"name":"topic","type":"bytes"}]}`,
	// 1: fields in another order, extra fields of every kind, a recursive one.
	`{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[` +
		`{"name":"topic","type":"string"},` +
		`{"name":"extra_fixed","type":{"type":"fixed","name":"F16","size":16}},` +
		`{"name":"chain","type":{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}},` +
		`{"name":"payload","type":{"type":"map","values":` + payloadValues + `}},` +
		`{"name":"glyph","type":` + glyphV1Inline + `},` +
		`{"name":"nested","type":{"type":"map","values":{"type":"array","items":{"type":"map","values":"bytes"}}}},` +
		`{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["prod","candidate","experimental"]}},` +
		`{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},` +
		`{"name":"msg_id","type":"string"},` +
		`{"name":"score","type":["null","double","string"],"default":null}]}`,
	// 2: a payload union with a branch the reader lacks, and a glyph with a union of records.
	`{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[` +
		`{"name":"msg_id","type":"string"},{"name":"ts","type":"long"},` +
		`{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","candidate","prod"]}},` +
		`{"name":"glyph","type":{"type":"record","name":"Glyph","fields":[{"name":"id","type":"string"},{"name":"kind","type":"string"},` +
		`{"name":"version","type":"string"},{"name":"tags","type":{"type":"map","values":"string"}},` +
		`{"name":"consent","type":["null",{"type":"record","name":"Consent","fields":[{"name":"granted","type":"boolean"},{"name":"purpose","type":"string"}]}]},` +
		`{"name":"provenance","type":{"type":"array","items":"string"}}]}},` +
		`{"name":"payload","type":{"type":"map","values":["null","bytes","long","string"]}},` +
		`{"name":"topic","type":"string"}]}`,
	// 3: the lane as a string: not readable as the enum.
	`{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[` +
		`{"name":"msg_id","type":"string"},{"name":"ts","type":"long"},{"name":"lane","type":"string"},` +
		`{"name":"glyph","type":` + glyphV1Inline + `},{"name":"payload","type":{"type":"map","values":"string"}},{"name":"topic","type":"string"}]}`,
	// 4: no msg_id, which the reader needs and has no default for.
	`{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[{"name":"ts","type":"long"},{"name":"topic","type":"string"}]}`,
	// 5: another record altogether.
	`{"type":"record","name":"Reading","namespace":"acme","fields":[{"name":"sensor","type":"string"},{"name":"value","type":"double"}]}`,
	// 6: a bare primitive, and 7: a union at the top.
	`"string"`,
	`["null",` + `{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[{"name":"msg_id","type":"string"}]}]`,
	// 8: text that is not a schema at all.
	`{"type":"record","name":"Broken","fields":[`,
}

// foreignID is the registry id of foreignWriters[i].
func foreignID(i int) uint32 { return uint32(100 + i) }

// generatedField lists, per MatrizMessage field, writer types a generated
// schema may give it; the fuzzer's gen bytes pick one each.
var generatedField = []struct {
	name  string
	types []string
}{
	{"msg_id", []string{`"string"`, `"bytes"`, `{"type":"string","logicalType":"uuid"}`, `["null","string"]`, `"int"`}},
	{"ts", []string{`"long"`, `"int"`, `{"type":"long","logicalType":"timestamp-micros"}`, `"double"`, `["long","null"]`}},
	{"lane", []string{`{"type":"enum","name":"Lane","symbols":["experimental","candidate","prod"]}`, `{"type":"enum","name":"Lane","symbols":["prod","candidate"]}`, `{"type":"enum","name":"Lane","symbols":["dev"],"default":"dev"}`, `"string"`}},
	{"glyph", []string{glyphV1Inline, `{"type":"record","name":"Glyph","namespace":"matriz","fields":[{"name":"id","type":"string"},{"name":"kind","type":"string"},{"name":"version","type":"string"},{"name":"tags","type":{"type":"map","values":"string"}},{"name":"provenance","type":{"type":"array","items":"string"}}]}`, `"string"`}},
	{"payload", []string{`{"type":"map","values":` + payloadValues + `}`, `{"type":"map","values":"long"}`, `{"type":"map","values":"int"}`, `{"type":"map","values":["null","float",{"type":"array","items":"int"}]}`, `{"type":"map","values":["string","long","null"]}`, `{"type":"map","values":{"type":"array","items":"string"}}`, `{"type":"array","items":"string"}`}},
	{"topic", []string{`"string"`, `"bytes"`, `{"type":"enum","name":"Topic","symbols":["memory","trend"]}`, `["null","string"]`}},
	{"extra", []string{``, `"long"`, `{"type":"array","items":{"type":"map","values":"double"}}`, `{"type":"fixed","name":"Pad","size":3}`, `{"type":"record","name":"L","fields":[{"name":"n","type":["null","L"]}]}`}},
}

// generatedWriter builds a MatrizMessage-shaped writer schema from gen:
// one type per field, fields in an order gen picks too.
func generatedWriter(gen []byte) string {
	at := func(i int) int {
		if i < len(gen) {
			return int(gen[i])
		}
		return 0
	}
	var fields []string
	for i, f := range generatedField {
		t := f.types[at(i)%len(f.types)]
		if t == "" {
			continue
		}
		fields = append(fields, fmt.Sprintf(`{"name":%q,"type":%s}`, f.name, t))
	}
	if r := at(len(generatedField)) % len(fields); r > 0 { // rotate the order
		fields = append(fields[r:], fields[:r]...)
	}
	return `{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[` + strings.Join(fields, ",") + `]}`
}

// foreignSeedBody encodes a plausible value with writer text, or nil when
// the text does not parse or the value does not fit it.
func foreignSeedBody(text string) []byte {
	s, err := avro.Parse(text)
	if err != nil {
		return nil
	}
	glyph := map[string]any{"id": uuidMsg, "kind": "intent", "version": "1", "tags": map[string]any{"consent": "yes"}, "provenance": []any{"sensor:a"}, "consent": nil}
	for _, v := range []any{
		map[string]any{"msg_id": uuidMsg, "ts": int32(1_700_000), "lane": "staging", "glyph": glyph, "payload": map[string]any{"risk": float32(0.5)}, "topic": []byte("memory")},
		map[string]any{"msg_id": uuidMsg, "ts": int64(1_700_000_000_000), "lane": "prod", "glyph": glyph, "payload": map[string]any{"risk": 0.5, "n": int64(3)}, "topic": "memory",
			"extra_fixed": make([]byte, 16), "chain": map[string]any{"v": int64(1), "next": map[string]any{"v": int64(2), "next": nil}}, "nested": map[string]any{}, "score": nil},
		map[string]any{"msg_id": uuidMsg, "ts": int64(1), "lane": "candidate", "glyph": glyph, "payload": map[string]any{"b": []byte("x")}, "topic": "trend"},
	} {
		if b, err := s.AppendEncode(nil, v); err == nil {
			return b
		}
	}
	return nil
}

// FuzzDecodeWireForeign decodes arbitrary bodies written, by their schema
// id, with a writer schema that is not the project's own: one of
// foreignWriters (pick), or one generated from gen. Never a panic; every
// failure a typed error (*WireError, *SchemaIDError wrapping
// ErrIncompatible or ErrSchemaText, *DecodeError); whatever decodes
// validates without panicking and encodes again with our schema to an
// equal value. Run it longer with
//
//	go test ./schemas/ -run '^$' -fuzz FuzzDecodeWireForeign -fuzztime 60s
func FuzzDecodeWireForeign(f *testing.F) {
	texts := map[uint32]string{}
	for i, w := range foreignWriters {
		texts[foreignID(i)] = w
	}
	shared, err := NewSchemaLookup(StaticFetcher(texts))
	if err != nil {
		f.Fatal(err)
	}
	for i, w := range foreignWriters {
		f.Add(uint8(i), []byte{}, foreignSeedBody(w))
		f.Add(uint8(i), []byte{}, []byte{})
	}
	// A chain nested deeper than the decoder's recursion limit, in the
	// recursive field the reader skips.
	f.Add(uint8(1), []byte{}, cat(str("memory"), make([]byte, 16), bytes.Repeat([]byte{0, 2}, 20_000), []byte{0, 0}))
	for _, gen := range [][]byte{{0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1}, {2, 3, 2, 1, 3, 2, 4, 3}, {4, 4, 3, 2, 5, 3, 3, 5}} {
		f.Add(uint8(255), gen, foreignSeedBody(generatedWriter(gen)))
	}
	f.Fuzz(func(t *testing.T, pick uint8, gen []byte, body []byte) {
		lookup, id := shared, foreignID(int(pick)%len(foreignWriters))
		if int(pick) >= 2*len(foreignWriters) {
			// A schema of the fuzzer's own making, under an id of its own.
			id = 999
			if lookup, err = NewSchemaLookup(StaticFetcher(map[uint32]string{id: generatedWriter(gen)})); err != nil {
				t.Fatal(err)
			}
		}
		wire := append(AppendWireHeader(nil, id), body...)
		for _, v := range Versions(NameMessage) {
			checkForeignDecode(t, lookup, wire, v)
		}
	})
}

func checkForeignDecode(t *testing.T, l *SchemaLookup, wire []byte, v Version) {
	var m MatrizMessage
	_, err := DecodeWireAs(context.Background(), l, wire, &m, v)
	if err != nil {
		var (
			we *WireError
			se *SchemaIDError
			de *DecodeError
		)
		switch {
		case errors.As(err, &we), errors.As(err, &de) && errors.Is(err, ErrDecode):
		case errors.As(err, &se) && (errors.Is(err, ErrIncompatible) || errors.Is(err, ErrSchemaText)):
		default:
			t.Fatalf("reader %s: untyped error %T: %v", v, err, err)
		}
		return
	}
	_ = m.Validate() // must not panic on anything the decoder accepts
	enc, err := AppendEncodeAs(nil, &m, v)
	if err != nil {
		t.Fatalf("reader %s: a decoded message does not encode with our schema: %v\n%#v", v, err, m)
	}
	var again MatrizMessage
	if err := DecodeAs(enc, &again, v); err != nil {
		t.Fatalf("reader %s: re-encoded message does not decode: %v", v, err)
	}
	for _, d := range diffValues(&m, &again) {
		t.Errorf("reader %s: %s", v, d)
	}
}
