package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/runtime"
)

// TestProgressLinesOffATerminal: off a terminal the display writes a plain
// line at most every interval, with records done of the total, the rate,
// the ETA and each partition's share, and a last line at the end.
func TestProgressLinesOffATerminal(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	var b strings.Builder
	p := NewProgress(&b, false, clk, 2*time.Second)
	p.Start([]runtime.ReplayRange{{Partition: 0, From: 0, To: 100}, {Partition: 1, From: 50, To: 150}})
	p.Done(0, 10)
	if b.Len() != 0 {
		t.Fatalf("a line before the interval passed: %q", b.String())
	}
	clk.Advance(2 * time.Second)
	p.Done(1, 30)
	want := "replay: 40/200 records, 20 records/s, eta 8s; p0 10/100 p1 30/100\n"
	if b.String() != want {
		t.Fatalf("line %q, want %q", b.String(), want)
	}
	clk.Advance(time.Second)
	p.Done(0, 100)
	if strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("a second line within the interval: %q", b.String())
	}
	p.Done(1, 100)
	p.Finish()
	if last := strings.Split(strings.TrimSpace(b.String()), "\n")[1]; !strings.HasPrefix(last, "replay: 200/200 records") || !strings.Contains(last, "eta -") {
		t.Fatalf("last line %q", last)
	}
}
