package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/, where go test -fuzz
// reads them and plain go test runs them as tests. TestFuzzSeeds writes the
// golden-based seeds with -update; findings are added by hand as
// finding-<what> files and stay there as regression tests.

// FuzzParseWire checks the Confluent wire-format parser, and the whole
// DecodeWire path behind it, on arbitrary bytes: never a panic, the header
// split exactly, and every failure a typed error.
func FuzzParseWire(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{1, 0, 0, 0, 1, 2})
	f.Add([]byte(`{"json":true}`))
	l, err := NewSchemaLookup(StaticFetcher(ownTexts(f)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, body, err := ParseWire(b)
		switch {
		case len(b) < WireHeaderSize:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%d bytes: got %v, want ErrTruncated", len(b), err)
			}
		case b[0] != MagicByte:
			var we *WireError
			if !errors.Is(err, ErrMagic) || !errors.As(err, &we) || we.Magic != b[0] || we.Len != len(b) {
				t.Fatalf("magic %#x: got %#v", b[0], err)
			}
		default:
			if err != nil {
				t.Fatalf("valid header: %v", err)
			}
			if id != binary.BigEndian.Uint32(b[1:5]) || !bytes.Equal(body, b[5:]) {
				t.Fatalf("split wrong: id %d body %x of %x", id, body, b)
			}
			if again := append(AppendWireHeader(nil, id), body...); !bytes.Equal(again, b) {
				t.Fatalf("header round trip: %x != %x", again, b)
			}
		}
		for _, v := range Versions(NameMessage) {
			var m MatrizMessage
			_, err = DecodeWireAs(context.Background(), l, b, &m, v)
			var (
				we *WireError
				se *SchemaIDError
			)
			if err != nil && !errors.As(err, &we) && !errors.As(err, &se) && !errors.Is(err, ErrDecode) {
				t.Fatalf("reader %s: untyped error %T: %v", v, err, err)
			}
		}
	})
}

// FuzzDecodeMessage checks the MatrizMessage decoder, with every version
// of the schema, on arbitrary bodies: never a panic; a failure is a
// *DecodeError; and whatever decodes must encode again with that version
// and decode to an equal value. Values are compared, not bytes: twmb/avro
// writes maps in Go's iteration order, so only a message whose maps have
// at most one entry has one encoding, and there the bytes of two encodes
// must match.
func FuzzDecodeMessage(f *testing.F) {
	m := messageFixture()
	m.Glyph = glyphV2Fixture()
	for _, v := range Versions(NameMessage) {
		b, err := AppendEncodeAs(nil, &m, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	head := messageHead(f)
	f.Add(cat(head, long(-2), long(20), str("a"), str("b"), str("c"), str("d"), long(0), long(0), str("t")))                          // tags in a sized block
	f.Add(cat(head, long(0), long(1), str("v"), long(branchDoubles), long(-1), long(8), make([]byte, 8), long(0), long(0), str("t"))) // vector in a sized block
	f.Add(cat(head, long(0), long(2), str("k"), long(branchNull), str("k"), long(branchLong), long(1), long(0), str("t")))            // duplicate key
	f.Add(cat(head, long(1<<62)))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range Versions(NameMessage) {
			fuzzMessageVersion(t, body, v)
		}
	})
}

func fuzzMessageVersion(t *testing.T, body []byte, v Version) {
	var got MatrizMessage
	if err := DecodeAs(body, &got, v); err != nil {
		var de *DecodeError
		if !errors.Is(err, ErrDecode) || !errors.As(err, &de) {
			t.Fatalf("%s: untyped error %T: %v", v, err, err)
		}
		return
	}
	_ = got.Validate() // must not panic on anything the decoder accepts
	enc, err := AppendEncodeAs(nil, &got, v)
	if err != nil {
		t.Fatalf("%s: decoded value does not encode: %v\n%#v", v, err, got)
	}
	var again MatrizMessage
	if err := DecodeAs(enc, &again, v); err != nil {
		t.Fatalf("%s: re-encoded value does not decode: %v\n%x", v, err, enc)
	}
	for _, d := range diffValues(&got, &again) {
		t.Errorf("%s: %s", v, d)
	}
	if maxMapLen(reflect.ValueOf(&again)) <= 1 {
		enc2, err := AppendEncodeAs(nil, &again, v)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("%s: encoding not stable: %v\n%x\n%x", v, err, enc, enc2)
		}
	}
}

// TestFuzzSeeds keeps the seed corpora in step with the golden files: every
// golden message body is a FuzzDecodeMessage seed and, behind a header,
// a FuzzParseWire seed. -update writes them.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		updateGoldens(t)
	}
	seeds := map[string][]byte{}
	for _, g := range goldenFiles(t) {
		if g.schema == NameMessage {
			seeds[filepath.Join("FuzzDecodeMessage", "golden-"+g.name)] = g.body
			seeds[filepath.Join("FuzzParseWire", "golden-"+g.name)] = append(AppendWireHeader(nil, ownID(NameMessage, g.version)), g.body...)
		}
	}
	seeds[filepath.Join("FuzzParseWire", "unknown-id")] = append(AppendWireHeader(nil, 99), 0)
	seeds[filepath.Join("FuzzParseWire", "event-as-message")] = append(AppendWireHeader(nil, 4), 2, 'e', 0)
	for path, b := range seeds {
		path = filepath.Join("testdata", "fuzz", path)
		content := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s is stale (run with -update)", path)
		}
	}
}
