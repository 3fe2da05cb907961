package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// ReplayConfig is one replay of a lane's log: which offsets of which
// partitions, through which pipeline, into which namespace.
type ReplayConfig struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	Spec        *spec.Spec // default: the embedded spec, as live
	Getenv      func(string) string
	Name        string // the namespace: outputs go to matriz.<lane>.replay.<name>.*
	Glyph       string // write only this glyph's outputs; the chain still runs every record
	Ranges      []ReplayRange
	Clock       clock.Clock
	Logger      *slog.Logger
	// ReaderVersion is the schema version records are read with (default
	// the newest), as Config.ReaderVersion.
	ReaderVersion schemas.Version
	// Progress, when set, is called from the partitions' goroutines with a
	// partition and the records of its range done so far.
	Progress func(partition int32, done int64)
	// Decisions, when set, are the recorded decisions by partition (read by
	// the caller, e.g. with a fast scan of the event log); nil reads them
	// here.
	Decisions map[int32]*Decisions
	// DrainTimeout bounds waiting for the outputs at the end (default 30s).
	DrainTimeout time.Duration
	// Tracer, when set, traces the replay's frames and stages; nil makes
	// the one the environment (Getenv) configures, under the service name
	// observe.ServiceReplay unless OTEL_SERVICE_NAME says otherwise.
	Tracer *observe.Tracer
	// MaxFutureSkew is Config.MaxFutureSkew of the run replayed (default
	// DefaultMaxFutureSkew, as live): with the same value a replay sends
	// the same records to the DLQ as future_timestamp.
	MaxFutureSkew time.Duration
}

// ReplayRange is one partition's part of a replay: offsets [From, To),
// started from Checkpoint's state and window when set (From is then its
// Resume), else from empty state.
type ReplayRange struct {
	Partition  int32
	From, To   int64
	Checkpoint *Checkpoint
}

// ReplayStats is what a replay did.
type ReplayStats struct {
	Records   map[int32]int64 // records read, by partition
	Decisions int             // recorded decisions applied or available
	Took      time.Duration
}

// Replay runs the lane's chain over the ranges, applying the decisions the
// live runs recorded on the event log at the same points, and writes the
// outputs to the replay's namespace. It never writes a live topic, never
// commits an offset or writes state, and never executes an external action
// (the guardian records would_execute). Ctrl-C (ctx ending) stops it
// between records; what was written stays.
func Replay(ctx context.Context, cfg ReplayConfig) (ReplayStats, error) {
	var stats ReplayStats
	if cfg.Name == "" {
		return stats, errors.New("replay: a namespace name is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	base := Config{Lane: cfg.Lane, Brokers: cfg.Brokers, RegistryURL: cfg.RegistryURL, Spec: cfg.Spec, Getenv: cfg.Getenv,
		Clock: cfg.Clock, Logger: cfg.Logger, ReaderVersion: cfg.ReaderVersion, DrainTimeout: cfg.DrainTimeout,
		MaxFutureSkew: cfg.MaxFutureSkew, Tracer: cfg.Tracer}
	if err := base.defaults(); err != nil {
		return stats, err
	}
	if base.Tracer == nil {
		tr, err := observe.NewTracerFromEnv(ctx, cfg.Getenv, observe.ServiceReplay)
		if err != nil {
			return stats, err
		}
		defer func() {
			if err := tr.Shutdown(); err != nil {
				cfg.Logger.Warn("tracing", "lane", cfg.Lane, "err", err)
			}
		}()
		base.Tracer = tr
	}
	start := cfg.Clock.Now()
	m, err := observe.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return stats, err
	}
	ls := base.Spec.Lanes[cfg.Lane]
	lr := &laneRuntime{cfg: base, lane: cfg.Lane, spec: ls, clock: cfg.Clock, log: cfg.Logger, namespace: cfg.Name, glyph: cfg.Glyph,
		obs:        observe.NewLane(cfg.Lane, m, &observe.LaneCounters{}),
		sourceOpts: []topics.SourceOption{topics.SourceClock(cfg.Clock), topics.SourceOnError(func(e error) { cfg.Logger.Warn("kafka", "lane", cfg.Lane, "err", e) })},
	}
	work, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	lr.work = work
	var fatalErr atomic.Value
	lr.fatal = func(err error) { fatalErr.CompareAndSwap(nil, err); cancel(err) }
	if lr.serde, err = serde.Open(work, cfg.RegistryURL, serde.Subjects([]schemas.Lane{cfg.Lane})); err != nil {
		return stats, err
	}
	if lr.ids, err = resolveLaneIDs(lr.serde, string(cfg.Lane)); err != nil {
		return stats, err
	}
	startFlags, err := StartFlags(base.Spec.Flags, *ls, cfg.Getenv)
	if err != nil {
		return stats, err
	}
	lr.flags = NewLiveFlags(cfg.Lane, startFlags)
	wrap := func(st stages.Stage) stages.Stage {
		return observe.Wrap(cfg.Lane, st, nil, cfg.Clock, observe.WrapTracer(base.Tracer))
	}
	if lr.chain, err = ls.Chain(cfg.Lane, spec.ChainOptions{Executor: stages.RecordOnly{}, Wrap: wrap}); err != nil {
		return stats, err
	}
	if err := ensureNamespace(work, cfg.Brokers, string(cfg.Lane), cfg.Name); err != nil {
		return stats, err
	}
	if lr.sinks, err = newSinkPool(work, DefaultLaneSinks, cfg.Brokers, topics.SinkClock(cfg.Clock), topics.SinkOnError(lr.sinkErr)); err != nil {
		return stats, err
	}
	sinkClosed := false
	closeSink := func() {
		if !sinkClosed {
			sinkClosed = true
			lr.sinks.close()
		}
	}
	defer closeSink()

	stats.Records = map[int32]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(cfg.Ranges))
	// Every replayed partition's decisions come from one pass over the
	// event log: a pass per partition would read the whole log each time.
	asks := map[int32]scanAsk{}
	for _, r := range cfg.Ranges {
		if r.From < r.To {
			asks[r.Partition] = scanAsk{until: math.MaxInt64}
		}
	}
	decisions := cfg.Decisions
	if decisions == nil {
		decisions, err = loadDecisions(work, cfg.Clock, cfg.Brokers, topics.Name(string(cfg.Lane), topics.KindEvents), asks, func(b []byte, ev *schemas.Event) error {
			_, err := schemas.DecodeWire(work, lr.serde.Lookup(), b, ev)
			return err
		}, cfg.DrainTimeout)
	}
	if err != nil {
		if cause := context.Cause(work); cause != nil {
			err = cause
		}
		return stats, err
	}
	for i, r := range cfg.Ranges {
		if r.From >= r.To {
			continue
		}
		d := decisions[r.Partition]
		if d == nil {
			d = NewDecisions(math.MaxInt64)
		}
		stats.Decisions += d.Len()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := replayPartition(ctx, lr, r, d, cfg.Progress)
			mu.Lock()
			stats.Records[r.Partition] = n
			mu.Unlock()
			errs[i] = err
		}()
	}
	wg.Wait()
	closeSink()
	stats.Took = cfg.Clock.Now().Sub(start)
	if v := fatalErr.Load(); v != nil {
		errs = append(errs, v.(error))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("replay %s stopped before the end of its range: %w", cfg.Name, err))
	}
	return stats, errors.Join(errs...)
}

// replayPartition runs one range and returns the records it read.
func replayPartition(ctx context.Context, lr *laneRuntime, r ReplayRange, d *Decisions, progress func(int32, int64)) (int64, error) {
	w := newWorker(lr, r.Partition)
	w.work = lr.work
	w.decisions = d
	w.stopAt = r.To
	if err := w.newChain(); err != nil {
		return 0, err
	}
	from := r.From
	if cp := r.Checkpoint; cp != nil {
		if err := w.chain.Restore(cp.State); err != nil {
			return 0, fmt.Errorf("replay partition %d from checkpoint %s: %w", r.Partition, cp.ID(), err)
		}
		w.resumeFrom(cp)
		from = cp.Resume
	}
	var read atomic.Int64
	w.onRecord = func() {
		n := read.Add(1)
		if progress != nil {
			progress(r.Partition, n)
		}
	}
	var err error
	w.src, err = topics.NewPartitionSource(w.work, lr.cfg.Brokers, topics.Name(string(lr.lane), topics.KindMessages), r.Partition, from, lr.sourceOpts...)
	if err != nil {
		return 0, err
	}
	done, err := w.start(false)
	if err != nil {
		w.src.Close()
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		w.stopOnce.Do(w.src.StopFetching) // Ctrl-C: finish what was read, then stop
		<-done
	}
	drainCtx, cancel := context.WithTimeout(lr.work, lr.cfg.DrainTimeout)
	defer cancel()
	if err := w.src.Drain(drainCtx); err != nil {
		return read.Load(), fmt.Errorf("replay partition %d: waiting for its outputs: %w", r.Partition, err)
	}
	w.src.Close() // its reader's context ended with the range: nothing to report
	return read.Load(), nil
}

// ensureNamespace creates the replay's topics, partitioned as the lane's.
func ensureNamespace(ctx context.Context, brokers []string, lane, name string) error {
	ends, err := topics.PartitionEnds(ctx, brokers, topics.Name(lane, topics.KindResults))
	if err != nil {
		return err
	}
	specs, err := topics.ReplaySpecs(lane, name, len(ends))
	if err != nil {
		return fmt.Errorf("replay %q: %w", name, err)
	}
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return err
	}
	_, err = admin.Ensure(ctx, specs, false)
	return err
}
