package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/avro"
)

// TestStandaloneEveryShippedFile: every .avsc the repository ships turns
// into a schema that parses on its own — message_v2.avsc references
// matriz.StringList, matriz.Lane and matriz.Glyph from other files — and a
// shipped message file resolves GLYPH of its own version.
func TestStandaloneEveryShippedFile(t *testing.T) {
	files, err := filepath.Glob("avro/*.avsc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .avsc files: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text, err := Standalone(string(b))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var c avro.SchemaCache
		if _, err := c.Parse(text); err != nil {
			t.Errorf("%s: the standalone text does not parse alone: %v", f, err)
		}
	}
	for _, tc := range []struct {
		file string
		v    Version
	}{{"message.avsc", V1}, {"message_v2.avsc", V2}} {
		b, err := os.ReadFile(filepath.Join("avro", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Standalone(string(b))
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(got, `"provenance"`); has != (tc.v == V2) {
			t.Errorf("%s: GLYPH v2's provenance inlined = %v, want %v", tc.file, has, tc.v == V2)
		}
	}
	if _, err := Standalone(`{"type":"record","name":"X","fields":[{"name":"a","type":"matriz.Nowhere"}]}`); err == nil || !strings.Contains(err.Error(), "Nowhere") {
		t.Errorf("an unknown named type: %v, want an error naming it", err)
	}
}
