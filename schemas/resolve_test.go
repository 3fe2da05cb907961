package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/avro"
)

const evolutionDir = "testdata/evolution"

// The test-only breaking versions: GLYPH v3 and MatrizMessage v3 retype
// glyph kind from string to int. Both are self-contained, so they can be
// registered as they are.
const (
	glyphV3File   = "glyph_v3_breaking.avsc"
	messageV3File = "message_v3_breaking.avsc"
)

func readEvolution(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(evolutionDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVersions(t *testing.T) {
	for name, want := range map[Name][]Version{
		NameGlyph: {V1, V2}, NameMessage: {V1, V2}, NameResult: {V1}, NameEvent: {V1}, NameTrace: {V1},
	} {
		if got := Versions(name); !slices.Equal(got, want) {
			t.Errorf("Versions(%s) = %v, want %v", name, got, want)
		}
		if got := LatestVersion(name); got != want[len(want)-1] {
			t.Errorf("LatestVersion(%s) = %v", name, got)
		}
		latest, err := Schema(name)
		if err != nil {
			t.Fatal(err)
		}
		pinned, err := SchemaOf(name, want[len(want)-1])
		if err != nil || pinned != latest {
			t.Errorf("%s: Schema is not the latest version's schema (%v)", name, err)
		}
	}
	if Versions("Nope") != nil {
		t.Error("Versions of an unknown schema is not nil")
	}
	v1, _ := TextOf(NameGlyph, V1)
	v2, _ := TextOf(NameGlyph, V2)
	if strings.Contains(v1, `"name":"subject_sid"`) || !strings.Contains(v2, `"name":"subject_sid"`) || !strings.Contains(v2, `"name":"Consent"`) {
		t.Errorf("glyph texts do not differ by the v2 fields:\nv1 %s\nv2 %s", v1, v2)
	}
	m2, _ := TextOf(NameMessage, V2)
	if !strings.Contains(m2, `"name":"provenance"`) {
		t.Errorf("message v2 does not inline GLYPH v2: %s", m2)
	}
}

func TestUnknownVersion(t *testing.T) {
	if _, err := SchemaOf(NameResult, V2); !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "MatrizResult has no v2") {
		t.Fatalf("SchemaOf(result, v2) = %v, want ErrUnknownVersion naming the schema and version", err)
	}
	r := MatrizResult{}
	if b, err := AppendEncodeAs([]byte("x"), &r, V2); !errors.Is(err, ErrUnknownVersion) || string(b) != "x" {
		t.Fatalf("AppendEncodeAs(v2) = %q, %v", b, err)
	}
	if err := DecodeAs(nil, &r, Version(9)); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("DecodeAs(v9) = %v", err)
	}
	l, _ := NewSchemaLookup(StaticFetcher(ownTexts(t)))
	if _, err := ResolveIDAs[MatrizResult](context.Background(), l, 3, V2); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("ResolveIDAs(v2) = %v", err)
	}
	for s, want := range map[string]Version{"v1": V1, "2": V2, "V2": V2, "latest": Latest, " Latest ": Latest} {
		if got, err := ParseVersion(s); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "v0", "x", "-1", "v"} {
		if _, err := ParseVersion(s); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("ParseVersion(%q) = %v, want ErrUnknownVersion", s, err)
		}
	}
	if V2.String() != "v2" || Latest.String() != "latest" {
		t.Errorf("String: %s %s", V2, Latest)
	}
}

// TestV1WriterIgnoresV2Fields: a producer pinned to v1 writes exactly the
// v1 bytes whatever the v2 fields hold (twmb/avro encodes only the fields
// its schema has), and those bytes read back with the v2 fields empty.
func TestV1WriterIgnoresV2Fields(t *testing.T) {
	with := messageFixture()
	with.Glyph = glyphV2Fixture()
	without := with
	without.Glyph.SubjectSID, without.Glyph.Consent, without.Glyph.Provenance = nil, nil, nil
	for _, m := range []MatrizMessage{with, without} {
		m.Payload = Payload{"risk": 0.25} // one entry: a single encoding
		m.Glyph.Tags = map[string]string{"a": "b"}
		b1, err := AppendEncodeAs(nil, &m, V1)
		if err != nil {
			t.Fatal(err)
		}
		plain := m
		plain.Glyph.SubjectSID, plain.Glyph.Consent, plain.Glyph.Provenance = nil, nil, nil
		want, err := AppendEncodeAs(nil, &plain, V1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, want) {
			t.Fatalf("v1 bytes depend on the v2 fields:\n%x\n%x", b1, want)
		}
		b2, err := AppendEncodeAs(nil, &m, V2)
		if err != nil {
			t.Fatal(err)
		}
		if len(b2) <= len(b1) {
			t.Fatalf("v2 encoding (%d bytes) is not longer than v1 (%d)", len(b2), len(b1))
		}
		var got MatrizMessage
		if err := DecodeAs(b1, &got, V1); err != nil {
			t.Fatal(err)
		}
		for _, d := range diffValues(&plain, &got) {
			t.Error(d)
		}
		// v1 bytes are not v2 bytes: read without resolution they fail.
		if err := DecodeAs(b1, &got, V2); !errors.Is(err, ErrDecode) {
			t.Fatalf("v1 bytes decoded as v2 without resolution: %v", err)
		}
	}
}

// TestGlyphV2IsFullyCompatible: v2 only adds fields with defaults, so each
// version reads the other's data, for GLYPH and for MatrizMessage.
func TestGlyphV2IsFullyCompatible(t *testing.T) {
	for _, name := range []Name{NameGlyph, NameMessage} {
		v1, _ := SchemaOf(name, V1)
		v2, _ := SchemaOf(name, V2)
		if err := avro.CheckCompatibility(v1, v2); err != nil {
			t.Errorf("%s: v2 reader cannot read v1: %v", name, err)
		}
		if err := avro.CheckCompatibility(v2, v1); err != nil {
			t.Errorf("%s: v1 reader cannot read v2: %v", name, err)
		}
	}
}

// crossVersionLookup has message v1 at id 1 and v2 at id 2, as a registry
// holds them after deploy.
func crossVersionLookup(t *testing.T) *SchemaLookup {
	t.Helper()
	v1, _ := TextOf(NameMessage, V1)
	v2, _ := TextOf(NameMessage, V2)
	l, err := NewSchemaLookup(StaticFetcher(map[uint32]string{1: v1, 2: v2}))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestV1MessageReadsWithV2 is the BACKWARD direction: a message written
// with v1 (id 1) decodes in a v2 consumer through schema resolution, the
// new fields filled from their defaults and every v1 field intact.
func TestV1MessageReadsWithV2(t *testing.T) {
	l := crossVersionLookup(t)
	want := messageFixture()
	b, err := AppendWireAs(nil, 1, &want, V1)
	if err != nil {
		t.Fatal(err)
	}
	for _, read := range []func(*MatrizMessage) (uint32, error){
		func(m *MatrizMessage) (uint32, error) { return DecodeWireAs(context.Background(), l, b, m, V2) },
		func(m *MatrizMessage) (uint32, error) { return DecodeWire(context.Background(), l, b, m) }, // latest is v2
	} {
		got := MatrizMessage{Glyph: glyphV2Fixture()} // stale v2 fields must not survive
		id, err := read(&got)
		if err != nil || id != 1 {
			t.Fatalf("decode: id %d, %v", id, err)
		}
		if got.Glyph.SubjectSID != nil || got.Glyph.Consent != nil {
			t.Errorf("v2 fields not at their null defaults: %v %v", got.Glyph.SubjectSID, got.Glyph.Consent)
		}
		if got.Glyph.Provenance != nil {
			t.Errorf("provenance = %#v, want the default [] as nil, the zero value", got.Glyph.Provenance)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("v1 message read as v2 is not deeply equal to what was written:\n%#v\n%#v", got, want)
		}
		for _, d := range diffValues(&want, &got) {
			t.Error(d)
		}
	}
}

// TestV2MessageReadsAsV1 is the FORWARD direction: a producer already on v2
// writes with its id (2), and a consumer still on v1 decodes it through
// resolution, skipping the v2 fields; a v2 consumer reads them all.
func TestV2MessageReadsAsV1(t *testing.T) {
	l := crossVersionLookup(t)
	full := messageFixture()
	full.Glyph = glyphV2Fixture()
	b, err := AppendWireAs(nil, 2, &full, V2)
	if err != nil {
		t.Fatal(err)
	}
	var asV1 MatrizMessage
	if id, err := DecodeWireAs(context.Background(), l, b, &asV1, V1); err != nil || id != 2 {
		t.Fatalf("v1 consumer: id %d, %v", id, err)
	}
	wantV1 := full
	wantV1.Glyph.SubjectSID, wantV1.Glyph.Consent, wantV1.Glyph.Provenance = nil, nil, nil
	for _, d := range diffValues(&wantV1, &asV1) {
		t.Errorf("v1 consumer: %s", d)
	}
	var asV2 MatrizMessage
	if _, err := DecodeWireAs(context.Background(), l, b, &asV2, V2); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&full, &asV2) {
		t.Errorf("v2 consumer: %s", d)
	}
	// Each (id, reader version) pair is resolved once and cached apart.
	r1, _ := ResolveIDAs[MatrizMessage](context.Background(), l, 2, V1)
	r2, _ := ResolveIDAs[MatrizMessage](context.Background(), l, 2, V2)
	r2again, _ := ResolveIDAs[MatrizMessage](context.Background(), l, 2, Latest)
	if r1 == r2 || r2 != r2again {
		t.Fatalf("resolution cache: v1 %p, v2 %p, latest %p", r1, r2, r2again)
	}
}

// TestBreakingGlyphIsRefused: GLYPH v3 retypes kind from string to int, so
// a v3 reader cannot read v1 or v2 data, and resolution says which field.
func TestBreakingGlyphIsRefused(t *testing.T) {
	v3, err := avro.Parse(readEvolution(t, glyphV3File))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []Version{V1, V2} {
		old, _ := SchemaOf(NameGlyph, v)
		err = avro.CheckCompatibility(old, v3)
		var ce *avro.CompatibilityError
		if !errors.As(err, &ce) || ce.Path != "kind" {
			t.Fatalf("%s → v3: got %v, want an *avro.CompatibilityError at kind", v, err)
		}
		if _, err := avro.Resolve(old, v3); err == nil {
			t.Fatalf("%s → v3: Resolve accepted a breaking reader", v)
		}
	}
	mv3, err := avro.Parse(readEvolution(t, messageV3File))
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := SchemaOf(NameMessage, V2)
	var ce *avro.CompatibilityError
	if err := avro.CheckCompatibility(m2, mv3); !errors.As(err, &ce) || ce.Path != "glyph.kind" {
		t.Fatalf("message v2 → v3: got %v, want an error at glyph.kind", err)
	}
}

// TestBreakingFixturesDifferOnlyInKind keeps the v3 fixtures honest: each
// is the v2 schema with glyph kind's type changed to int (and docs), so
// the one incompatibility a check reports is the intended one.
func TestBreakingFixturesDifferOnlyInKind(t *testing.T) {
	for name, file := range map[Name]string{NameGlyph: glyphV3File, NameMessage: messageV3File} {
		v2, _ := TextOf(name, V2)
		want, got := schemaTree(t, v2), schemaTree(t, readEvolution(t, file))
		glyph := want
		if name == NameMessage {
			glyph = fieldType(want, "glyph")
		}
		kind := fieldOf(glyph, "kind")
		kind["type"] = "int"
		if !reflect.DeepEqual(want, got) {
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Errorf("%s is not %s v2 with kind:int\nwant %s\ngot  %s", file, name, w, g)
		}
	}
}

// schemaTree parses schema JSON without its docs.
func schemaTree(t *testing.T, text string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(x any) {
		switch y := x.(type) {
		case map[string]any:
			delete(y, "doc")
			for _, e := range y {
				strip(e)
			}
		case []any:
			for _, e := range y {
				strip(e)
			}
		}
	}
	strip(v)
	return v
}

func fieldOf(record map[string]any, name string) map[string]any {
	for _, f := range record["fields"].([]any) {
		if fm := f.(map[string]any); fm["name"] == name {
			return fm
		}
	}
	return nil
}

func fieldType(record map[string]any, name string) map[string]any {
	return fieldOf(record, name)["type"].(map[string]any)
}
