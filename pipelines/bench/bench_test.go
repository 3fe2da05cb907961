package bench

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCopyVsChain is issue 4's benchmark: one run on the embedded
// broker of a raw kafka-go consume→produce copy of N messages beside the
// full chain over the same N, then the chain under a steady 20k msg/s.
// One iteration takes tens of seconds, so `go test -bench CopyVsChain`
// runs it once. MATRIZ_BENCH_N overrides N (default 100,000).
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
		b.ReportMetric(rep.SteadyRate, "steady-msgs/s")
		b.ReportMetric(float64(rep.SteadyP95.Microseconds()), "tick-p95-µs")
		b.Log(rep)
	}
}
