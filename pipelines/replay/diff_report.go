package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// DiffReport is what Diff found: complete counts per kind, per stage and
// per guardian outcome change, and the first Limit differing records in
// log order.
type DiffReport struct {
	Lane  schemas.Lane `json:"lane"`
	Left  string       `json:"left"` // "live" or a replay name
	Right string       `json:"right"`
	Kinds []KindDiff   `json:"kinds"`
	// Stages counts each kind's outputs by stage: the node for results,
	// the stage field for events, traces and actions, the DLQ stage header
	// for the DLQ. Sorted by kind, then stage.
	Stages []StageDiff `json:"stages"`
	// Outcomes counts changed results by guardian outcome, left → right
	// ("" where a result has no guardian crumb). Sorted by count, largest
	// first.
	Outcomes []OutcomeChange `json:"outcomes"`
	// Records are the first differing records, in log order (kind, then
	// partition and offset); Limit says how many were kept.
	Records []RecordDiff `json:"records"`
	Limit   int          `json:"limit"`
}

// DiffCounts sorts output ids by how the two sides compare.
type DiffCounts struct {
	Identical int `json:"identical"`
	Changed   int `json:"changed"`
	OnlyLeft  int `json:"only_left"`
	OnlyRight int `json:"only_right"`
}

// Differ is the number of ids that are not identical on both sides.
func (c DiffCounts) Differ() int { return c.Changed + c.OnlyLeft + c.OnlyRight }

func (c *DiffCounts) add(s DiffStatus) {
	switch s {
	case StatusIdentical:
		c.Identical++
	case StatusChanged:
		c.Changed++
	case StatusOnlyLeft:
		c.OnlyLeft++
	case StatusOnlyRight:
		c.OnlyRight++
	}
}

// SideStats is what one side's topic of one kind held besides the ids
// compared.
type SideStats struct {
	Records int `json:"records"` // records read
	// Superseded counts copies of an id replaced by a later one: delivery
	// is at least once, so a crash rewrites outputs; the last copy wins.
	Superseded int `json:"superseded"`
	// Ignored counts action records with status executing or uncertain
	// (delivery bookkeeping around an external call, not a decision) and
	// the lane's events about itself, such as approval verdicts and
	// promotions, which no replay makes.
	Ignored int `json:"ignored"`
	// OutOfScope counts left records only there that a scoped diff did not
	// compare: outputs of offsets the replay did not cover.
	OutOfScope int `json:"out_of_scope,omitempty"`
	// MissingID counts records without a matriz-output-id header (DLQ
	// records: nor source coordinates); they cannot be matched.
	MissingID int `json:"missing_id"`
	// Undecodable counts records whose value did not decode.
	Undecodable int `json:"undecodable"`
	// FirstError names the first of those, to look at.
	FirstError string `json:"first_error,omitempty"`
}

// Errors is the number of records that could not be compared.
func (s SideStats) Errors() int { return s.MissingID + s.Undecodable }

// KindDiff is the comparison of one kind's topics.
type KindDiff struct {
	Kind topics.Kind `json:"kind"`
	DiffCounts
	Left  SideStats `json:"left_stats"`
	Right SideStats `json:"right_stats"`
}

// StageDiff counts one stage's outputs of one kind.
type StageDiff struct {
	Kind  topics.Kind `json:"kind"`
	Stage string      `json:"stage"`
	DiffCounts
}

// OutcomeChange counts changed results whose guardian outcome went from
// Left to Right (equal when something else in the result changed).
type OutcomeChange struct {
	Left  string `json:"left"`
	Right string `json:"right"`
	Count int    `json:"count"`
}

// DiffStatus is how one output id compares.
type DiffStatus string

// The statuses of an output id.
const (
	StatusIdentical DiffStatus = "identical"
	StatusChanged   DiffStatus = "changed"
	StatusOnlyLeft  DiffStatus = "only-left"
	StatusOnlyRight DiffStatus = "only-right"
)

// RecordDiff is one output id that is not identical on both sides. For a
// changed record Field is the first differing path and Left and Right the
// values there; for an id on one side only, Field is empty and the side's
// value is the whole record (the other is Absent).
type RecordDiff struct {
	Kind   topics.Kind `json:"kind"`
	ID     string      `json:"id"`
	Status DiffStatus  `json:"status"`
	Stage  string      `json:"stage"`
	Field  string      `json:"field,omitempty"`
	Left   any         `json:"left"`
	Right  any         `json:"right"`
	// Partition and offsets of the winning copy on each side (-1: none).
	Partition   int32 `json:"partition"`
	LeftOffset  int64 `json:"left_offset"`
	RightOffset int64 `json:"right_offset"`
}

// MarshalJSON writes Left and Right as JSON where they can be (a NaN in a
// payload cannot), as their text otherwise.
func (r RecordDiff) MarshalJSON() ([]byte, error) {
	type plain RecordDiff
	p := plain(r)
	p.Left, p.Right = jsonable(r.Left), jsonable(r.Right)
	return json.Marshal(p)
}

func jsonable(v any) any {
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}

// Identical reports whether every output id is on both sides with equal
// values and every record could be compared.
func (r *DiffReport) Identical() bool {
	for _, k := range r.Kinds {
		if k.Differ() > 0 || k.Left.Errors() > 0 || k.Right.Errors() > 0 {
			return false
		}
	}
	return true
}

// Totals sums the counts over every kind.
func (r *DiffReport) Totals() DiffCounts {
	var t DiffCounts
	for _, k := range r.Kinds {
		t.Identical += k.Identical
		t.Changed += k.Changed
		t.OnlyLeft += k.OnlyLeft
		t.OnlyRight += k.OnlyRight
	}
	return t
}

// WriteText writes the report for a person: counts per kind, per stage
// (the stages with differences), guardian outcome changes, then the kept
// differing records with the first differing field and both values.
func (r *DiffReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replay diff on lane %s: %s (left) vs %s (right)\n\n", r.Lane, r.Left, r.Right)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tIDENTICAL\tCHANGED\tONLY %s\tONLY %s\tERRORS\tIGNORED\n", r.Left, r.Right)
	for _, k := range r.Kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", k.Kind, k.Identical, k.Changed, k.OnlyLeft, k.OnlyRight,
			pair(k.Left.Errors(), k.Right.Errors()), pair(k.Left.Ignored, k.Right.Ignored))
	}
	tw.Flush()
	for _, k := range r.Kinds {
		for _, s := range []struct {
			name string
			st   SideStats
		}{{r.Left, k.Left}, {r.Right, k.Right}} {
			if s.st.Errors() > 0 {
				fmt.Fprintf(&b, "%s %s: %d records without an output id, %d undecodable; first: %s\n",
					s.name, k.Kind, s.st.MissingID, s.st.Undecodable, s.st.FirstError)
			}
		}
	}

	var differing []StageDiff
	for _, s := range r.Stages {
		if s.Differ() > 0 {
			differing = append(differing, s)
		}
	}
	if len(differing) > 0 {
		fmt.Fprintf(&b, "\nby stage, the node for results (stages with differences):\n")
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  KIND\tSTAGE\tIDENTICAL\tCHANGED\tONLY %s\tONLY %s\n", r.Left, r.Right)
		for _, s := range differing {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\n", s.Kind, orDash(s.Stage), s.Identical, s.Changed, s.OnlyLeft, s.OnlyRight)
		}
		tw.Flush()
	}
	if len(r.Outcomes) > 0 {
		fmt.Fprintf(&b, "\nguardian outcome of changed results (%s → %s):\n", r.Left, r.Right)
		for _, o := range r.Outcomes {
			fmt.Fprintf(&b, "  %s → %s: %d\n", orDash(o.Left), orDash(o.Right), o.Count)
		}
	}
	if len(r.Records) > 0 {
		total := r.Totals().Differ()
		fmt.Fprintf(&b, "\ndiffering records (%d of %d, log order):\n", len(r.Records), total)
		for _, d := range r.Records {
			switch d.Status {
			case StatusChanged:
				fmt.Fprintf(&b, "  %s %s [%s] %s: %s → %s\n", d.Kind, d.ID, orDash(d.Stage), d.Field, render(d.Left), render(d.Right))
			case StatusOnlyLeft:
				fmt.Fprintf(&b, "  %s %s [%s] only in %s (partition %d offset %d)\n", d.Kind, d.ID, orDash(d.Stage), r.Left, d.Partition, d.LeftOffset)
			case StatusOnlyRight:
				fmt.Fprintf(&b, "  %s %s [%s] only in %s (partition %d offset %d)\n", d.Kind, d.ID, orDash(d.Stage), r.Right, d.Partition, d.RightOffset)
			}
		}
	}
	if r.Identical() {
		fmt.Fprintf(&b, "\nidentical: %d outputs\n", r.Totals().Identical)
		if n := r.outOfScope(); n > 0 {
			fmt.Fprintf(&b, "out of scope: %d live outputs of offsets the replay did not read\n", n)
		}
	} else {
		t := r.Totals()
		fmt.Fprintf(&b, "\nnot identical: %d changed, %d only in %s, %d only in %s\n", t.Changed, t.OnlyLeft, r.Left, t.OnlyRight, r.Right)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pair renders a left/right pair of counts, or "-" when both are zero.
func pair(l, r int) string {
	if l == 0 && r == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", l, r)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// render prints a value on one line, at most 120 characters.
func render(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = fmt.Sprintf("%q", x)
	case time.Time:
		s = x.UTC().Format(time.RFC3339Nano)
	case nil:
		s = "null"
	default:
		s = fmt.Sprintf("%v", x)
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func (r *DiffReport) outOfScope() int {
	n := 0
	for _, k := range r.Kinds {
		n += k.Left.OutOfScope
	}
	return n
}
