package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/twmb/avro"
)

// maxHostileAlloc bounds what decoding one hostile value may allocate (a
// valid message takes about 2 KiB): a length prefix must never be trusted
// before the bytes are there.
const maxHostileAlloc = 64 << 10

// allocBytes returns the bytes f allocates on the heap on its second run,
// so one-time schema loading and decoder compilation do not count.
func allocBytes(f func()) uint64 {
	f()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// messageHead returns the v1 encoding of a message up to, not including,
// its glyph tags: what a hostile body needs in front to reach the maps.
// (In v1 the glyph ends with its tags, so the payload map follows them.)
func messageHead(t testing.TB) []byte {
	t.Helper()
	m := messageFixture()
	m.Glyph.Tags, m.Payload, m.Topic = nil, nil, ""
	b, err := AppendEncodeAs(nil, &m, V1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte{0, 0, 0}) {
		t.Fatalf("unexpected tail %x", b[len(b)-3:])
	}
	return b[:len(b)-3] // tags, payload and topic are one zero byte each
}

// resultHead returns the encoding of a result up to its reasons array.
func resultHead(t *testing.T) []byte {
	t.Helper()
	r := MatrizResult{ID: "r", MsgID: uuidMsg, TS: tsFixture, Lane: LaneProd, Node: "n", NodeVersion: "1"}
	b, err := AppendEncode(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	return b[:len(b)-3] // reasons, payload and trace are one zero byte each
}

// Hand-built Avro bytes for hostile and block-structured bodies: the
// encoder cannot write them, so the tests spell them out.

// Union branch indexes of the payload value union
// ["null","boolean","long","double","string",array<double>,matriz.StringList].
const (
	branchNull = iota
	branchBoolean
	branchLong
	branchDouble
	branchString
	branchDoubles
	branchStrings
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// long is an Avro long: a zigzag varint.
func long(v int64) []byte { return binary.AppendUvarint(nil, uint64(v)<<1^uint64(v>>63)) }

// str is an Avro string: its length as a long, then its bytes.
func str(s string) []byte { return append(long(int64(len(s))), s...) }

// double is an Avro double: 8 bytes little-endian.
func double(f float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)) }

// TestHostileBodies feeds bodies whose counts and lengths lie and expects a
// *DecodeError wrapping ErrDecode, with allocation bounded, every time.
func TestHostileBodies(t *testing.T) {
	msg, res := messageHead(t), resultHead(t)
	const huge = 1 << 62
	msgCases := map[string][]byte{
		"empty body":                {},
		"msg_id length 2^62":        cat(long(huge), []byte("6f1c")),
		"msg_id length negative":    long(-5),
		"overlong varint":           bytes.Repeat([]byte{0xff}, 11),
		"lane index 3":              cat(str(uuidMsg), long(1), long(3)),
		"lane index negative":       cat(str(uuidMsg), long(1), long(-1)),
		"tags count 2^62":           cat(msg, long(huge), str("k"), str("v")),
		"tags block -2^62":          cat(msg, long(-huge), long(10), str("k"), str("v")),
		"tags block -2^62 size lie": cat(msg, long(-huge), long(huge), str("k")),
		"tags count MinInt64":       cat(msg, long(math.MinInt64), long(4), str("k"), str("v")),
		"tag value length 2^62":     cat(msg, long(1), str("k"), long(huge), []byte("v")),
		"payload count 2^62":        cat(msg, long(0), long(huge), str("k"), long(branchNull)),
		"payload block -2^62":       cat(msg, long(0), long(-huge), long(3), str("k"), long(branchNull)),
		"payload key length 2^62":   cat(msg, long(0), long(1), long(huge), []byte("k")),
		"payload string 2^62":       cat(msg, long(0), long(1), str("k"), long(branchString), long(huge), []byte("x")),
		"payload union index 7":     cat(msg, long(0), long(1), str("k"), long(7), long(0), long(0)),
		"payload union index -1":    cat(msg, long(0), long(1), str("k"), long(-1), long(0), long(0)),
		"payload union index 2^40":  cat(msg, long(0), long(1), str("k"), long(1<<40), long(0), long(0)),
		"vector count 2^62":         cat(msg, long(0), long(1), str("k"), long(branchDoubles), long(huge), make([]byte, 16)),
		"vector block -2^62":        cat(msg, long(0), long(1), str("k"), long(branchDoubles), long(-huge), long(16), make([]byte, 16)),
		"vector block MinInt64":     cat(msg, long(0), long(1), str("k"), long(branchDoubles), long(math.MinInt64), long(16), make([]byte, 16)),
		"string list count 2^62":    cat(msg, long(0), long(1), str("k"), long(branchStrings), long(huge), str("a")),
		"string list block -2^62":   cat(msg, long(0), long(1), str("k"), long(branchStrings), long(-huge), long(2), str("a")),
		"double cut short":          cat(msg, long(0), long(1), str("k"), long(branchDouble), []byte{1, 2, 3}),
		"topic length 2^62":         cat(msg, long(0), long(0), long(huge), []byte("t")),
		"trailing byte":             cat(msg, long(0), long(0), str("topic"), []byte{0}),
		"trailing record":           cat(msg, long(0), long(0), str("topic"), msg),
	}
	for name, body := range msgCases {
		t.Run("message/"+name, func(t *testing.T) {
			var got MatrizMessage
			var err error
			n := allocBytes(func() { err = DecodeAs(body, &got, V1) })
			checkDecodeErr(t, err, NameMessage)
			if n > maxHostileAlloc {
				t.Errorf("decode allocated %d bytes", n)
			}
		})
	}
	resCases := map[string][]byte{
		"reasons count 2^62":    cat(res, long(huge), str("r")),
		"reasons block -2^62":   cat(res, long(-huge), long(2), str("r")),
		"trace count 2^62":      cat(res, long(0), long(0), long(huge), str("s"), long(1), long(0)),
		"trace block -2^62":     cat(res, long(0), long(0), long(-huge), long(10), str("s"), long(1), long(0)),
		"crumb data count 2^62": cat(res, long(0), long(0), long(1), str("s"), long(1), long(huge), str("k")),
		"reasons then nothing":  cat(res, long(2), str("r")),
	}
	for name, body := range resCases {
		t.Run("result/"+name, func(t *testing.T) {
			var got MatrizResult
			var err error
			n := allocBytes(func() { err = Decode(body, &got) })
			checkDecodeErr(t, err, NameResult)
			if n > maxHostileAlloc {
				t.Errorf("decode allocated %d bytes", n)
			}
		})
	}
}

// TestHostileGlyphV2 aims at the fields GLYPH v2 added: union indexes out
// of range, lengths and counts that lie. Each is a *DecodeError with
// allocation bounded.
func TestHostileGlyphV2(t *testing.T) {
	const huge = 1 << 62
	head := cat(str(uuidGlyph), str("k"), str("1"), long(0)) // id, kind, version, no tags
	valid := cat(head, long(1), str("sid"), long(1), []byte{1}, str("care"), long(1), str("a"), long(0))
	var g Glyph
	if err := DecodeAs(valid, &g, V2); err != nil || g.SubjectSID == nil || *g.SubjectSID != "sid" || g.Consent == nil || !g.Consent.Granted || len(g.Provenance) != 1 {
		t.Fatalf("valid v2 glyph: %v %#v", err, g)
	}
	cases := map[string][]byte{
		"subject_sid union index 2":     cat(head, long(2), str("sid")),
		"subject_sid union index -1":    cat(head, long(-1), str("sid")),
		"subject_sid length 2^62":       cat(head, long(1), long(huge), []byte("s")),
		"consent union index 5":         cat(head, long(0), long(5), []byte{1}),
		"consent purpose length 2^62":   cat(head, long(0), long(1), []byte{1}, long(huge), []byte("p")),
		"consent cut after granted":     cat(head, long(0), long(1), []byte{1}),
		"provenance count 2^62":         cat(head, long(0), long(0), long(huge), str("a")),
		"provenance block -2^62":        cat(head, long(0), long(0), long(-huge), long(2), str("a")),
		"provenance item length 2^62":   cat(head, long(0), long(0), long(1), long(huge), []byte("a")),
		"provenance without terminator": cat(head, long(0), long(0), long(1), str("a")),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocBytes(func() { err = DecodeAs(body, &g, V2) })
			checkDecodeErr(t, err, NameGlyph)
			if n > maxHostileAlloc {
				t.Errorf("decode allocated %d bytes", n)
			}
		})
	}
}

func checkDecodeErr(t *testing.T, err error, name Name) {
	t.Helper()
	if !errors.Is(err, ErrDecode) {
		t.Fatalf("got %v, want ErrDecode", err)
	}
	var de *DecodeError
	if !errors.As(err, &de) || de.Schema != name {
		t.Fatalf("got %#v, want *DecodeError for %s", err, name)
	}
	if !strings.Contains(err.Error(), string(name)) {
		t.Fatalf("message %q does not name the schema", err)
	}
}

// TestTruncatedBodies cuts every golden body at every length: each prefix is
// a *DecodeError, never a panic.
func TestTruncatedBodies(t *testing.T) {
	for _, g := range goldenFiles(t) {
		for n := range len(g.body) {
			if _, err := decodeAny(g.schema, g.version, g.body[:n]); !errors.Is(err, ErrDecode) {
				t.Fatalf("%s cut to %d of %d bytes: got %v, want ErrDecode", g.name, n, len(g.body), err)
			}
		}
	}
	// A cut in the middle of a string reports the short buffer.
	m := messageFixture()
	b, err := AppendEncode(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	err = Decode(b[:10], &m)
	var sb *avro.ShortBufferError
	if !errors.As(err, &sb) {
		t.Fatalf("got %v, want an *avro.ShortBufferError inside", err)
	}
}

func TestTrailingBytes(t *testing.T) {
	for _, g := range goldenFiles(t) {
		_, err := decodeAny(g.schema, g.version, append(append([]byte(nil), g.body...), 0))
		if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "1 trailing bytes") {
			t.Fatalf("%s with a trailing byte: got %v", g.name, err)
		}
	}
}

// TestHostileSkippedBytes reaches the skip path: a writer-only bytes field
// (skipped when resolving to the Go type) whose length prefix is 2^62.
func TestHostileSkippedBytes(t *testing.T) {
	writer := `{"type":"record","name":"Event","namespace":"matriz","fields":[
		{"name":"id","type":"string"},
		{"name":"blob","type":"bytes"},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
		{"name":"kind","type":{"type":"enum","name":"EventKind","symbols":["unknown","action"]}},
		{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","candidate","prod"]}},
		{"name":"glyph_id","type":"string"},
		{"name":"payload","type":{"type":"map","values":["null","boolean","long","double","string",{"type":"array","items":"double"},{"type":"record","name":"StringList","fields":[{"name":"items","type":{"type":"array","items":"string"}}]}]}},
		{"name":"extra","type":{"type":"map","values":"bytes"}}
	]}`
	l, err := NewSchemaLookup(StaticFetcher(map[uint32]string{9: writer}))
	if err != nil {
		t.Fatal(err)
	}
	valid := cat(AppendWireHeader(nil, 9), str("e"), str("blob"), long(1), long(1), long(2), str(uuidGlyph), long(0), long(1), str("k"), str("v"), long(0))
	var ev Event
	if _, err := DecodeWire(context.Background(), l, valid, &ev); err != nil || ev.Kind != EventAction || ev.MsgID != "" {
		t.Fatalf("valid body: %v %#v", err, ev)
	}
	for name, b := range map[string][]byte{
		"bytes length 2^62":     cat(AppendWireHeader(nil, 9), str("e"), long(1<<62), []byte("x")),
		"skipped map -2^62":     cat(AppendWireHeader(nil, 9), str("e"), str(""), long(1), long(1), long(2), str(uuidGlyph), long(0), long(-(1 << 62)), long(1<<62)),
		"skipped map MinInt64":  cat(AppendWireHeader(nil, 9), str("e"), str(""), long(1), long(1), long(2), str(uuidGlyph), long(0), long(math.MinInt64), long(3)),
		"skipped bytes in map":  cat(AppendWireHeader(nil, 9), str("e"), str(""), long(1), long(1), long(2), str(uuidGlyph), long(0), long(1), str("k"), long(1<<62)),
		"enum beyond writer":    cat(AppendWireHeader(nil, 9), str("e"), str(""), long(1), long(2), long(2), str(uuidGlyph), long(0), long(0)),
		"trailing after record": cat(valid, []byte{0}),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocBytes(func() { _, err = DecodeWire(context.Background(), l, b, &ev) })
			checkDecodeErr(t, err, NameEvent)
			if n > maxHostileAlloc {
				t.Errorf("decode allocated %d bytes", n)
			}
		})
	}
}

// TestWireHeaderErrors covers the header: too short, wrong magic byte.
func TestWireHeaderErrors(t *testing.T) {
	for n := range WireHeaderSize {
		_, _, err := ParseWire(make([]byte, n))
		var we *WireError
		if !errors.Is(err, ErrTruncated) || !errors.As(err, &we) || we.Len != n {
			t.Fatalf("%d bytes: got %v, want ErrTruncated", n, err)
		}
	}
	_, _, err := ParseWire([]byte(`{"msg_id":"x"}`))
	var we *WireError
	if !errors.Is(err, ErrMagic) || !errors.As(err, &we) || we.Magic != '{' {
		t.Fatalf("JSON value: got %#v, want ErrMagic with the first byte", err)
	}
	if !strings.Contains(err.Error(), "0x7b") || !strings.Contains(err.Error(), "14 bytes") {
		t.Fatalf("message %q does not show the byte and the size", err)
	}
	id, body, err := ParseWire([]byte{0, 0xde, 0xad, 0xbe, 0xef})
	if err != nil || id != 0xdeadbeef || len(body) != 0 {
		t.Fatalf("header only: %d %x %v", id, body, err)
	}
	l, err := NewSchemaLookup(StaticFetcher(nil))
	if err != nil {
		t.Fatal(err)
	}
	var m MatrizMessage
	if _, err := DecodeWire(context.Background(), l, []byte{1, 0, 0, 0, 1}, &m); !errors.Is(err, ErrMagic) {
		t.Fatalf("DecodeWire wrong magic: %v", err)
	}
	if _, err := DecodeWire(context.Background(), l, []byte{0, 0}, &m); !errors.Is(err, ErrTruncated) {
		t.Fatalf("DecodeWire truncated: %v", err)
	}
}

// TestUnknownSchemaID: a well-formed value whose id the registry does not
// know is a *SchemaIDError wrapping ErrUnknownSchemaID and naming the id.
func TestUnknownSchemaID(t *testing.T) {
	text, err := Text(NameMessage)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewSchemaLookup(StaticFetcher(map[uint32]string{1: text}))
	if err != nil {
		t.Fatal(err)
	}
	m := messageFixture()
	b, err := AppendWire(nil, 77, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	id, err := DecodeWire(context.Background(), l, b, &got)
	var se *SchemaIDError
	if !errors.Is(err, ErrUnknownSchemaID) || !errors.As(err, &se) || se.ID != 77 || id != 77 {
		t.Fatalf("got id %d, %#v; want *SchemaIDError 77 wrapping ErrUnknownSchemaID", id, err)
	}
	if !strings.Contains(err.Error(), "77") {
		t.Fatalf("message %q does not name the id", err)
	}
}

// TestSizedBlocksDecode is the legal side of negative block counts: Avro
// writers may split arrays and maps into several blocks and prefix a block
// with -count and its byte size. Such a body decodes, here and in goavro, to
// the same value as the single-block form.
func TestSizedBlocksDecode(t *testing.T) {
	head := messageHead(t)
	tags := cat(str("consent"), str("granted"), str("purpose"), str("care"))
	vec := cat(double(0.5), double(-1), double(2))
	entry := cat(str("intent"), long(branchDoubles),
		long(-1), long(8), vec[:8], long(2), vec[8:], long(0)) // vector: sized block of 1, plain block of 2
	body := cat(head,
		long(-2), long(int64(len(tags))), tags, long(1), str("subject_sid"), str("sid-42"), long(0), // tags: sized block, then plain block
		long(-1), long(int64(len(entry))), entry, // payload: sized block of 1 entry
		long(1), str("tags"), long(branchStrings), long(-1), long(2), str("a"), long(0), long(0), // then a plain block: a string list
		str("trend"))
	want := messageFixture()
	want.Glyph.Tags = map[string]string{"consent": "granted", "purpose": "care", "subject_sid": "sid-42"}
	want.Payload = Payload{"intent": []float64{0.5, -1, 2}, "tags": []string{"a"}}
	want.Topic = "trend"
	var got MatrizMessage
	if err := DecodeAs(body, &got, V1); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&want, &got) {
		t.Error(d)
	}
	native, rest, err := goavroCodec(t, NameMessage, V1).NativeFromBinary(body)
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro: %v (%d left)", err, len(rest))
	}
	theirs, err := fromNative(NameMessage, native)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&want, theirs) {
		t.Errorf("goavro: %s", d)
	}
}
