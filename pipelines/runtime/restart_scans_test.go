package runtime

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

// scanRecorder is a fake event log scan: it answers each partition asked
// with Decisions whose Until is the ask's, and records every call's asks.
type scanRecorder struct {
	mu    sync.Mutex
	calls []map[int32]scanAsk
	err   error
}

func (r *scanRecorder) scan(_ context.Context, asks map[int32]scanAsk, _ time.Duration) (map[int32]*Decisions, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, maps.Clone(asks))
	out := map[int32]*Decisions{}
	for p, a := range asks {
		out[p] = NewDecisions(a.until)
	}
	return out, r.err
}

func (r *scanRecorder) callPartitions() [][]int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]int32
	for _, c := range r.calls {
		out = append(out, slices.Sorted(maps.Keys(c)))
	}
	return out
}

// loadAll asks for each partition from its own goroutine, as the
// generation's workers do, and returns each one's Until or error.
func loadAll(s *restartScans, asks map[int32]scanAsk) (map[int32]int64, map[int32]error) {
	var mu sync.Mutex
	until, errs := map[int32]int64{}, map[int32]error{}
	var wg sync.WaitGroup
	for p, a := range asks {
		wg.Go(func() {
			d, err := s.load(context.Background(), p, a, time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[p] = err
				return
			}
			until[p] = d.Until
		})
	}
	wg.Wait()
	return until, errs
}

// TestRestartScansReadTheLogOnceForAGeneration: the partitions of one
// generation get their decisions from one scan that carries every ask
// (each with its own since and until); a withdrawn partition is not waited
// for and not scanned; a partition asking again (a retry) or one not of
// the generation scans alone.
func TestRestartScansReadTheLogOnceForAGeneration(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := &scanRecorder{}
	s := newRestartScans(context.Background(), 4, []int32{0, 1, 2, 3}, rec.scan)
	s.withdraw(3)
	asks := map[int32]scanAsk{0: {since: t0, until: 10}, 1: {until: 20}, 2: {since: t0.Add(time.Minute), until: 30}}
	until, errs := loadAll(s, asks)
	if len(errs) > 0 || !maps.Equal(until, map[int32]int64{0: 10, 1: 20, 2: 30}) {
		t.Fatalf("got until %v, errors %v; want each partition's own", until, errs)
	}
	if got := rec.callPartitions(); len(got) != 1 || !slices.Equal(got[0], []int32{0, 1, 2}) {
		t.Fatalf("scans %v, want one over partitions 0, 1 and 2", got)
	}
	if !maps.Equal(rec.calls[0], asks) {
		t.Fatalf("the shared scan was asked %v, want every partition's own since and until %v", rec.calls[0], asks)
	}
	if d, err := s.load(context.Background(), 1, scanAsk{until: 21}, time.Second); err != nil || d.Until != 21 {
		t.Fatalf("a retry got %v, %v", d, err)
	}
	if d, err := s.load(context.Background(), 7, scanAsk{until: 70}, time.Second); err != nil || d.Until != 70 {
		t.Fatalf("a partition not of the generation got %v, %v", d, err)
	}
	if got := rec.callPartitions(); len(got) != 3 || !slices.Equal(got[1], []int32{1}) || !slices.Equal(got[2], []int32{7}) {
		t.Fatalf("scans %v, want the shared one, then partition 1 alone, then 7 alone", got)
	}
}

// TestRestartScansStartWhenTheLastPartitionWithdraws: partitions that
// asked are waiting; the last one of the generation withdraws (its
// restore failed) instead of asking, and the waiting ones' scan runs.
func TestRestartScansStartWhenTheLastPartitionWithdraws(t *testing.T) {
	rec := &scanRecorder{}
	s := newRestartScans(context.Background(), 1, []int32{0, 1, 2}, rec.scan)
	type got struct {
		until int64
		err   error
	}
	results := make(chan got, 2)
	for p := range int32(2) {
		go func() {
			d, err := s.load(context.Background(), p, scanAsk{until: int64(p) + 1}, time.Second)
			if err != nil {
				results <- got{err: err}
				return
			}
			results <- got{until: d.Until}
		}()
	}
	for {
		s.mu.Lock()
		asked := len(s.asks)
		s.mu.Unlock()
		if asked == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-results:
		t.Fatalf("a partition got its decisions (%+v) before the generation's last one asked or withdrew", r)
	default:
	}
	s.withdraw(2)
	seen := map[int64]bool{}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		seen[r.until] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("got %v, want each waiting partition's own decisions", seen)
	}
	if got := rec.callPartitions(); len(got) != 1 || !slices.Equal(got[0], []int32{0, 1}) {
		t.Fatalf("scans %v, want one over partitions 0 and 1", got)
	}
}

// TestRestartScansShareAFailure: the shared scan's error reaches every
// partition that asked (each then retries alone), and a partition whose
// claim ends while it waits returns at once with its cause.
func TestRestartScansShareAFailure(t *testing.T) {
	boom := errors.New("event log unreachable")
	rec := &scanRecorder{err: boom}
	s := newRestartScans(context.Background(), 1, []int32{0, 1}, rec.scan)
	_, errs := loadAll(s, map[int32]scanAsk{0: {until: 1}, 1: {until: 2}})
	if !errors.Is(errs[0], boom) || !errors.Is(errs[1], boom) {
		t.Fatalf("errors %v, want the scan's for both", errs)
	}

	s = newRestartScans(context.Background(), 2, []int32{0, 1}, (&scanRecorder{}).scan)
	ctx, cancel := context.WithCancelCause(context.Background())
	revoked := errors.New("revoked")
	cancel(revoked)
	if _, err := s.load(ctx, 0, scanAsk{until: 1}, time.Second); !errors.Is(err, revoked) {
		t.Fatalf("a waiting partition whose claim ended got %v, want its cause", err)
	}
}

// TestLaneStartReadsTheEventLogOnce: a lane starting on all six partitions
// of prod reads its event log for their recorded decisions once, for the
// six together, where it read it once per partition before.
func TestLaneStartReadsTheEventLogOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	const line = `msg="read the event log for recorded decisions"`
	stop := runLane(t, e, Config{Lane: lane, Spec: sp, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	clocktest.WaitFor(t, 30*time.Second, "the event log read", func() bool { return strings.Contains(log.String(), line) },
		func() string { return log.String() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var reads []string
	for l := range strings.Lines(log.String()) {
		if strings.Contains(l, line) {
			reads = append(reads, l)
		}
	}
	if len(reads) != 1 || !strings.Contains(reads[0], `partitions="[0 1 2 3 4 5]"`) {
		t.Fatalf("event log reads at start:\n%s", strings.Join(reads, ""))
	}
}

// TestRestartScansSkipAScanNoOneWaitsFor: every partition that asked has
// left (its claim revoked) when the last one withdraws: no scan runs.
func TestRestartScansSkipAScanNoOneWaitsFor(t *testing.T) {
	rec := &scanRecorder{}
	s := newRestartScans(context.Background(), 1, []int32{0, 1}, rec.scan)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.load(ctx, 0, scanAsk{until: 1}, time.Second); err == nil {
		t.Fatal("a revoked partition got decisions")
	}
	s.withdraw(1)
	<-s.done
	if got := rec.callPartitions(); len(got) != 0 {
		t.Fatalf("scans %v, want none", got)
	}
}
