package interop

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

var goldenDir = filepath.Join("..", "schemas", "testdata", "golden")

func requireApacheAvro(t *testing.T) {
	t.Helper()
	requirePython(t, map[string]string{"avro": "python3-avro"})
}

// goldenSchema tells the record schema and version of a golden file by its
// name: glyph_*, message_*, result_*, event_*, trace_*; *_v2* is version 2.
func goldenSchema(file string) (schemas.Name, schemas.Version) {
	v := schemas.V1
	if strings.Contains(file, "_v2") {
		v = schemas.V2
	}
	for prefix, name := range map[string]schemas.Name{
		"glyph_": schemas.NameGlyph, "message_": schemas.NameMessage, "result_": schemas.NameResult,
		"event_": schemas.NameEvent, "trace_": schemas.NameTrace,
	} {
		if strings.HasPrefix(file, prefix) {
			return name, v
		}
	}
	return "", 0
}

// writeSchema writes version v of name's registered text to a file.
func writeSchema(t *testing.T, name schemas.Name, v schemas.Version) string {
	t.Helper()
	text, err := schemas.TextOf(name, v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), string(name)+"_"+v.String()+".avsc")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestApacheAvroDecodesGoldens: Apache Avro's Python decoder reads every
// golden body of schemas/testdata/golden (v1 and v2) with the schema text a
// registry holds, consuming exactly its bytes, to the same value, field by
// field and type by type, as twmb/avro (the Go codec); and its top-level
// strings and timestamps match the fixture JSON beside each body.
func TestApacheAvroDecodesGoldens(t *testing.T) {
	requireApacheAvro(t)
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.avro"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s (%v)", goldenDir, err)
	}
	type group struct {
		name schemas.Name
		v    schemas.Version
	}
	byGroup := map[group][]string{}
	for _, f := range files {
		name, v := goldenSchema(filepath.Base(f))
		if name == "" {
			t.Fatalf("golden file %s names no schema", f)
		}
		byGroup[group{name, v}] = append(byGroup[group{name, v}], f)
	}
	decoded, messages := 0, 0
	for g, fs := range byGroup {
		var out []struct {
			File     string         `json:"file"`
			Value    map[string]any `json:"value"`
			Consumed int            `json:"consumed"`
			Size     int            `json:"size"`
		}
		runPython(t, &out, "avro_decode.py", append([]string{writeSchema(t, g.name, g.v)}, fs...)...)
		if len(out) != len(fs) {
			t.Fatalf("%s %s: python decoded %d of %d bodies", g.name, g.v, len(out), len(fs))
		}
		s, err := schemas.SchemaOf(g.name, g.v)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			base := filepath.Base(o.File)
			if o.Consumed != o.Size || o.Size == 0 {
				t.Errorf("%s: python consumed %d of %d bytes", base, o.Consumed, o.Size)
			}
			body, err := os.ReadFile(o.File)
			if err != nil {
				t.Fatal(err)
			}
			var ours any
			if rest, err := s.Decode(body, &ours); err != nil || len(rest) != 0 {
				t.Fatalf("%s: Go decode: %v (%d left)", base, err, len(rest))
			}
			theirs, err1 := canon(o.Value)
			mine, err2 := canon(ours)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v %v", base, err1, err2)
			}
			if theirs != mine {
				t.Errorf("%s: Apache Avro and twmb/avro decode differently:\npython %s\ngo     %s", base, theirs, mine)
			}
			// The fixture JSON (goavro's rendering, committed beside the
			// body): every top-level string and timestamp agrees.
			var fixture map[string]any
			text, err := os.ReadFile(strings.TrimSuffix(o.File, ".avro") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(strings.NewReader(string(text)))
			dec.UseNumber()
			if err := dec.Decode(&fixture); err != nil {
				t.Fatal(err)
			}
			compared := 0
			for k, v := range o.Value {
				switch x := v.(type) {
				case string:
					f := fixture[k]
					if u, ok := f.(map[string]any); ok && len(u) == 1 {
						f = u["string"] // a union's string branch, as Avro JSON wraps it
					}
					if f != x {
						t.Errorf("%s: %s = %q, fixture JSON has %v", base, k, x, fixture[k])
					}
					compared++
				case map[string]any:
					if ts, ok := x["$ts"].(string); ok {
						if n, _ := fixture[k].(json.Number); string(n) != ts {
							t.Errorf("%s: %s = %s µs, fixture JSON has %v", base, k, ts, fixture[k])
						}
						compared++
					}
				}
			}
			if compared < 2 {
				t.Errorf("%s: only %d top-level fields compared with the fixture JSON", base, compared)
			}
			decoded++
			if g.name == schemas.NameMessage {
				messages++
			}
		}
	}
	if decoded != len(files) || messages < 5 {
		t.Fatalf("decoded %d of %d golden files (%d messages)", decoded, len(files), messages)
	}
	t.Logf("Apache Avro decoded %d golden bodies (%d MatrizMessages, v1 and v2) exactly as twmb/avro", decoded, messages)
}

// pythonMessage is the message testdata/avro_encode.py writes, spelled
// out in Go, as it arrives: Apache Avro's Python writer puts a value in the
// LAST union branch that accepts it (avro/io.py write_union), and a Python
// bool or int passes both long and double, so the payload's True and
// -2**63 are written in the double branch and read back as float64 1 and
// -2^63. The Go decoder reports the branch that was written; a Python
// producer that needs longs in a payload must pick the branch itself (a
// tagged-union writer such as fastavro's).
func pythonMessage(v schemas.Version) schemas.MatrizMessage {
	m := schemas.MatrizMessage{
		MsgID: "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
		TS:    time.Date(1969, time.July, 20, 20, 17, 40, 123456000, time.UTC),
		Lane:  schemas.LaneCandidate,
		Glyph: schemas.Glyph{ID: "0e9d8c7b-6a59-4483-9271-605f4e3d2c1b", Kind: "memory", Version: v.String()[1:],
			Tags: map[string]string{"ethics": "⚖", "": ""}},
		Payload: schemas.Payload{
			"null": nil, "yes": float64(1), "long": float64(math.MinInt64), "double": math.Copysign(0, -1),
			"text": "Grüße 🌍", "vector": []float64{0.5, -1.25, 1e300}, "strings": []string{"a", ""},
		},
		Topic: "trend",
	}
	if v == schemas.V2 {
		sid := "sid-python"
		m.Glyph.SubjectSID, m.Glyph.Consent, m.Glyph.Provenance = &sid, &schemas.Consent{Granted: false, Purpose: "research"}, []string{"python-avro", "节点"}
	}
	return m
}

// sameMessage compares two messages, doubles by their bits.
func sameMessage(t *testing.T, what string, want, got schemas.MatrizMessage) {
	t.Helper()
	if !want.TS.Equal(got.TS) {
		t.Errorf("%s: ts %v, want %v", what, got.TS, want.TS)
	}
	want.TS, got.TS = time.Time{}, time.Time{}
	if d, ok := got.Payload["double"].(float64); !ok || math.Float64bits(d) != math.Float64bits(want.Payload["double"].(float64)) {
		t.Errorf("%s: payload double %v, want -0", what, got.Payload["double"])
	}
	if want.Glyph.Provenance == nil && len(got.Glyph.Provenance) == 0 {
		got.Glyph.Provenance = nil
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s:\ngot  %#v\nwant %#v", what, got, want)
	}
}

// TestApacheAvroEncodingDecodesInGo: Apache Avro encodes a message with
// each version of the schema; the Go codec decodes the bytes to the same
// values, and reads across versions through the registry's resolution (a
// v2 reader fills v1's gaps with defaults, a v1 reader skips v2's fields).
func TestApacheAvroEncodingDecodesInGo(t *testing.T) {
	requireApacheAvro(t)
	v1Text, _ := schemas.TextOf(schemas.NameMessage, schemas.V1)
	v2Text, _ := schemas.TextOf(schemas.NameMessage, schemas.V2)
	lookup, err := schemas.NewSchemaLookup(schemas.StaticFetcher(map[uint32]string{1: v1Text, 2: v2Text}))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []schemas.Version{schemas.V1, schemas.V2} {
		out := filepath.Join(t.TempDir(), "python.avro")
		var res struct {
			Bytes int `json:"bytes"`
		}
		runPython(t, &res, "avro_encode.py", writeSchema(t, schemas.NameMessage, v), out, v.String()[1:])
		body, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if res.Bytes != len(body) || len(body) < 100 {
			t.Fatalf("%s: python wrote %d bytes, file has %d", v, res.Bytes, len(body))
		}
		var got schemas.MatrizMessage
		if err := schemas.DecodeAs(body, &got, v); err != nil {
			t.Fatalf("%s: Go cannot decode Apache Avro's bytes: %v", v, err)
		}
		want := pythonMessage(v)
		sameMessage(t, "python "+v.String()+" read as "+v.String(), want, got)
		if err := got.Validate(); err != nil {
			t.Errorf("%s: decoded message breaks the contract: %v", v, err)
		}
		// Across versions, through the wire format and resolution.
		wire := append(schemas.AppendWireHeader(nil, uint32(v)), body...)
		for _, reader := range []schemas.Version{schemas.V1, schemas.V2} {
			var cross schemas.MatrizMessage
			if _, err := schemas.DecodeWireAs(context.Background(), lookup, wire, &cross, reader); err != nil {
				t.Fatalf("python %s read as %s: %v", v, reader, err)
			}
			w := pythonMessage(v)
			if reader == schemas.V1 {
				w.Glyph.SubjectSID, w.Glyph.Consent, w.Glyph.Provenance = nil, nil, nil
			}
			sameMessage(t, "python "+v.String()+" read as "+reader.String(), w, cross)
		}
		if v == schemas.V2 && !slices.Equal(got.Glyph.Provenance, []string{"python-avro", "节点"}) {
			t.Errorf("provenance %q", got.Glyph.Provenance)
		}
		t.Logf("Apache Avro %s: %d bytes, decoded by Go as v1 and v2 readers", v, len(body))
	}
}
