package bench

import (
	"strings"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// TestPercentileNearestRank pins the percentile definition: nearest rank,
// so p99 of 100 samples is the 99th smallest, not an interpolation, and
// small sets give their largest sample.
func TestPercentileNearestRank(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	for _, c := range []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{hundred, 0.50, ms(50)},
		{hundred, 0.90, ms(90)},
		{hundred, 0.99, ms(99)},
		{hundred, 1, ms(100)},
		{hundred, 0, ms(1)},
		{hundred[:10], 0.99, ms(10)},
		{hundred[:10], 0.50, ms(5)},
		{hundred[:1], 0.5, ms(1)},
		{nil, 0.99, 0},
	} {
		if got := percentile(c.sorted, c.q); got != c.want {
			t.Errorf("percentile(%d samples, %v) = %v, want %v", len(c.sorted), c.q, got, c.want)
		}
	}
}

// TestSummarizeSortsAndCounts: the summary is over the samples in any
// order, and an empty set is "not measured".
func TestSummarizeSortsAndCounts(t *testing.T) {
	s := summarize([]time.Duration{ms(30), ms(10), ms(1000), ms(20)})
	if s.Count != 4 || s.Min != ms(10) || s.P50 != ms(20) || s.P99 != ms(1000) || s.Max != ms(1000) {
		t.Fatalf("summary %+v", s)
	}
	if e := summarize(nil); e.Count != 0 || e.P99 != 0 || e.String() != "no samples" {
		t.Fatalf("empty summary %+v %q", e, e.String())
	}
	if got := s.String(); !strings.Contains(got, "p99 1s") || !strings.Contains(got, "over 4 results") {
		t.Fatalf("String %q", got)
	}
}

// TestLatencyBookJoinsBySourceOffset: inputs and results meet by
// partition and offset whatever order the two tails read them in; a
// redelivered result counts once; results for inputs from before the
// probe started are ignored, and inputs without a result are counted as
// unanswered, not as samples.
func TestLatencyBookJoinsBySourceOffset(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	b := newLatencyBook()
	b.input(0, 10, at(0))
	b.input(0, 11, at(ms(5)))
	b.input(1, 100, at(ms(1)))
	b.result(0, 10, at(ms(40)), at(ms(42)))  // 40 ms
	b.result(0, 10, at(ms(90)), at(ms(95)))  // a redelivery: ignored
	b.result(1, 101, at(ms(70)), at(ms(71))) // before its input
	b.input(1, 101, at(ms(2)))               // 68 ms
	b.result(0, 9, at(ms(3)), at(ms(3)))     // an older input's: not this phase's
	b.result(1, 100, at(ms(31)), at(ms(33))) // 30 ms
	b.input(0, 12, at(ms(6)))                // never answered

	sent, answered := b.counts()
	if sent != 5 || answered != 3 {
		t.Fatalf("counts: %d sent, %d answered; want 5, 3", sent, answered)
	}
	acked, seen := b.summaries()
	if acked.Count != 3 || acked.Min != ms(30) || acked.P50 != ms(40) || acked.Max != ms(68) || acked.Unanswered != 2 || acked.Ignored != 1 {
		t.Fatalf("acked %+v", acked)
	}
	if seen.Count != 3 || seen.Min != ms(32) || seen.P50 != ms(42) || seen.Max != ms(69) {
		t.Fatalf("seen %+v", seen)
	}
}

// TestLatencyBookEarlyResultWithoutInput: a result whose input the probe
// never reads is not a sample; it is counted as ignored.
func TestLatencyBookEarlyResultWithoutInput(t *testing.T) {
	b := newLatencyBook()
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	b.result(3, 7, t0, t0)
	if _, answered := b.counts(); answered != 0 {
		t.Fatalf("answered %d, want 0", answered)
	}
	acked, _ := b.summaries()
	if acked.Count != 0 || acked.Ignored != 1 {
		t.Fatalf("acked %+v", acked)
	}
}

// TestLowRateMeasuresEndToEnd offers 100 msgs/s for two seconds to a prod
// lane on the embedded broker and measures end to end latency from
// outside: every message offered has its result measured, and p99 is a
// positive figure no smaller than p50.
func TestLowRateMeasuresEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	ctx := t.Context()
	env, out := twoPartitionProd(t)
	acked, seen, err := lowRate(ctx, env, 100, 2*time.Second, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100 msgs/s: %v; seen %v\n%s", acked, seen, out.String())
	if acked.Count < 150 || acked.Count > 200 || acked.Unanswered != 0 {
		t.Fatalf("measured %d results (%d unanswered); want every one of about 200 offered", acked.Count, acked.Unanswered)
	}
	if acked.P99 <= 0 || acked.P99 < acked.P50 || acked.Max < acked.P99 || acked.Min <= 0 {
		t.Fatalf("latency %+v: want 0 < min ≤ p50 ≤ p99 ≤ max", acked)
	}
	if seen.Count != acked.Count || seen.P50 < acked.P50 {
		t.Fatalf("seen %+v beside acked %+v: the probe reads a result after it was stamped", seen, acked)
	}
	if !strings.Contains(out.String(), "offered ") || !strings.Contains(out.String(), " judged late") {
		t.Fatalf("progress lacks the offered or the late count:\n%s", out.String())
	}
}

// TestSplitByIdle: an idle close's offset marks its input and the inputs
// before it in the same frame as closed by the idle close; inputs of
// earlier frames and other partitions stay in the rest.
func TestSplitByIdle(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0) // on the 100 ms grid
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	b := newLatencyBook()
	for i, c := range []struct{ sent, acked time.Duration }{{0, 30}, {20, 60}, {150, 350}, {160, 360}} {
		off := int64(10 + i)
		b.input(0, off, at(ms(int(c.sent))))
		b.result(0, off, at(ms(int(c.acked))), at(ms(int(c.acked))))
	}
	b.input(1, 5, at(ms(170)))
	b.result(1, 5, at(ms(210)), at(ms(210)))
	idle, rest := b.splitByIdle(map[int32][]int64{0: {13}, 1: {99}}, 100*time.Millisecond)
	if idle.Count != 2 || idle.Min != ms(200) || idle.Max != ms(200) {
		t.Fatalf("idle %+v: want offsets 12 and 13, 200 ms each", idle)
	}
	if rest.Count != 3 || rest.Min != ms(30) || rest.Max != ms(40) {
		t.Fatalf("rest %+v: want offsets 10, 11 and partition 1's", rest)
	}
}
