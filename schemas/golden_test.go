package schemas

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenDir = "testdata/golden"

// goavroCodec returns goavro's codec for the self-contained schema text the
// registry would hold.
func goavroCodec(t testing.TB, name Name) *goavro.Codec {
	t.Helper()
	text, err := Text(name)
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
func goldenJSON(t testing.TB, name Name, body []byte) []byte {
	t.Helper()
	c := goavroCodec(t, name)
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

// TestGolden pins the encoding of every fixture byte for byte. Run
// `go test ./schemas -run TestGolden -update` to rewrite the files after an
// intended change, and review the .json diff.
func TestGolden(t *testing.T) {
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			body, err := encodeAny(nil, f.value)
			if err != nil {
				t.Fatal(err)
			}
			binPath := filepath.Join(goldenDir, f.name+".avro")
			jsonPath := filepath.Join(goldenDir, f.name+".json")
			text := goldenJSON(t, f.schema, body)
			if *update {
				if err := os.WriteFile(binPath, body, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(jsonPath, text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(binPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(body, want) {
				t.Fatalf("encoding of %s changed (run with -update if intended):\ngot  %x\nwant %x", f.name, body, want)
			}
			wantText, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(text, wantText) {
				t.Fatalf("%s does not match its .avro twin:\n%s", jsonPath, text)
			}
			got, err := decodeAny(f.schema, want)
			if err != nil {
				t.Fatalf("decode golden: %v", err)
			}
			for _, d := range diffValues(f.value, got) {
				t.Error(d)
			}
		})
	}
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
func goldenFiles(t *testing.T) []struct {
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
