package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/matriz/pipelines/pipelines/serde"
)

// versionInfo is what `matriz version` reports.
type versionInfo struct {
	Module   string              `json:"module"`
	Version  string              `json:"version"`
	Commit   string              `json:"commit,omitempty"`
	Time     string              `json:"commit_time,omitempty"`
	Modified bool                `json:"modified,omitempty"`
	Go       string              `json:"go"`
	Platform string              `json:"platform"`
	Schemas  map[string][]string `json:"schemas"`
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "[--json]",
		"Prints the module version, the commit the binary was built from (with \"modified\" when\n"+
			"the tree had uncommitted changes), the Go version and the versions of each record\n"+
			"schema the binary reads and writes.")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := fs.args(args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	info := buildVersion(bi)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(info)
	}
	printVersion(e.stdout, info)
	return nil
}

// buildVersion gathers the version from the build info (nil when the
// binary has none) and the schema package.
func buildVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Module: "github.com/matriz/pipelines", Version: "(unknown)", Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Schemas: map[string][]string{}}
	if bi != nil {
		if bi.Main.Path != "" {
			v.Module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			v.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	for _, sv := range serde.AllSchemaVersions() {
		v.Schemas[sv.Name] = sv.Versions
	}
	return v
}

func printVersion(w io.Writer, v versionInfo) {
	fmt.Fprintf(w, "matriz %s (%s)\n", v.Version, v.Module)
	switch {
	case v.Commit == "":
		fmt.Fprintln(w, "commit  unknown (built without version control information)")
	default:
		c := v.Commit
		if v.Time != "" {
			c += " " + v.Time
		}
		if v.Modified {
			c += " (modified)"
		}
		fmt.Fprintln(w, "commit  "+c)
	}
	fmt.Fprintf(w, "go      %s %s\n", v.Go, v.Platform)
	var parts []string
	for _, sv := range serde.AllSchemaVersions() { // in dependency order
		parts = append(parts, sv.Name+" "+strings.Join(v.Schemas[sv.Name], ","))
	}
	fmt.Fprintln(w, "schemas "+strings.Join(parts, "; "))
}
