package runtime

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// restartScans lets the partitions of one generation read the event log
// once between them for their recorded decisions, instead of once each: a
// lane starting on six partitions read its whole event log six times over
// (BenchmarkRestartScans: 300,000 events, a start read them in 4.9 s
// per partition, 0.52 s shared).
//
// Every partition of the generation either asks (load) or withdraws
// (withdraw) exactly once; when the last of them has, the asks are served
// by one scan from the earliest asked time, each partition filtered by its
// own. A partition that fails or leaves before asking withdraws, so the
// others never wait for it; one that retries after a failure scans alone.
// Sharing changes only how often the log is read, never what a partition
// gets: each still reads every decision at or after its own since, of its
// own partition, below its own until.
type restartScans struct {
	generation int32
	base       context.Context // what a scan started by a withdrawal runs on
	scan       func(ctx context.Context, asks map[int32]scanAsk, timeout time.Duration) (map[int32]*Decisions, error)

	mu      sync.Mutex
	waiting map[int32]bool // partitions yet to ask or withdraw
	asks    map[int32]scanAsk
	timeout time.Duration // the longest asked for
	// listening counts the asks still waiting: one whose claim ended
	// has stopped, and a scan no one waits for is not started.
	listening int
	done      chan struct{} // closed once the scan returned
	got       map[int32]*Decisions
	err       error
}

// scanAsk is what one partition wants from the event log.
type scanAsk struct {
	since time.Time // decisions written at or after (zero: all)
	until int64     // offsets below it are re-decided
}

func newRestartScans(base context.Context, generation int32, partitions []int32, scan func(context.Context, map[int32]scanAsk, time.Duration) (map[int32]*Decisions, error)) *restartScans {
	s := &restartScans{base: base, generation: generation, scan: scan, waiting: map[int32]bool{}, asks: map[int32]scanAsk{}, done: make(chan struct{})}
	for _, p := range partitions {
		s.waiting[p] = true
	}
	return s
}

// load returns partition's decisions, from the shared scan when partition
// is one the generation still waits for, else from a scan of its own. The
// scan runs on the ctx of the partition that asked last.
func (s *restartScans) load(ctx context.Context, partition int32, ask scanAsk, timeout time.Duration) (*Decisions, error) {
	s.mu.Lock()
	if !s.waiting[partition] {
		s.mu.Unlock()
		got, err := s.scan(ctx, map[int32]scanAsk{partition: ask}, timeout)
		return got[partition], err
	}
	delete(s.waiting, partition)
	s.asks[partition] = ask
	s.timeout = max(s.timeout, timeout)
	s.listening++
	last := len(s.waiting) == 0
	s.mu.Unlock()
	if last {
		s.run(ctx)
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.mu.Lock()
		s.listening--
		s.mu.Unlock()
		return nil, context.Cause(ctx)
	}
	return s.got[partition], s.err
}

// withdraw says partition will not ask: it failed or left before it could.
// When it was the last one waited for, the others' scan starts on base.
func (s *restartScans) withdraw(partition int32) {
	s.mu.Lock()
	if !s.waiting[partition] {
		s.mu.Unlock()
		return
	}
	delete(s.waiting, partition)
	last := len(s.waiting) == 0
	heard := s.listening > 0
	s.mu.Unlock()
	switch {
	case last && heard:
		go s.run(s.base)
	case last:
		close(s.done) // every ask left (a revocation): nothing to read
	}
}

func (s *restartScans) run(ctx context.Context) {
	defer close(s.done)
	s.got, s.err = s.scan(ctx, s.asks, s.timeout)
}

// leaveScans withdraws w from its generation's shared read, if it has not
// asked yet.
func (w *partitionWorker) leaveScans() {
	if w.scans != nil {
		w.scans.withdraw(w.partition)
		w.scans = nil
	}
}

// restartScansFor returns the shared scans of generation, nil when the
// lane has none for it (a replay, or a claim of an older generation).
func (lr *laneRuntime) restartScansFor(generation int32) *restartScans {
	s := lr.scans.Load()
	if s == nil || s.generation != generation {
		return nil
	}
	return s
}

// scanDecisions is the scan restartScans share: loadDecisions over the
// lane's event log, said in the log with how long it took (a lane's start
// waits for it).
func (lr *laneRuntime) scanDecisions(ctx context.Context, asks map[int32]scanAsk, timeout time.Duration) (map[int32]*Decisions, error) {
	start := lr.clock.Now()
	got, err := loadDecisions(ctx, lr.clock, lr.cfg.Brokers, lr.topic(topics.KindEvents), asks, func(b []byte, ev *schemas.Event) error {
		_, err := schemas.DecodeWire(ctx, lr.serde.Lookup(), b, ev)
		return err
	}, timeout)
	if err == nil {
		lr.log.Info("read the event log for recorded decisions", "lane", lr.lane, "partitions", slices.Sorted(maps.Keys(asks)), "took", lr.clock.Now().Sub(start))
	}
	return got, err
}
