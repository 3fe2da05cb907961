package bench

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
)

// TestParseVmRSS reads the resident set from a /proc status text in bytes
// and refuses a text without it or with a unit it does not know.
func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS("Name:\tbench\nVmHWM:\t  300000 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n")
	if err != nil || got != 123456*1024 {
		t.Fatalf("parseVmRSS = %d, %v; want %d", got, err, 123456*1024)
	}
	if _, err := parseVmRSS("Name:\tbench\n"); !errors.Is(err, ErrNoRSS) {
		t.Fatalf("no VmRSS line: err %v, want ErrNoRSS", err)
	}
	if _, err := parseVmRSS("VmRSS:\t12 MB\n"); err == nil {
		t.Fatal("VmRSS in MB: want an error")
	}
}

// TestReadVmRSSOfThisProcess: on Linux the sampler reads a plausible
// figure for the test process itself.
func TestReadVmRSSOfThisProcess(t *testing.T) {
	v, err := readVmRSS(0)
	if err != nil {
		t.Fatal(err)
	}
	if v < 1<<20 || v > 64<<30 {
		t.Fatalf("VmRSS %d bytes: not a resident set a test process has", v)
	}
}

// TestRSSSamplerSoFarKeepsSampling: soFar reads the peak so far without
// stopping the sampler; memory touched after it raises the next reading,
// and peak is at least every reading before it.
func TestRSSSamplerSoFarKeepsSampling(t *testing.T) {
	s := sampleRSS(clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), 0)
	first := s.soFar()
	if first < 1<<20 {
		t.Fatalf("soFar %d: not sampled", first)
	}
	const grow = 64 << 20
	b := make([]byte, grow)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1 // touch each page, so it is resident
	}
	second := s.soFar()
	runtime.KeepAlive(b)
	if second < first+grow/2 {
		t.Fatalf("soFar %d after touching %d bytes, want at least %d more than %d", second, grow, grow/2, first)
	}
	if p, err := s.peak(); err != nil || p < second {
		t.Fatalf("peak %d, %v; want at least the %d read before", p, err, second)
	}
}

// TestOffsetSets: offsets are kept per partition, across word boundaries,
// and an offset never added (or negative) is not in the set.
func TestOffsetSets(t *testing.T) {
	s := offsetSets{}
	for _, o := range []int64{0, 63, 64, 1000} {
		s.add(2, o)
	}
	s.add(2, -1)
	for _, o := range []int64{0, 63, 64, 1000} {
		if !s.has(2, o) {
			t.Errorf("offset %d of partition 2 missing", o)
		}
	}
	for _, c := range []struct {
		p int32
		o int64
	}{{2, 1}, {2, 65}, {2, 999}, {2, 1001}, {2, 1 << 20}, {2, -1}, {1, 0}} {
		if s.has(c.p, c.o) {
			t.Errorf("partition %d offset %d: in the set, never added", c.p, c.o)
		}
	}
}

// TestOverloadAccountsEveryOffset offers more than the lanes answer on two
// partitions for two seconds: on experimental every offered offset comes
// out as a result, a DLQ record or an offset a decimation event lists
// (none both, none neither); on prod nothing is dropped; both phases
// report a sampled peak RSS of their lane's own process, which is far
// below this process's, where the broker holds every offered record.
func TestOverloadAccountsEveryOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	ctx := t.Context()
	env, _ := twoPartitionProd(t)
	env.Executable = matrizBinary(t)
	ex, err := overloadExperimental(ctx, env, 20_000, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("experimental: %+v", ex)
	if ex.Offered.Sent == 0 || ex.Answered+ex.Drops != ex.Offered.Sent {
		t.Fatalf("experimental: %d answered + %d dropped, want the %d offered", ex.Answered, ex.Drops, ex.Offered.Sent)
	}
	if ex.Accounted != ex.Drops || ex.ListedAnswered != 0 {
		t.Fatalf("experimental: %d of %d drops listed by decimation events, %d listed offsets answered too", ex.Accounted, ex.Drops, ex.ListedAnswered)
	}
	if ex.Results != ex.Answered-ex.DLQ {
		t.Fatalf("experimental: %d results + %d DLQ, want %d answered", ex.Results, ex.DLQ, ex.Answered)
	}
	pr, err := overloadProd(ctx, env, 20_000, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prod: %+v", pr)
	if pr.Offered.Sent == 0 || pr.AnsweredRate <= 0 || pr.Dropped != 0 || pr.Backlog < 0 {
		t.Fatalf("prod under overload: %+v; want answers, a backlog ≥ 0 and nothing dropped", pr)
	}
	if ex.OfferedPeakRSS < 1<<20 || ex.OfferedPeakRSS > ex.PeakRSS {
		t.Fatalf("experimental: peak RSS %d while offered, %d in all; want a sampled figure no larger than the peak", ex.OfferedPeakRSS, ex.PeakRSS)
	}
	for _, rss := range []uint64{ex.PeakRSS, pr.PeakRSS} {
		if rss < 1<<20 {
			t.Fatalf("peak RSS %d: not sampled", rss)
		}
	}
	if self, _ := readVmRSS(0); ex.PeakRSS == self || pr.PeakRSS == self {
		t.Fatalf("peak RSS %d / %d: this process's (%d), not the lane's", ex.PeakRSS, pr.PeakRSS, self)
	}
}
