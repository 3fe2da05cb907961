package main

// This file renders what `matriz schema` learns from the registry as text.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/matriz/pipelines/pipelines/ops"
)

// writeSubjects prints one line per subject.
func writeSubjects(w io.Writer, subs []ops.SubjectSummary) {
	if len(subs) == 0 {
		fmt.Fprintln(w, "no subjects (register one with `matriz schema register` or `matriz deploy`)")
		return
	}
	width := 0
	for _, s := range subs {
		width = max(width, len(s.Subject))
	}
	for _, s := range subs {
		vs := make([]string, len(s.Versions))
		for i, v := range s.Versions {
			vs[i] = fmt.Sprint(v)
		}
		fmt.Fprintf(w, "%-*s  versions %s  latest id %d\n", width, s.Subject, strings.Join(vs, ","), s.LatestID)
	}
}

// writeCheck prints the verdict, then one indented line per broken rule.
func writeCheck(w io.Writer, r ops.CheckReport) {
	who := "checked here"
	if r.ByRegistry {
		who = "checked by the registry"
	}
	against := "no versions yet"
	if len(r.Against) > 0 {
		vs := make([]string, len(r.Against))
		for i, v := range r.Against {
			vs[i] = fmt.Sprint(v)
		}
		against = "versions " + strings.Join(vs, ",")
	}
	verdict := "compatible"
	if !r.Compatible {
		verdict = "incompatible"
	}
	fmt.Fprintf(w, "%s with %s under %s (%s; %s)\n", verdict, r.Subject, r.Level, against, who)
	for _, reason := range r.Reasons {
		fmt.Fprintln(w, "  "+reason)
	}
}

// writeDiff prints a diff report: one block per change with its meaning
// for BACKWARD and FORWARD, then the overall verdicts.
func writeDiff(w io.Writer, rep ops.DiffReport) {
	if len(rep.Changes) == 0 {
		fmt.Fprintln(w, "no changes")
	}
	for _, c := range rep.Changes {
		what := string(c.Kind)
		switch {
		case c.Old != "" && c.New != "":
			what += ": " + c.Old + " → " + c.New
		case c.New != "":
			what += ": " + c.New
		case c.Old != "":
			what += ": " + c.Old
		}
		fmt.Fprintf(w, "%s  %s\n    BACKWARD %s\n    FORWARD  %s\n", c.Path, what, c.Backward, c.Forward)
	}
	verdict := func(e ops.Effect) string {
		if e.OK {
			return "compatible"
		}
		return "incompatible (" + e.Why + ")"
	}
	fmt.Fprintf(w, "BACKWARD (new reads old): %s\nFORWARD (old reads new): %s\n", verdict(rep.Backward), verdict(rep.Forward))
}

// indentSchema returns a schema's JSON indented for reading, or the text as
// it is when it is not JSON.
func indentSchema(text string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(text), "", "  "); err != nil {
		return text
	}
	return b.String()
}
