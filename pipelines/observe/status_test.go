package observe

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/matriz/pipelines/schemas"
)

// threeLanes returns counters for every lane and a status line over them.
func threeLanes(out *bytes.Buffer) (map[schemas.Lane]*LaneCounters, *StatusLine) {
	cs := map[schemas.Lane]*LaneCounters{}
	for _, l := range schemas.Lanes {
		cs[l] = &LaneCounters{}
	}
	res := &Resources{every: time.Minute, rss: func() (int64, error) { return 90e6, nil }}
	return cs, NewStatusLine(out, schemas.Lanes, func(l schemas.Lane) *LaneCounters { return cs[l] }, nil).WithResources(res)
}

var ansi = regexp.MustCompile(`\x1b\[[0-9]*[A-Za-z]`)

// TestStatusLineStaysOneLinePerIntervalOffATerminal: without WithTable
// (stdout is a log or CI) every Print appends one plain line with every
// lane and the process figures, no escape sequences.
func TestStatusLineStaysOneLinePerIntervalOffATerminal(t *testing.T) {
	var out bytes.Buffer
	cs, line := threeLanes(&out)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	line.Print(t0)
	cs[schemas.LaneProd].Out.Add(40)
	cs[schemas.LaneProd].FPS.Store(30)
	line.Print(t0.Add(time.Second))
	got := out.String()
	if strings.Contains(got, "\x1b") || strings.Contains(got, "\r") {
		t.Fatalf("escape sequences off a terminal: %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	want := "exp in 0/s out 0/s Σ0 p95 0.00ms 0fps drift 0.000 brk 0 bt 0 deny 0 dlq 0 | " +
		"cand in 0/s out 0/s Σ0 p95 0.00ms 0fps drift 0.000 brk 0 bt 0 deny 0 dlq 0 | " +
		"prod in 0/s out 40/s Σ40 p95 0.00ms 30fps drift 0.000 brk 0 bt 0 deny 0 dlq 0 | rss 90MB"
	if len(lines) != 2 || lines[1] != want {
		t.Fatalf("status lines:\n%s\nwant the second:\n%s", got, want)
	}
}

// TestStatusTableIsAlignedAndRedrawnInPlace: with WithTable the first
// Print draws a header and one row per lane with every column aligned;
// each next one moves the cursor up over the last table and overwrites it,
// and columns keep their width when figures shrink.
func TestStatusTableIsAlignedAndRedrawnInPlace(t *testing.T) {
	var out bytes.Buffer
	cs, line := threeLanes(&out)
	line.WithTable()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	draw := func(at time.Duration) (raw string, rows []string) {
		out.Reset()
		line.Print(t0.Add(at))
		raw = out.String()
		for _, l := range strings.Split(strings.TrimSuffix(ansi.ReplaceAllString(raw, ""), "\n"), "\n") {
			rows = append(rows, strings.TrimPrefix(l, "\r"))
		}
		return raw, rows
	}
	aligned := func(rows []string) int {
		t.Helper()
		n := utf8.RuneCountInString(rows[0])
		for _, r := range rows[1:4] {
			if utf8.RuneCountInString(r) != n {
				t.Fatalf("rows of different widths, columns not aligned:\n%s", strings.Join(rows, "\n"))
			}
		}
		return n
	}

	raw, rows := draw(0)
	if strings.Contains(raw, "\x1b[5A") || strings.Count(raw, "\r\x1b[2K") != 5 {
		t.Fatalf("first table: %q, want 5 cleared lines and no cursor move", raw)
	}
	if len(rows) != 5 || !regexp.MustCompile(`^LANE +IN/s +OUT/s +ANSWERED +P95 +FPS +DRIFT +BRK +BT +DENY +DLQ$`).MatchString(rows[0]) ||
		!strings.HasPrefix(rows[1], "experimental ") || !strings.HasPrefix(rows[3], "prod ") || rows[4] != "rss 90MB" {
		t.Fatalf("first table:\n%s", strings.Join(rows, "\n"))
	}
	first := aligned(rows)

	p := cs[schemas.LaneProd]
	p.In.Add(1234567)
	p.Out.Add(1234000)
	p.FPS.Store(30)
	p.SetDriftEMA(0.3125)
	p.DLQ.Add(12)
	p.p95.add(1500 * time.Microsecond)
	raw, rows = draw(2 * time.Second)
	if !strings.HasPrefix(raw, "\x1b[5A\r\x1b[2K") {
		t.Fatalf("second table does not move up over the first: %q", raw)
	}
	second := aligned(rows)
	if second <= first {
		t.Fatalf("columns did not widen for the bigger figures:\n%s", strings.Join(rows, "\n"))
	}
	fields := strings.Fields(rows[3])
	if strings.Join(fields, " ") != "prod 617284 617000 1234000 1.50ms 30 0.312 0 0 0 12" {
		t.Fatalf("prod row %q", rows[3])
	}
	// The header's right edges are the rows' right edges.
	for _, col := range []string{"ANSWERED", "DRIFT", "DLQ"} {
		end := strings.Index(rows[0], col) + len(col)
		if end-1 >= len(rows[3]) || rows[3][end-1] == ' ' || (end < len(rows[3]) && rows[3][end] != ' ') {
			t.Errorf("column %s does not end where its header does:\n%s\n%s", col, rows[0], rows[3])
		}
	}

	raw, rows = draw(3 * time.Second) // the rates fall back to 0
	if !strings.HasPrefix(raw, "\x1b[5A") || aligned(rows) != second {
		t.Fatalf("third table moved columns:\n%s", strings.Join(rows, "\n"))
	}
}
