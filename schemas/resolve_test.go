package schemas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/avro"
)

const evolutionDir = "testdata/evolution"

// parseEvolution parses the embedded shared types (Lane, StringList) and then
// the given testdata files, in order, in one cache, and returns the last.
func parseEvolution(t *testing.T, files ...string) *avro.Schema {
	t.Helper()
	var cache avro.SchemaCache
	for _, f := range []string{"lane.avsc", "strings.avsc"} {
		text, err := avscFS.ReadFile("avro/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cache.Parse(string(text)); err != nil {
			t.Fatal(err)
		}
	}
	var s *avro.Schema
	for _, f := range files {
		text, err := os.ReadFile(filepath.Join(evolutionDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if s, err = cache.Parse(string(text)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return s
}

// TestV1MessageReadsWithV2 is the BACKWARD direction: a message written by
// this binary (Glyph v1) decodes through schema resolution with the
// test-only Glyph v2 reader schema, the new fields filled from their
// defaults and every v1 field intact.
func TestV1MessageReadsWithV2(t *testing.T) {
	v2 := parseEvolution(t, "glyph_v2.avsc", "message_v2.avsc")
	v1, err := Schema(NameMessage)
	if err != nil {
		t.Fatal(err)
	}
	if err := avro.CheckCompatibility(v1, v2); err != nil {
		t.Fatalf("v2 reader cannot read v1: %v", err)
	}
	resolved, err := avro.Resolve(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	want := messageFixture()
	body, err := AppendEncode(nil, &want)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	rest, err := resolved.Decode(body, &got)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode v1 body with v2 reader: %v (%d bytes left)", err, len(rest))
	}
	glyph, ok := got["glyph"].(map[string]any)
	if !ok {
		t.Fatalf("glyph is %T", got["glyph"])
	}
	if v, ok := glyph["subject_sid"]; !ok || v != nil {
		t.Errorf("subject_sid = %#v (present %v), want the default null", v, ok)
	}
	if v, ok := glyph["consent"]; !ok || v != nil {
		t.Errorf("consent = %#v (present %v), want the default null", v, ok)
	}
	if v, ok := glyph["provenance"].([]any); !ok || len(v) != 0 {
		t.Errorf("provenance = %#v, want the default []", glyph["provenance"])
	}
	// The v1 fields, read back through the v2 reader.
	tags := map[string]string{}
	for k, v := range glyph["tags"].(map[string]any) {
		tags[k] = v.(string)
	}
	payload := Payload(got["payload"].(map[string]any))
	if err := payload.normalize(); err != nil {
		t.Fatal(err)
	}
	read := MatrizMessage{
		MsgID: got["msg_id"].(string), TS: got["ts"].(time.Time), Lane: Lane(got["lane"].(string)),
		Glyph:   Glyph{ID: glyph["id"].(string), Kind: glyph["kind"].(string), Version: glyph["version"].(string), Tags: tags},
		Payload: payload, Topic: got["topic"].(string),
	}
	for _, d := range diffValues(&want, &read) {
		t.Error(d)
	}
}

// TestV2MessageReadsAsV1 is the FORWARD direction the runtime meets first: a
// producer already on Glyph v2 writes with its schema id, and this binary,
// still on v1, decodes it through SchemaLookup, skipping the new fields.
func TestV2MessageReadsAsV1(t *testing.T) {
	v2 := parseEvolution(t, "glyph_v2.avsc", "message_v2.avsc")
	want := messageFixture()
	native := toNative(&want)
	g := native["glyph"].(map[string]any)
	g["subject_sid"] = map[string]any{"string": "sid-42"}
	g["consent"] = map[string]any{"matriz.Consent": map[string]any{"granted": true, "purpose": "care"}}
	g["provenance"] = []any{"sensor:a", "node:memory"}
	body, err := v2.AppendEncode(AppendWireHeader(nil, 2), native)
	if err != nil {
		t.Fatalf("encode v2: %v", err)
	}
	v1Text, err := Text(NameMessage)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewSchemaLookup(StaticFetcher(map[uint32]string{1: v1Text, 2: v2.String()}))
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	id, err := DecodeWire(context.Background(), l, body, &got)
	if err != nil || id != 2 {
		t.Fatalf("DecodeWire: id %d, %v", id, err)
	}
	for _, d := range diffValues(&want, &got) {
		t.Error(d)
	}
	// The same message written with v1 (id 1) decodes to the same value.
	v1Body, err := AppendWire(nil, 1, &want)
	if err != nil {
		t.Fatal(err)
	}
	var got1 MatrizMessage
	if _, err := DecodeWire(context.Background(), l, v1Body, &got1); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&got, &got1) {
		t.Error(d)
	}
}

// TestBreakingGlyphIsRefused: a Glyph whose new field has no default cannot
// read v1 data, and resolution says which field.
func TestBreakingGlyphIsRefused(t *testing.T) {
	v3 := parseEvolution(t, "glyph_v3_breaking.avsc")
	v1, err := Schema(NameGlyph)
	if err != nil {
		t.Fatal(err)
	}
	err = avro.CheckCompatibility(v1, v3)
	var ce *avro.CompatibilityError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *avro.CompatibilityError", err)
	}
	if _, err := avro.Resolve(v1, v3); err == nil {
		t.Fatal("Resolve accepted a breaking reader")
	}
	if !strings.Contains(err.Error(), "subject_sid") {
		t.Fatalf("error %q does not name the field", err)
	}
}
