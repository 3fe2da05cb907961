package main

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionNamesCommitGoAndSchemaVersions(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/matriz/pipelines", Version: "v0.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "244cc1fabc"},
			{Key: "vcs.time", Value: "2026-12-04T23:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var out bytes.Buffer
	printVersion(&out, buildVersion(bi))
	for _, want := range []string{
		"matriz v0.4.0 (github.com/matriz/pipelines)\n",
		"commit  244cc1fabc 2026-12-04T23:00:00Z (modified)\n",
		"go      go1.26.8 ",
		"schemas Glyph v1,v2; MatrizMessage v1,v2; MatrizResult v1; Event v1; Trace v1\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	printVersion(&out, buildVersion(nil))
	if !strings.Contains(out.String(), "matriz (unknown)") || !strings.Contains(out.String(), "commit  unknown") {
		t.Errorf("without build info:\n%s", out.String())
	}
}

func TestVersionCommandPrintsJSON(t *testing.T) {
	code, stdout, stderr := runCLI("version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if v.Go == "" || v.Module != "github.com/matriz/pipelines" || strings.Join(v.Schemas["MatrizMessage"], ",") != "v1,v2" {
		t.Fatalf("version --json = %+v", v)
	}
}
