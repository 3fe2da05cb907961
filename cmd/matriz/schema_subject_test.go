package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestSchemaCheckMisspeltSubject: checking against a subject the registry
// does not have — a typo — exits 1 naming the closest subject it has,
// rather than passing the schema as a first version; --new checks it as
// one.
func TestSchemaCheckMisspeltSubject(t *testing.T) {
	url := embeddedRegistry(t)
	msg := versionFile(t, schemas.NameMessage, schemas.V1)
	mustRun(t, 0, "schema", "register", msg, "--subject", "matriz.prod.messages-value", "--registry", url)
	mustRun(t, 0, "schema", "register", versionFile(t, schemas.NameGlyph, schemas.V1), "--subject", "matriz.Glyph", "--registry", url)
	for _, level := range []string{"", "BACKWARD"} {
		args := []string{"schema", "check", msg, "--subject", "matriz.prod.mesages-value", "--registry", url}
		if level != "" {
			args = append(args, "--level", level)
		}
		out, errOut := mustRun(t, 1, args...)
		want := "matriz schema: subject matriz.prod.mesages-value: subject not found in the registry at " + url + "; did you mean matriz.prod.messages-value? (pass --new to check a new subject's first schema)\n"
		if out != "" || errOut != want {
			t.Errorf("level %q: stdout %q stderr %q, want stderr %q", level, out, errOut, want)
		}
		out, _ = mustRun(t, 0, append(args, "--new")...)
		if !strings.Contains(out, "compatible with matriz.prod.mesages-value") || !strings.Contains(out, "no versions yet") {
			t.Errorf("level %q with --new: %q", level, out)
		}
	}
	empty := embeddedRegistry(t)
	_, errOut := mustRun(t, 1, "schema", "check", msg, "--subject", "x", "--registry", empty)
	if !strings.Contains(errOut, "the registry has no subjects yet") {
		t.Errorf("empty registry: %q", errOut)
	}
}

// TestSchemaCheckAndDiffEveryShippedFile: `schema check` and `schema diff`
// work on every .avsc the repository ships, message_v2.avsc included,
// whose named types (matriz.StringList, matriz.Glyph, matriz.Lane) live in
// other files.
func TestSchemaCheckAndDiffEveryShippedFile(t *testing.T) {
	url := embeddedRegistry(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "schemas", "avro", "*.avsc"))
	if err != nil || len(files) < 10 {
		t.Fatalf("shipped files: %v %v", files, err)
	}
	for _, f := range files {
		subject := "shipped-" + strings.TrimSuffix(filepath.Base(f), ".avsc")
		out, errOut := mustRun(t, 0, "schema", "check", f, "--subject", subject, "--new", "--registry", url)
		if !strings.HasPrefix(out, "compatible with "+subject) {
			t.Errorf("check %s: %q %q", f, out, errOut)
		}
		mustRun(t, 0, "schema", "register", f, "--subject", subject, "--registry", url)
		if out, _ := mustRun(t, 0, "schema", "check", f, "--subject", subject, "--registry", url); !strings.HasPrefix(out, "compatible with "+subject+" under BACKWARD (versions 1;") {
			t.Errorf("check %s against itself: %q", f, out)
		}
		if out, _ := mustRun(t, 0, "schema", "diff", f, f); !strings.HasPrefix(out, "no changes\n") {
			t.Errorf("diff %s with itself: %q", f, out)
		}
	}
	dir := filepath.Join("..", "..", "schemas", "avro")
	out, _ := mustRun(t, 0, "schema", "diff", filepath.Join(dir, "message.avsc"), filepath.Join(dir, "message_v2.avsc"))
	if !strings.Contains(out, "glyph.provenance  added: array<string>, default []") {
		t.Errorf("diff message.avsc message_v2.avsc:\n%s", out)
	}
	// The shipped v2 file follows the shipped v1 file in a lane's subject.
	mustRun(t, 0, "schema", "register", filepath.Join(dir, "message.avsc"), "--subject", "matriz.prod.messages-value", "--registry", url)
	if out, _ := mustRun(t, 0, "schema", "check", filepath.Join(dir, "message_v2.avsc"), "--subject", "matriz.prod.messages-value", "--registry", url); !strings.HasPrefix(out, "compatible") {
		t.Errorf("message_v2.avsc after message.avsc: %q", out)
	}
}
