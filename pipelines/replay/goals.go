package replay

// Goal listings: the goals stage writes every change of a goal as a goal
// event on matriz.<lane>.events, so the log alone says where each goal
// stands — its latest event. `matriz goals` is this with flags.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// GoalRow is one goal as its latest goal event left it.
type GoalRow struct {
	Glyph    string    `json:"glyph"`
	Goal     string    `json:"goal"`
	Parent   string    `json:"parent"`
	Priority string    `json:"priority"`
	Status   string    `json:"status"`
	Progress float64   `json:"progress"`
	Reason   string    `json:"reason,omitempty"`
	Order    int64     `json:"order"` // creation order in its partition
	Depth    int64     `json:"depth"`
	Updated  time.Time `json:"updated"` // the event time of the latest change
	// Partition and Offset are where the latest change is in the log.
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// ScanGoals reads q's goal events (q.Kinds is replaced by the goal kind)
// and returns every goal's latest state, by glyph, then in the order the
// goals stage acts on them: priority (P0 first), then creation order. A
// glyph's events are all on the partition its key hashes to, in offset
// order, so the latest is the last read.
func ScanGoals(ctx context.Context, q EventQuery) ([]GoalRow, EventScanStats, error) {
	q.Kinds = []schemas.EventKind{schemas.EventGoal}
	latest := make(map[[2]string]int)
	var rows []GoalRow
	stats, err := ScanEvents(ctx, q, func(r EventRecord) error {
		row, ok := goalRow(r)
		if !ok {
			return nil
		}
		k := [2]string{row.Glyph, row.Goal}
		if i, seen := latest[k]; seen {
			rows[i] = row
			return nil
		}
		latest[k] = len(rows)
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, stats, err
	}
	slices.SortFunc(rows, func(a, b GoalRow) int {
		return cmp.Or(cmp.Compare(a.Glyph, b.Glyph), cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Order, b.Order), cmp.Compare(a.Goal, b.Goal))
	})
	return rows, stats, nil
}

// goalRow reads one goal event; an event without a goal name is not one
// the goals stage wrote and is skipped.
func goalRow(r EventRecord) (GoalRow, bool) {
	p := r.Event.Payload
	row := GoalRow{Glyph: r.Event.GlyphID, Updated: r.Event.TS.UTC(), Partition: r.Partition, Offset: r.Offset}
	var ok bool
	if row.Goal, ok = p.String("goal"); !ok || row.Goal == "" {
		return row, false
	}
	row.Parent, _ = p.String("parent")
	row.Priority, _ = p.String("priority")
	row.Status, _ = p.String("to")
	row.Progress, _ = p.Float("progress")
	row.Reason, _ = p.String("reason")
	row.Order, _ = p.Int("order")
	row.Depth, _ = p.Int("depth")
	return row, true
}

// WriteGoalsText writes rows as an aligned table: glyph, goal, parent,
// priority, status, progress (percent) and when it last changed; "-" for
// a root's parent.
func WriteGoalsText(w io.Writer, rows []GoalRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GLYPH\tGOAL\tPARENT\tPRIORITY\tSTATUS\tPROGRESS\tUPDATED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%%\t%s\n", r.Glyph, r.Goal, orDash(r.Parent), orDash(r.Priority), orDash(r.Status),
			strconv.FormatFloat(100*r.Progress, 'f', 0, 64), r.Updated.Format(textTime))
	}
	return tw.Flush()
}

// WriteGoalsJSON writes one JSON object per row and line.
func WriteGoalsJSON(w io.Writer, rows []GoalRow) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
