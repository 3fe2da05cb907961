package runtime

import (
	"context"
	"os"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
)

// BenchmarkLaneChain runs the prod lane's full chain, dispatch on, over N
// messages on the embedded broker (as matriz bench's chain phase does) and
// reports msgs/s from Run's start to the last answer, and allocations per
// message over the same span (the in-process broker's included, as in
// matriz bench). It measures the chain's hot path without the whole bench.
// MATRIZ_LANE_BENCH_N overrides N (default 20,000).
func BenchmarkLaneChain(b *testing.B) {
	n := 20_000
	if v := os.Getenv("MATRIZ_LANE_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("MATRIZ_LANE_BENCH_N=%q: want a positive count", v)
		}
	}
	lane := schemas.LaneProd
	var took time.Duration
	var mallocs uint64
	for range b.N {
		b.StopTimer()
		e := pipetest.Start(b, lane)
		gen := devstack.NewSynthetic(lane, 1, 1024)
		base := time.Now().Add(-time.Minute)
		msgs := make([]schemas.MatrizMessage, n)
		for i := range msgs {
			msgs[i] = gen.Next(base.Add(time.Duration(i) * 10 * time.Microsecond))
		}
		e.Produce(b, lane, msgs, nil)
		counters := &observe.LaneCounters{}
		goruntime.GC()
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		start := time.Now()
		b.StartTimer()
		stop := pipetest.Run(b, func(ctx context.Context, ready func()) error {
			return Run(ctx, Config{Lane: lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL, Counters: counters,
				Getenv: envMap(map[string]string{FlagDispatch: "true"}), Ready: ready})
		})
		joined := time.Since(start)
		for counters.Out.Load()+counters.DLQ.Load() < int64(n) {
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("%d of %d answered after 5 minutes", counters.Out.Load()+counters.DLQ.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
		took += time.Since(start)
		b.Logf("joined the group after %v, answered %d after %v", joined, n, time.Since(start))
		b.StopTimer()
		goruntime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
		if dlq := counters.DLQ.Load(); dlq != 0 {
			b.Fatalf("%d of %d valid messages went to the DLQ", dlq, n)
		}
		if err := stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
	}
	total := float64(n * b.N)
	b.ReportMetric(total/took.Seconds(), "msgs/s")
	b.ReportMetric(float64(mallocs)/total, "allocs/msg")
}
