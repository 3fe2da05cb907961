package bench

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCopyVsChain is issue 4's benchmark: one run on the embedded
// broker of a raw kafka-go consume→produce copy of N messages beside the
// full chain over the same N, a replay of the chain's log, then the chain
// under a steady 20k msg/s, then a scan of 300,000 events on the event
// log. One iteration takes tens of seconds, so `go test -bench
// CopyVsChain` runs it once.
// MATRIZ_BENCH_N overrides N (default 100,000).
func BenchmarkCopyVsChain(b *testing.B) {
	n := 100_000
	if v := os.Getenv("MATRIZ_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("MATRIZ_BENCH_N=%q: %v", v, err)
		}
	}
	for range b.N {
		rep, err := Run(b.Context(), Config{N: n, Rate: 20_000, SteadyFor: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.CopyRate, "copy-msgs/s")
		b.ReportMetric(rep.ChainRate, "chain-msgs/s")
		b.ReportMetric(rep.Ratio, "chain/copy")
		b.ReportMetric(rep.ReplayRate, "replay-msgs/s")
		b.ReportMetric(rep.ReplayRatio, "replay/chain")
		b.ReportMetric(rep.SteadyRate, "steady-msgs/s")
		b.ReportMetric(float64(rep.SteadyP95.Microseconds()), "tick-p95-µs")
		b.ReportMetric(rep.EventsRate, "events-scan/s")
		b.Log(rep)
	}
}

// TestRunMeasuresEveryPhase runs the bench small: every phase finishes and
// reports figures a person can read (rates > 0, the ratios are theirs, p95
// over real frames, the replay read every record the chain answered), and
// the report names them.
func TestRunMeasuresEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	var out strings.Builder
	rep, err := Run(t.Context(), Config{N: 2000, Rate: 500, SteadyFor: 500 * time.Millisecond, Partitions: 2, Events: 3000, Out: &out, Short: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CopyRate <= 0 || rep.ChainRate <= 0 || rep.SteadyRate <= 0 || rep.SteadyFrames == 0 || rep.SteadyP95 <= 0 {
		t.Fatalf("report without figures: %+v", rep)
	}
	if r := rep.ChainRate / rep.CopyRate; r != rep.Ratio {
		t.Fatalf("ratio %v, want chain/copy = %v", rep.Ratio, r)
	}
	if rep.ReplayRecords != int64(rep.N) || rep.ReplayRate <= 0 {
		t.Fatalf("replay phase: replayed %d records at %.0f msgs/s; want every one of the chain's %d", rep.ReplayRecords, rep.ReplayRate, rep.N)
	}
	if r := rep.ReplayRate / rep.ChainRate; r != rep.ReplayRatio {
		t.Fatalf("replay ratio %v, want replay/chain = %v", rep.ReplayRatio, r)
	}
	if rep.Events != 3000 || rep.EventsScanned != 3000 || rep.EventsRate <= 0 {
		t.Fatalf("events phase: wrote %d, scanned %d at %.0f events/s; want every one of 3000 counted", rep.Events, rep.EventsScanned, rep.EventsRate)
	}
	// The latency and overload phases (latency*.go, overload*.go) fill theirs.
	if rep.SteadyLatencySamples == 0 || rep.SteadyP99 < rep.SteadyP50 || rep.SteadyP50 <= 0 || rep.SteadyFor <= 0 {
		t.Fatalf("steady end to end latency not measured: %+v", rep)
	}
	for _, rate := range LowRates {
		if rep.LowRateP99[rate] <= 0 || rep.LowRateP99[rate] < rep.LowRateP50[rate] {
			t.Fatalf("low rate %d msgs/s: p50 %v, p99 %v", rate, rep.LowRateP50[rate], rep.LowRateP99[rate])
		}
	}
	if rep.OverloadRate <= 0 || rep.OverloadPeakRSS == 0 || len(rep.OverloadPeakRSSByLane) != 2 ||
		rep.ExperimentalDropsAccounted != rep.ExperimentalDrops || rep.ProdOverloadDropped != 0 || rep.ProdOverloadAnswered <= 0 {
		t.Fatalf("overload phase: %+v", rep)
	}
	for _, want := range []string{"raw kafka-go copy", "full chain", "replay: the chain's log, 2 partitions", "steady: 500 msgs/s offered", "low rate: 100 msgs/s", "overload: ", "events scan: 3000 events"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("progress lack %q:\n%s", want, out.String())
		}
	}
	if s := rep.String(); !strings.Contains(s, "over 2000 messages on 2 partitions") || !strings.Contains(s, "over 2000 records") || !strings.Contains(s, "over 3000 events") {
		t.Fatalf("report %q", s)
	}
}
