package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/schemas/registry"
)

// The breaking fixtures of schemas/testdata/evolution.
var (
	glyphV3   = filepath.Join("..", "..", "schemas", "testdata", "evolution", "glyph_v3_breaking.avsc")
	messageV3 = filepath.Join("..", "..", "schemas", "testdata", "evolution", "message_v3_breaking.avsc")
)

// embeddedRegistry serves an in-memory embedded registry over HTTP.
func embeddedRegistry(t *testing.T) string {
	t.Helper()
	reg, err := registry.New(registry.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
	})
	return srv.URL
}

// schemaFile writes text to a temporary .avsc file and returns its path.
func schemaFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// versionFile writes version v of a record schema to a file.
func versionFile(t *testing.T, name schemas.Name, v schemas.Version) string {
	t.Helper()
	text, err := schemas.TextOf(name, v)
	if err != nil {
		t.Fatal(err)
	}
	return schemaFile(t, string(name)+"_"+v.String()+".avsc", text)
}

func mustRun(t *testing.T, wantCode int, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := runCLI(args...)
	if code != wantCode {
		t.Fatalf("matriz %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	return out, errOut
}

func TestSchemaHelp(t *testing.T) {
	out, _ := mustRun(t, 0, "schema", "--help")
	for _, s := range schemaSubs() {
		if !strings.Contains(out, "  "+s.name+" ") {
			t.Errorf("matriz schema --help does not list %s:\n%s", s.name, out)
		}
		sub, _ := mustRun(t, 0, "schema", s.name, "--help")
		if !strings.Contains(sub, "Usage: matriz schema "+s.name) || !strings.Contains(sub, "Flags:") {
			t.Errorf("matriz schema %s --help:\n%s", s.name, sub)
		}
		if s.name != "diff" && !strings.Contains(sub, "--registry URL") {
			t.Errorf("matriz schema %s --help lacks --registry:\n%s", s.name, sub)
		}
	}
}

func TestSchemaUsageErrorsExitTwo(t *testing.T) {
	f := schemaFile(t, "x.avsc", `"string"`)
	for _, args := range [][]string{
		{"schema"},
		{"schema", "rename"},
		{"schema", "list", "extra"},
		{"schema", "show"},
		{"schema", "show", "s", "--version", "two"},
		{"schema", "register", f},
		{"schema", "check", "--subject", "s"},
		{"schema", "check", f, "--subject", "s", "--level", "SIDEWAYS"},
		{"schema", "check", "/nonexistent.avsc", "--subject", "s"},
		{"schema", "diff", f},
		{"schema", "config", "--level", "sometimes"},
		{"schema", "list", "--registry", "ftp://x"},
	} {
		_, errOut := mustRun(t, 2, args...)
		if strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.HasPrefix(errOut, "matriz schema: ") {
			t.Errorf("matriz %v: want one line on stderr, got %q", args, errOut)
		}
	}
}

func TestSchemaUnreachableRegistry(t *testing.T) {
	url := "http://" + closedPort(t)
	f := schemaFile(t, "x.avsc", `"string"`)
	for _, args := range [][]string{
		{"schema", "list", "--registry", url},
		{"schema", "check", f, "--subject", "s", "--registry", url},
		{"schema", "register", f, "--subject", "s", "--registry", url},
		{"schema", "config", "--registry", url},
	} {
		_, errOut := mustRun(t, 1, args...)
		for _, want := range []string{url, "matriz broker", "--registry"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("matriz %v: error %q lacks %q", args, errOut, want)
			}
		}
		if strings.Count(errOut, "\n") != 1 {
			t.Errorf("matriz %v: error is not one line: %q", args, errOut)
		}
	}
}

func TestSchemaRegisterListShow(t *testing.T) {
	url := embeddedRegistry(t)
	v1, v2 := versionFile(t, schemas.NameGlyph, schemas.V1), versionFile(t, schemas.NameGlyph, schemas.V2)
	out, _ := mustRun(t, 0, "schema", "list", "--registry", url)
	if !strings.Contains(out, "no subjects") {
		t.Fatalf("empty registry: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "register", v1, "--subject", "matriz.Glyph", "--registry", url)
	if out != "registered matriz.Glyph version 1, id 1\n" {
		t.Fatalf("register v1: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "register", "--registry", url, "--subject", "matriz.Glyph", v1)
	if out != "matriz.Glyph already has this schema: version 1, id 1\n" {
		t.Fatalf("register v1 again: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "register", v2, "--subject", "matriz.Glyph", "--registry", url)
	if out != "registered matriz.Glyph version 2, id 2\n" {
		t.Fatalf("register v2: %q", out)
	}
	mustRun(t, 0, "schema", "register", v2, "--subject", "other", "--registry", url)
	out, _ = mustRun(t, 0, "schema", "list", "--registry", url)
	want := "matriz.Glyph  versions 1,2  latest id 2\nother         versions 1  latest id 2\n"
	if out != want {
		t.Fatalf("list:\n%s\nwant:\n%s", out, want)
	}
	out, _ = mustRun(t, 0, "schema", "show", "matriz.Glyph", "--version", "1", "--registry", url)
	if !strings.HasPrefix(out, "subject matriz.Glyph version 1 id 1\n") || !strings.Contains(out, `"name": "tags"`) || strings.Contains(out, "subject_sid\"") {
		t.Fatalf("show v1:\n%s", out)
	}
	out, _ = mustRun(t, 0, "schema", "show", "matriz.Glyph", "--registry", url)
	if !strings.HasPrefix(out, "subject matriz.Glyph version 2 id 2\n") || !strings.Contains(out, `"name": "provenance"`) {
		t.Fatalf("show latest:\n%s", out)
	}
	_, errOut := mustRun(t, 1, "schema", "show", "nope", "--registry", url)
	if !strings.Contains(errOut, "subject nope") || !strings.Contains(errOut, "subject not found") || !strings.Contains(errOut, "matriz schema list") {
		t.Fatalf("show unknown subject: %q", errOut)
	}
	_, errOut = mustRun(t, 1, "schema", "show", "matriz.Glyph", "--version", "7", "--registry", url)
	if !strings.Contains(errOut, "version 7") {
		t.Fatalf("show unknown version: %q", errOut)
	}
	bad := schemaFile(t, "bad.avsc", `{"type":"record","name":"x"}`)
	_, errOut = mustRun(t, 1, "schema", "register", bad, "--subject", "s", "--registry", url)
	if !strings.Contains(errOut, "refused") || !strings.Contains(errOut, "42201") {
		t.Fatalf("register invalid: %q", errOut)
	}
}

// TestSchemaCheckV3Fixture is the acceptance line: `matriz schema check`
// on the breaking v3 fixture prints the field and the rule and exits 1,
// whether the registry decides (its configured level) or the check runs
// here (--level), and registering it is refused with 409 naming the field.
func TestSchemaCheckV3Fixture(t *testing.T) {
	url := embeddedRegistry(t)
	for _, v := range []schemas.Version{schemas.V1, schemas.V2} {
		mustRun(t, 0, "schema", "register", versionFile(t, schemas.NameGlyph, v), "--subject", "matriz.Glyph", "--registry", url)
		mustRun(t, 0, "schema", "register", versionFile(t, schemas.NameMessage, v), "--subject", "matriz.prod.messages-value", "--registry", url)
	}
	cases := []struct {
		file, subject, field string
	}{
		{glyphV3, "matriz.Glyph", "kind"},
		{messageV3, "matriz.prod.messages-value", "glyph.kind"},
	}
	for _, c := range cases {
		want := "  field " + c.field + ": incompatible types (reader int, writer string) (BACKWARD: the new schema cannot read data written with version 2)\n"
		byRegistry, errOut := mustRun(t, 1, "schema", "check", c.file, "--subject", c.subject, "--registry", url)
		if byRegistry != "incompatible with "+c.subject+" under BACKWARD (versions 1,2; checked by the registry)\n"+want {
			t.Errorf("check %s by the registry:\n%s", c.subject, byRegistry)
		}
		if errOut != "matriz schema: incompatible with "+c.subject+" under BACKWARD: 1 rule(s) broken, listed above\n" {
			t.Errorf("stderr %q", errOut)
		}
		here, _ := mustRun(t, 1, "schema", "check", c.file, "--subject", c.subject, "--level", "BACKWARD", "--registry", url)
		if here != "incompatible with "+c.subject+" under BACKWARD (versions 1,2; checked here)\n"+want {
			t.Errorf("check %s here:\n%s", c.subject, here)
		}
		// Transitively, version 1 breaks the same rule too.
		trans, _ := mustRun(t, 1, "schema", "check", c.file, "--subject", c.subject, "--level", "backward_transitive", "--registry", url)
		if strings.Count(trans, "field "+c.field+": incompatible types") != 2 {
			t.Errorf("transitive check:\n%s", trans)
		}
		_, errOut = mustRun(t, 1, "schema", "register", c.file, "--subject", c.subject, "--registry", url)
		if !strings.Contains(errOut, "HTTP 409") || !strings.Contains(errOut, "field "+c.field+": incompatible types (reader int, writer string)") {
			t.Errorf("register v3: %q", errOut)
		}
	}
	// The real v2 is compatible with v1 under every level.
	sub := "fresh-glyph"
	mustRun(t, 0, "schema", "register", versionFile(t, schemas.NameGlyph, schemas.V1), "--subject", sub, "--registry", url)
	for _, l := range registry.Levels {
		out, _ := mustRun(t, 0, "schema", "check", versionFile(t, schemas.NameGlyph, schemas.V2), "--subject", sub, "--level", string(l), "--registry", url)
		if out != "compatible with "+sub+" under "+string(l)+" (versions 1; checked here)\n" {
			t.Errorf("v2 after v1 under %s: %q", l, out)
		}
	}
	// A new subject (--new) accepts anything.
	out, _ := mustRun(t, 0, "schema", "check", glyphV3, "--subject", "empty", "--new", "--registry", url)
	if out != "compatible with empty under BACKWARD (no versions yet; checked by the registry)\n" {
		t.Errorf("empty subject: %q", out)
	}
}

func TestSchemaDiff(t *testing.T) {
	v1, v2 := versionFile(t, schemas.NameMessage, schemas.V1), versionFile(t, schemas.NameMessage, schemas.V2)
	out, _ := mustRun(t, 0, "schema", "diff", v1, v2)
	for _, want := range []string{
		"glyph.subject_sid  added: [null, string], default null\n    BACKWARD ok: reading old data, the new schema fills it from its default\n    FORWARD  ok: readers on the old schema skip it\n",
		"glyph.consent  added: [null, record matriz.Consent], default null\n",
		"glyph.provenance  added: array<string>, default []\n",
		"BACKWARD (new reads old): compatible\nFORWARD (old reads new): compatible\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff v1 v2 lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "  added: "); n != 3 {
		t.Errorf("%d changes, want 3:\n%s", n, out)
	}
	out, _ = mustRun(t, 0, "schema", "diff", versionFile(t, schemas.NameMessage, schemas.V2), messageV3)
	want := "glyph.kind  retyped: string → int\n    BACKWARD breaks: incompatible types (reader int, writer string)\n    FORWARD  breaks: incompatible types (reader string, writer int)\n" +
		"BACKWARD (new reads old): incompatible (field glyph.kind: incompatible types (reader int, writer string))\n" +
		"FORWARD (old reads new): incompatible (field glyph.kind: incompatible types (reader string, writer int))\n"
	if out != want {
		t.Errorf("diff v2 v3:\n%s\nwant:\n%s", out, want)
	}
	out, _ = mustRun(t, 0, "schema", "diff", v1, v1)
	if !strings.HasPrefix(out, "no changes\n") {
		t.Errorf("diff v1 v1: %q", out)
	}
	_, errOut := mustRun(t, 1, "schema", "diff", v1, schemaFile(t, "bad.avsc", "{"))
	if !strings.Contains(errOut, "invalid new schema") {
		t.Errorf("diff invalid: %q", errOut)
	}
}

func TestSchemaConfig(t *testing.T) {
	url := embeddedRegistry(t)
	out, _ := mustRun(t, 0, "schema", "config", "--registry", url)
	if out != "global: BACKWARD\n" {
		t.Fatalf("global: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "config", "--subject", "s", "--registry", url)
	if out != "s: BACKWARD (the global level; the subject has none of its own)\n" {
		t.Fatalf("subject without level: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "config", "--subject", "s", "--level", "full_transitive", "--registry", url)
	if out != "s: FULL_TRANSITIVE (was BACKWARD)\n" {
		t.Fatalf("set: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "config", "--subject", "s", "--registry", url)
	if out != "s: FULL_TRANSITIVE\n" {
		t.Fatalf("read back: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "config", "--level", "NONE", "--registry", url)
	if out != "global: NONE (was BACKWARD)\n" {
		t.Fatalf("set global: %q", out)
	}
	out, _ = mustRun(t, 0, "schema", "config", "--subject", "t", "--registry", url)
	if out != "t: NONE (the global level; the subject has none of its own)\n" {
		t.Fatalf("other subject after global change: %q", out)
	}
}

// TestSchemaCheckBinaryAfterDeploy runs the built binary against `matriz
// broker` after `matriz deploy`: the v3 fixtures are refused by check (exit
// 1, field and rule printed) under the subjects deploy made.
func TestSchemaCheckBinaryAfterDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs matriz broker as a subprocess (skipped with -short)")
	}
	kafka, reg, stop := brokerProcess(t, t.TempDir())
	defer func() {
		if code := stop(); code != 0 {
			t.Errorf("matriz broker exited %d on SIGTERM, want 0", code)
		}
	}()
	if out, err := exec.Command(binary, "deploy", "--brokers", kafka, "--registry", reg, "--lanes", "prod").CombinedOutput(); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	list, err := exec.Command(binary, "schema", "list", "--registry", reg).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^matriz\.Glyph\s+versions 1,2 `, `(?m)^matriz\.prod\.messages-value\s+versions 1,2 `, `(?m)^matriz\.prod\.results-value\s+versions 1 `} {
		if !regexp.MustCompile(want).Match(list) {
			t.Errorf("list lacks %s:\n%s", want, list)
		}
	}
	for subject, file := range map[string]string{"matriz.Glyph": glyphV3, "matriz.prod.messages-value": messageV3} {
		cmd := exec.Command(binary, "schema", "check", file, "--subject", subject, "--registry", reg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("check %s: %v, want exit 1\n%s%s", subject, err, out, stderr.String())
		}
		field := "kind"
		if subject != "matriz.Glyph" {
			field = "glyph.kind"
		}
		if !strings.HasPrefix(string(out), "incompatible with "+subject) || !strings.Contains(string(out), "field "+field+": incompatible types (reader int, writer string)") {
			t.Errorf("check %s printed:\n%s", subject, out)
		}
		t.Logf("matriz schema check %s --subject %s → exit 1:\n%s%s", filepath.Base(file), subject, out, stderr.String())
	}
}
