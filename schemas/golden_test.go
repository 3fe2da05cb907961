package schemas

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenDir = "testdata/golden"

// goavroCodec returns goavro's codec for the self-contained schema text the
// registry would hold.
func goavroCodec(t testing.TB, name Name, ver Version) *goavro.Codec {
	t.Helper()
	text, err := TextOf(name, ver)
	if err != nil {
		t.Fatal(err)
	}
	c, err := goavro.NewCodec(text)
	if err != nil {
		t.Fatalf("goavro cannot parse %s: %v", name, err)
	}
	return c
}

// goldenJSON renders body as Avro JSON through goavro, keys sorted and
// indented: the reviewable twin of each .avro file. NaN shows as null, the
// infinities as 1e999 and -1e999, goavro's JSON spellings.
func goldenJSON(t testing.TB, name Name, ver Version, body []byte) []byte {
	t.Helper()
	c := goavroCodec(t, name, ver)
	native, rest, err := c.NativeFromBinary(body)
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro decode: %v (%d bytes left)", err, len(rest))
	}
	text, err := c.TextualFromNative(nil, native)
	if err != nil {
		t.Fatalf("goavro textual: %v", err)
	}
	// goavro writes maps in Go's random order; a round trip through
	// encoding/json sorts the keys, and UseNumber keeps 1e999 (goavro's
	// infinity) and the long extremes exact.
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		t.Fatalf("goavro wrote invalid JSON %s: %v", text, err)
	}
	out, err := json.MarshalIndent(tree, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestGolden pins the wire format with the files in testdata/golden. For
// every fixture:
//
//   - the golden .avro file decodes to the fixture: bytes written earlier
//     still read back the same, which is what a replayed log needs;
//   - its .json twin is goavro's rendering of those bytes;
//   - encoding the fixture now and decoding that gives the fixture again;
//   - where every map in the fixture has at most one entry, so that map
//     order cannot differ, the fresh encoding equals the golden bytes.
//
// Bytes are not compared otherwise: twmb/avro writes Go maps in iteration
// order, so a record with larger maps has many valid encodings.
// `go test ./schemas -run TestGolden -update` rewrites the files this test
// would fail on (and only those, so an update does not churn the bytes of
// records whose map order merely differs); review the .json diff.
func TestGolden(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			body, err := encodeAny(nil, f.value, f.version)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := decodeAny(f.schema, f.version, body)
			if err != nil {
				t.Fatalf("decode fresh encoding: %v", err)
			}
			for _, d := range diffValues(f.value, fresh) {
				t.Errorf("fresh encoding: %s", d)
			}
			byteStable := maxMapLen(reflect.ValueOf(f.value)) <= 1
			binPath := filepath.Join(goldenDir, f.name+".avro")
			jsonPath := filepath.Join(goldenDir, f.name+".json")
			if *update {
				updateGolden(t, f, body)
			}
			want, err := os.ReadFile(binPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			got, err := decodeAny(f.schema, f.version, want)
			if err != nil {
				t.Fatalf("decode golden (run with -update if the change is intended): %v", err)
			}
			for _, d := range diffValues(f.value, got) {
				t.Errorf("golden %s: %s (run with -update if intended)", binPath, d)
			}
			if byteStable && !bytes.Equal(body, want) {
				t.Errorf("encoding of %s changed (run with -update if intended):\ngot  %x\nwant %x", f.name, body, want)
			}
			wantText, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			if text := goldenJSON(t, f.schema, f.version, want); !bytes.Equal(text, wantText) {
				t.Errorf("%s does not match its .avro twin:\n%s", jsonPath, text)
			}
		})
	}
}

// updateGolden writes body and its JSON twin where the golden file is
// missing, does not decode to the fixture, or (for a byte-stable fixture)
// differs from body. A golden file that still holds a valid encoding of
// the fixture is kept as it is.
func updateGolden(t testing.TB, f fixture, body []byte) {
	t.Helper()
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	binPath := filepath.Join(goldenDir, f.name+".avro")
	old, err := os.ReadFile(binPath)
	keep := err == nil && (maxMapLen(reflect.ValueOf(f.value)) > 1 || bytes.Equal(old, body))
	if keep {
		v, err := decodeAny(f.schema, f.version, old)
		keep = err == nil && len(diffValues(f.value, v)) == 0
	}
	if !keep {
		if err := os.WriteFile(binPath, body, 0o644); err != nil {
			t.Fatal(err)
		}
		old = body
	}
	jsonPath := filepath.Join(goldenDir, f.name+".json")
	if err := os.WriteFile(jsonPath, goldenJSON(t, f.schema, f.version, old), 0o644); err != nil {
		t.Fatal(err)
	}
}

// updateGoldens runs updateGolden for every fixture, so a test that reads
// the golden files (TestFuzzSeeds) sees them current under -update whatever
// order the tests run in.
func updateGoldens(t testing.TB) {
	t.Helper()
	for _, f := range fixtures() {
		body, err := encodeAny(nil, f.value, f.version)
		if err != nil {
			t.Fatal(err)
		}
		updateGolden(t, f, body)
	}
}

// maxMapLen returns the number of entries of the largest map in v: at most
// one means map order cannot change the encoding.
func maxMapLen(v reflect.Value) int {
	n := 0
	if v.IsValid() && v.Type() == timeType {
		return 0
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			n = maxMapLen(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			n = max(n, maxMapLen(v.Field(i)))
		}
	case reflect.Slice:
		for i := range v.Len() {
			n = max(n, maxMapLen(v.Index(i)))
		}
	case reflect.Map:
		n = v.Len()
		for it := v.MapRange(); it.Next(); {
			n = max(n, maxMapLen(it.Value()))
		}
	}
	return n
}

// TestGoldenFilesHaveFixtures fails on a stale golden file whose fixture was
// renamed or removed, so testdata holds only what the tests check.
func TestGoldenFilesHaveFixtures(t *testing.T) {
	var names []string
	for _, f := range fixtures() {
		names = append(names, f.name+".avro", f.name+".json")
	}
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			t.Errorf("%s/%s has no fixture", goldenDir, e.Name())
		}
	}
	if len(entries) != len(names) {
		t.Errorf("%d golden files, want %d", len(entries), len(names))
	}
}

// goldenFiles returns every fixture with the bytes of its golden file.
func goldenFiles(t testing.TB) []struct {
	fixture
	body []byte
} {
	t.Helper()
	var out []struct {
		fixture
		body []byte
	}
	for _, f := range fixtures() {
		b, err := os.ReadFile(filepath.Join(goldenDir, f.name+".avro"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, struct {
			fixture
			body []byte
		}{f, b})
	}
	if len(out) == 0 || !strings.HasPrefix(out[0].name, "glyph") {
		t.Fatal("no golden files")
	}
	return out
}
