package schemas

import (
	"bytes"
	"testing"
)

// TestGoldenDecodesWithGoavro is the conformance test against an
// independent implementation: every golden file, decoded by
// github.com/linkedin/goavro/v2 with the schema text a registry would hold,
// must give field for field what our decoder gives, and the fixture.
func TestGoldenDecodesWithGoavro(t *testing.T) {
	for _, g := range goldenFiles(t) {
		t.Run(g.name, func(t *testing.T) {
			native, rest, err := goavroCodec(t, g.schema, g.version).NativeFromBinary(g.body)
			if err != nil {
				t.Fatalf("goavro decode: %v", err)
			}
			if len(rest) != 0 {
				t.Fatalf("goavro left %d bytes", len(rest))
			}
			theirs, err := fromNative(g.schema, native)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := decodeAny(g.schema, g.version, g.body)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, d := range diffValues(theirs, ours) {
				t.Errorf("goavro vs ours: %s", d)
			}
			for _, d := range diffValues(g.value, theirs) {
				t.Errorf("fixture vs goavro: %s", d)
			}
		})
	}
}

// TestGoavroEncodingDecodes runs the other direction: goavro encodes every
// fixture and our decoder must read it back to the same value. Where maps
// hold one entry, goavro's bytes must equal ours.
func TestGoavroEncodingDecodes(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			c := goavroCodec(t, f.schema, f.version)
			for _, v := range []any{f.value, singleKeyed(f.value)} {
				body, err := c.BinaryFromNative(nil, toNative(v))
				if err != nil {
					t.Fatalf("goavro encode: %v", err)
				}
				got, err := decodeAny(f.schema, f.version, body)
				if err != nil {
					t.Fatalf("decode goavro bytes: %v", err)
				}
				for _, d := range diffValues(v, got) {
					t.Error(d)
				}
			}
			single := singleKeyed(f.value)
			theirs, err := c.BinaryFromNative(nil, toNative(single))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := encodeAny(nil, single, f.version)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("bytes differ from goavro:\nours   %x\ntheirs %x", ours, theirs)
			}
		})
	}
}

// TestSchemaTextsParseEverywhere checks that the registered form of every
// schema is self-contained: goavro and a fresh twmb/avro parse it alone.
func TestSchemaTextsParseEverywhere(t *testing.T) {
	for _, name := range Names {
		text, err := Text(name)
		if err != nil {
			t.Fatal(err)
		}
		goavroCodec(t, name, Latest)
		if _, err := parseWriter(text); err != nil {
			t.Errorf("%s: twmb/avro: %v", name, err)
		}
	}
}
