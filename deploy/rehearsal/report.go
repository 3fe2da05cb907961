package rehearsal

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a rehearsal saw: per lane what its topics hold, the
// faults injected and how long each lane took to recover from each, and
// every check that failed.
type Report struct {
	Lanes    []LaneReport
	Faults   []Fault
	Failures []string
	Wall     time.Duration
	Cleanup  string // what was removed (or kept) at the end
}

// LaneReport is one lane's topics at the end of the rehearsal.
type LaneReport struct {
	Lane       string
	Inputs     int64          // records on matriz.<lane>.messages: every one a producer had acknowledged
	Results    int            // inputs answered by a result
	DLQ        int            // inputs dead-lettered
	Dropped    int            // inputs a decimation event lists
	Missing    int            // inputs with none of the three
	DLQReasons map[string]int // DLQ records by reason
	Decisions  map[string]int // guardian decisions by outcome
	Actions    int            // external actions recorded (previews included)
	Executions int            // actions executed
	Twice      []string       // actions executed or called more than once
	Faults     []string       // faults that hit the lane, with its time to recover
}

// Fault is one fault injected and the lanes' recovery from it: the time
// from the fault to the lane's group having committed every input again,
// a batch sent during or right after the fault included.
type Fault struct {
	What    string
	Lanes   []string
	Detail  string
	Recover map[string]time.Duration
}

func (r *Report) failf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

// Write prints the report as a person reads it.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "rehearsal report (wall time %v)\n", r.Wall.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LANE\tINPUTS\tRESULTS\tDLQ\tDROPPED\tMISSING\tDECISIONS\tACTIONS\tEXECUTED\tTWICE\tFAULTS (time to recover)")
	for _, l := range r.Lanes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\n", l.Lane, l.Inputs, l.Results, l.DLQ, l.Dropped, l.Missing,
			counts(l.Decisions), l.Actions, l.Executions, len(l.Twice), strings.Join(l.Faults, ", "))
	}
	tw.Flush()
	for _, l := range r.Lanes {
		if len(l.DLQReasons) > 0 {
			fmt.Fprintf(w, "  %s DLQ by reason: %s\n", l.Lane, counts(l.DLQReasons))
		}
	}
	fmt.Fprintln(w, "faults:")
	for i, f := range r.Faults {
		var rec []string
		for _, l := range slices.Sorted(maps.Keys(f.Recover)) {
			rec = append(rec, fmt.Sprintf("%s %v", l, f.Recover[l].Round(100*time.Millisecond)))
		}
		fmt.Fprintf(w, "  %d. %s on %s: %s; recovered: %s\n", i+1, f.What, strings.Join(f.Lanes, ", "), f.Detail, strings.Join(rec, ", "))
	}
	if r.Cleanup != "" {
		fmt.Fprintf(w, "cleanup: %s\n", r.Cleanup)
	}
	if r.OK() {
		fmt.Fprintln(w, "result: PASS")
		return
	}
	fmt.Fprintf(w, "result: FAIL (%d)\n", len(r.Failures))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
}

// counts prints a count map as "a 3 b 1", keys sorted.
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := k
		if name == "" {
			name = "(none)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
