package bench

import (
	"os"
	"path/filepath"
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
		b.ReportMetric(rep.FanoutRate, "fanout-msgs/s")
		b.ReportMetric(rep.FanoutRatio, "chain/fanout")
		b.ReportMetric(rep.ChainAllocsPerMsg, "chain-allocs/msg")
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
// over real frames, the replay read every record the chain answered), the
// chain's writes per input are counted (a result per input at least) and
// the fan-out copy wrote per input what the chain did, the chain phase's
// allocations, RSS and profiles are there, and the report names them.
func TestRunMeasuresEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	var out strings.Builder
	rep, err := Run(t.Context(), Config{N: 3000, Rate: 500, SteadyFor: 2 * time.Second, Partitions: 2, Events: 3000, Out: &out,
		CPUProfile: cpu, MemProfile: mem, Short: true, Executable: matrizBinary(t)})
	if err != nil {
		t.Fatalf("%v\nthe run's progress:\n%s", err, out.String())
	}
	if rep.CopyRate <= 0 || rep.ChainRate <= 0 || rep.FanoutRate <= 0 || rep.SteadyRate <= 0 || rep.SteadyFrames == 0 || rep.SteadyP95 <= 0 {
		t.Fatalf("report without figures: %+v", rep)
	}
	if r := rep.ChainRate / rep.CopyRate; r != rep.Ratio {
		t.Fatalf("ratio %v, want chain/copy = %v", rep.Ratio, r)
	}
	if r := rep.ChainRate / rep.FanoutRate; r != rep.FanoutRatio {
		t.Fatalf("fan-out ratio %v, want chain/fan-out = %v", rep.FanoutRatio, r)
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
	checkWrites(t, rep)
	if rep.ChainAllocsPerMsg < 1 || rep.CopyAllocsPerMsg <= 0 || rep.FanoutAllocsPerMsg <= 0 {
		t.Fatalf("allocations per message: chain %.1f, copy %.1f, fan-out %.1f", rep.ChainAllocsPerMsg, rep.CopyAllocsPerMsg, rep.FanoutAllocsPerMsg)
	}
	if rep.ChainStartup <= 0 || rep.ChainStartup >= time.Duration(float64(rep.N)/rep.ChainRate*float64(time.Second)) {
		t.Fatalf("chain start-up %v of a chain phase at %.0f msgs/s over %d", rep.ChainStartup, rep.ChainRate, rep.N)
	}
	if rep.ChainPeakRSS < 1<<20 || rep.PeakRSS < rep.ChainPeakRSS {
		t.Fatalf("RSS: chain phase peak %d, process peak %d", rep.ChainPeakRSS, rep.PeakRSS)
	}
	if rep.CodecRoundTrip <= 0 || rep.CodecAllocs <= 0 {
		t.Fatalf("codec round trip %v, %.1f allocs", rep.CodecRoundTrip, rep.CodecAllocs)
	}
	for _, f := range []string{cpu, mem} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("profile %s: %v", f, err)
		}
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
	if rep.ScaleOutOne <= 0 || rep.ScaleOutTwo <= 0 || rep.ScaleOutRatio != rep.ScaleOutTwo/rep.ScaleOutOne || rep.ScaleOutFor <= 0 {
		t.Fatalf("scale-out phase: one %.0f, two %.0f msgs/s, ratio %.2f over %v", rep.ScaleOutOne, rep.ScaleOutTwo, rep.ScaleOutRatio, rep.ScaleOutFor)
	}
	for i, idle := range rep.ScaleOutIdle {
		if idle < 0 || idle > 1 {
			t.Fatalf("scale-out phase, %d process(es): the machine's idle CPU share %v not measured", i+1, idle)
		}
	}
	for _, want := range []string{"plain copy", "full chain", "fan-out copy", "settings: MinBytes 1", "replay: the chain's log, 2 partitions",
		"steady: 500 msgs/s offered", "events scan: 3000 events", "codec: ", "low rate: 100 msgs/s", "overload: ", "scale-out: ", "CPU over the window: lane process(es) "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("progress lack %q:\n%s", want, out.String())
		}
	}
	s := rep.String()
	if !strings.HasPrefix(s, "copy ") || !strings.Contains(s, "fan-out ") || !strings.Contains(s, "over 3000 messages on 2 partitions") ||
		!strings.Contains(s, "over 3000 records") || !strings.Contains(s, "over 3000 events") {
		t.Fatalf("report %q", s)
	}
}

// checkWrites: the chain wrote at least a record per input, a result per
// input less what went to the DLQ; the fan-out copy wrote, per kind, the
// chain's records exactly and its bytes within 5% (its keys are the
// inputs', its values the chain's average value and headers).
func checkWrites(t *testing.T, rep Report) {
	t.Helper()
	byKind := map[string]KindWrites{}
	var perInput float64
	for _, w := range rep.Writes {
		byKind[w.Kind] = w
		rec, _ := PerInput(w, rep.N)
		perInput += rec
	}
	if len(rep.Writes) != len(outputKinds) || perInput < 1 {
		t.Fatalf("chain writes %+v: %.3f records per input", rep.Writes, perInput)
	}
	if got := byKind["results"].Records + byKind["dlq"].Records; got != int64(rep.N) {
		t.Fatalf("chain wrote %d results and DLQ records for %d inputs", got, rep.N)
	}
	fanned := 0
	for _, f := range rep.FanoutWrites {
		w := byKind[f.Kind]
		if f.Records != w.Records {
			t.Errorf("%s: fan-out wrote %d records, the chain %d", f.Kind, f.Records, w.Records)
		}
		if d := float64(f.Bytes()-w.Bytes()) / float64(w.Bytes()); d > 0.05 || d < -0.05 {
			t.Errorf("%s: fan-out wrote %d bytes, the chain %d", f.Kind, f.Bytes(), w.Bytes())
		}
		fanned++
	}
	for _, w := range rep.Writes {
		if w.Records > 0 {
			fanned--
		}
	}
	if fanned != 0 {
		t.Fatalf("fan-out kinds %+v, chain kinds %+v", rep.FanoutWrites, rep.Writes)
	}
}
