package bench

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

// BenchmarkReplay is the replay phase alone, to profile: the live chain
// runs once over N messages (MATRIZ_BENCH_N, default 50,000) and stops,
// then each iteration replays its whole log into the bench-replay
// namespace. It reports the replay's records/s and its ratio to the live
// chain's rate of the setup run, and, since the machine is shared, the
// CPU time per record of each (the broker and the GC included, all in
// this process), which does not depend on what else runs, e.g.
//
//	go test ./pipelines/bench -run '^$' -bench Replay -benchtime 3x -cpuprofile replay.pprof
func BenchmarkReplay(b *testing.B) {
	n := 50_000
	if v := os.Getenv("MATRIZ_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("MATRIZ_BENCH_N=%q: %v", v, err)
		}
	}
	ctx := b.Context()
	cl := clock.Real{}
	lane := schemas.LaneProd
	sp, err := spec.Default()
	if err != nil {
		b.Fatal(err)
	}
	const partitions = 6
	sp.Lanes[lane].Partitions = partitions
	stack, err := devstack.StartDeployed(ctx, devstack.Config{Partitions: partitions}, sp.Partitions(), lane)
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	brokers := stack.BrokerAddrs()
	if err := benchProduce(ctx, brokers, stack.Serde, lane, n, cl.Now().Add(-time.Minute)); err != nil {
		b.Fatal(err)
	}
	chainRate, chainCPU := liveChain(ctx, b, runtime.Config{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Group: "bench-chain",
		Spec: sp, Clock: cl, Logger: slog.New(slog.DiscardHandler)}, int64(n))
	ranges, err := replayRanges(ctx, brokers, lane)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime(b)
	cfg := replayConfig{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Spec: sp, Clock: cl}
	var records int64
	var took time.Duration
	for b.Loop() {
		st, err := replayPhase(ctx, cfg, ranges)
		if err != nil {
			b.Fatal(err)
		}
		if st.Records != int64(n) {
			b.Fatalf("replayed %d records, want the chain's %d", st.Records, n)
		}
		records += st.Records
		took += st.Took
	}
	replayCPU := cpuTime(b) - cpu0
	rate := float64(records) / took.Seconds()
	b.ReportMetric(chainRate, "chain-msgs/s")
	b.ReportMetric(rate, "replay-msgs/s")
	b.ReportMetric(rate/chainRate, "replay/chain")
	b.ReportMetric(chainCPU.Seconds()*1e6/float64(n), "chain-cpu-µs/rec")
	b.ReportMetric(replayCPU.Seconds()*1e6/float64(records), "replay-cpu-µs/rec")
}

// liveChain runs the live runtime until it answered n messages, stops it
// and returns its rate and the CPU time the process used until then.
func liveChain(ctx context.Context, b *testing.B, cfg runtime.Config, n int64) (float64, time.Duration) {
	b.Helper()
	counters := &observe.LaneCounters{}
	cfg.Counters = counters
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start, cpu0 := cfg.Clock.Now(), cpuTime(b)
	go func() { done <- runtime.Run(runCtx, cfg) }()
	select {
	case <-ready:
	case err := <-done:
		stop()
		b.Fatal(err)
	}
	err := waitAnswered(ctx, cfg.Clock, counters, n, 10*time.Minute)
	took, cpu := cfg.Clock.Now().Sub(start), cpuTime(b)-cpu0
	stop()
	if runErr := <-done; err == nil {
		err = runErr
	}
	if err != nil {
		b.Fatal(err)
	}
	return float64(n) / took.Seconds(), cpu
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
