package pipelines

// This file is `matriz dev`: the whole system in one process on the
// embedded broker and registry, with the built-in scenario on every lane.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// DevConfig configures `matriz dev`.
type DevConfig struct {
	DataDir        string // broker data; empty keeps it in memory
	HTTPAddr       string // the live page, /metrics, /healthz and /readyz
	BrokerListen   string // empty: a free port
	RegistryListen string // empty: a free port
	Rate           int    // synthetic messages per second per lane
	// Retention is the window every stream topic keeps (records are
	// deleted once they have been on the broker this long); 0 keeps
	// DefaultDevRetention.
	Retention   time.Duration
	SpecFile    string // pipeline spec; empty: the embedded one
	Getenv      func(string) string
	Lanes       []schemas.Lane
	StatusEvery time.Duration // default 1s
	Out         io.Writer     // status and progress lines
	// StatusTable redraws the status as an aligned table in place, one
	// row per lane: for Out a terminal, not a log.
	StatusTable bool
	Logger      *slog.Logger
	Clock       clock.Clock
	// Ready, when set, is called once everything runs, with the addresses.
	Ready func(DevInfo)
	// FlagsOnAfter is how long the lanes run log-only before the scenario
	// turns DISPATCH_ENABLED and EXT_ACTIONS_ENABLED on through
	// matriz.control: 0 is DefaultDevFlagsOnAfter, negative never. A flag
	// the environment sets is left to the environment.
	FlagsOnAfter time.Duration
}

// DefaultDevFlagsOnAfter is how long `matriz dev` runs log-only before its
// scenario turns dispatch and external actions on: one scenario cycle, so
// every episode is seen once logged only and then acted on.
const DefaultDevFlagsOnAfter = 10 * time.Second

// DefaultDevRetention is how long `matriz dev` keeps stream records.
const DefaultDevRetention = 30 * time.Minute

// devSegmentBytes is the segment size of the dev broker for a retention
// window. Disk is freed a whole segment at a time, so a segment must be
// small next to what a partition holds in the window; and a reader going
// through the window keeps each sealed segment's file open, so segments
// grow with the window: 1 MiB per 2 minutes (the busiest partitions take
// about 20 kB/s at the default rate), between 1 and 64 MiB. That keeps the
// window to a few hundred segment files whatever its length.
func devSegmentBytes(retention time.Duration) int {
	n := int(retention / (2 * time.Minute) << 20)
	return min(max(n, 1<<20), 64<<20)
}

// devCleanEvery is how often the dev broker enforces retention: a tenth of
// the window, between 1 s and 30 s, so records live at most 10% past it.
func devCleanEvery(retention time.Duration) time.Duration {
	return min(max(retention/10, time.Second), 30*time.Second)
}

// DevInfo says where the dev stack listens.
type DevInfo struct {
	Brokers     []string
	RegistryURL string
	HTTPAddr    string
}

// Dev runs the whole system in one process until ctx ends: the embedded
// broker and registry, deploy, a synthetic producer per lane and the lane
// pipelines, with metrics and a status line per second. Committed offsets,
// topics and schema ids live in DataDir, so a second start resumes.
func Dev(ctx context.Context, cfg DevConfig) (err error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = time.Second
	}
	if len(cfg.Lanes) == 0 {
		cfg.Lanes = schemas.Lanes
	}
	if cfg.Rate <= 0 {
		return fmt.Errorf("--rate %d: want at least 1 message per second", cfg.Rate)
	}
	if cfg.Retention < 0 {
		return fmt.Errorf("--retention %v: want a positive window", cfg.Retention)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultDevRetention
	}
	if cfg.FlagsOnAfter == 0 {
		cfg.FlagsOnAfter = DefaultDevFlagsOnAfter
	}
	out := cfg.Out
	// ctx ending is the signal to stop; the components run on a context
	// that outlives it, so in-flight results still reach Kafka and offsets
	// still commit while they shut down in order.
	signal := ctx
	ctx = context.WithoutCancel(ctx)
	dataDir := cfg.DataDir
	if dataDir != "" {
		dataDir = filepath.Join(dataDir, "broker")
	}
	sp, err := spec.Load(cfg.SpecFile)
	if err != nil {
		return err
	}
	stack, err := devstack.StartDeployed(ctx, devstack.Config{
		BrokerListen: cfg.BrokerListen, RegistryListen: cfg.RegistryListen, DataDir: dataDir, Logger: cfg.Logger,
		CleanEvery: devCleanEvery(cfg.Retention), RetentionCap: cfg.Retention, SegmentBytes: devSegmentBytes(cfg.Retention),
	}, sp.Partitions(), cfg.Lanes...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stack.Close()) }()
	brokers := stack.BrokerAddrs()
	fmt.Fprintln(out, deploySummary(stack.Report))

	reg := observe.NewProcessRegistry()
	metrics, err := observe.NewMetrics(reg)
	if err != nil {
		return err
	}
	codec := stack.Serde
	// Tracing (off without OTEL_EXPORTER_OTLP_ENDPOINT); flushed after the
	// lanes stopped, since defers run last-registered first.
	tracer, err := observe.NewTracerFromEnv(ctx, cfg.Getenv, observe.ServiceLive)
	if err != nil {
		return err
	}
	defer flushTraces(tracer, cfg.Logger)

	// The scenario's Sink. It closes after the lanes stopped; the
	// producers, and the scenario's flag switch, stop before the lanes
	// (below).
	prodSink, err := topics.NewSink(ctx, brokers, topics.SinkOnError(func(e error) { cfg.Logger.Warn("producer", "err", e) }))
	if err != nil {
		return err
	}
	prodCtx, stopProducers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopProducers()
		wg.Wait()
		close(prodSink.In())
		prodSink.AwaitCompletion()
	}()
	// The lanes start log-only whatever an earlier run left on
	// matriz.control: they read it to its end before their first frame.
	switched := devstack.SwitchedFlags(cfg.Getenv)
	if err := devstack.SetFlags(ctx, brokers, switched, false); err != nil {
		return err
	}
	fmt.Fprintln(out, devstack.FlagsPlan(switched, cfg.FlagsOnAfter))

	counters := map[schemas.Lane]*observe.LaneCounters{}
	laneCtx, stopLanes := context.WithCancel(ctx)
	laneErrs := make(chan error, len(cfg.Lanes))
	var lanes sync.WaitGroup
	defer func() {
		stopLanes()
		lanes.Wait()
	}()
	readiness := map[schemas.Lane]*runtime.Readiness{}
	for _, l := range cfg.Lanes {
		counters[l] = &observe.LaneCounters{}
		readiness[l] = runtime.NewReadiness()
		ready := make(chan struct{})
		lanes.Add(1)
		go func() {
			defer lanes.Done()
			err := runtime.Run(laneCtx, runtime.Config{
				Lane: l, Brokers: brokers, RegistryURL: stack.RegistryURL, Spec: sp, Getenv: cfg.Getenv,
				Metrics: metrics, Counters: counters[l], Clock: cfg.Clock, Logger: cfg.Logger,
				Ready: func() { close(ready) }, Readiness: readiness[l], Tracer: tracer,
			})
			if err != nil {
				laneErrs <- fmt.Errorf("lane %s: %w", l, err)
			}
		}()
		select {
		case <-ready:
		case err := <-laneErrs:
			return err
		}
	}

	health := func() error { return nil }
	ready := func() error {
		var errs []error
		for _, l := range cfg.Lanes {
			errs = append(errs, readiness[l].Err())
		}
		return errors.Join(errs...)
	}
	page := observe.NewPage(observe.PageConfig{Lanes: cfg.Lanes, Gatherer: reg, Counters: func(l schemas.Lane) *observe.LaneCounters { return counters[l] }, Clock: cfg.Clock})
	srv, err := observe.StartHTTP(cfg.HTTPAddr, reg, health, ready, observe.WithPage(page))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()

	defer func() {
		stopProducers()
		wg.Wait()
	}()
	prodErrs := make(chan error, len(cfg.Lanes)+1)
	if cfg.FlagsOnAfter > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := devstack.SwitchFlagsOn(prodCtx, cfg.Clock, brokers, switched, cfg.FlagsOnAfter); err != nil {
				prodErrs <- err
			}
		}()
	}
	for i, l := range cfg.Lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := devstack.RunProducer(prodCtx, devstack.ProducerConfig{Lane: l, Rate: cfg.Rate, Seed: uint64(time.Now().UnixNano()) + uint64(i), Serde: codec, Sink: prodSink, Clock: cfg.Clock}); err != nil {
				prodErrs <- err
			}
		}()
	}

	info := DevInfo{Brokers: brokers, RegistryURL: stack.RegistryURL, HTTPAddr: srv.Addr}
	fmt.Fprintf(out, "matriz dev: kafka %s, schema registry %s, live page http://%s/, metrics http://%s/metrics; Ctrl-C to stop\n", brokers[0], stack.RegistryURL, srv.Addr, srv.Addr)
	if cfg.Ready != nil {
		cfg.Ready(info)
	}
	status := observe.NewStatusLine(out, cfg.Lanes, func(l schemas.Lane) *observe.LaneCounters { return counters[l] }, nil).
		WithResources(observe.NewResources(cfg.DataDir, 5*time.Second))
	if cfg.StatusTable {
		status.WithTable()
	}
	tk := cfg.Clock.NewTicker(cfg.StatusEvery)
	defer tk.Stop()
	status.Print(cfg.Clock.Now())
	for {
		select {
		case <-signal.Done():
			fmt.Fprintln(out, "matriz dev: stopping: finishing in-flight messages, committing offsets")
			return nil
		case err := <-prodErrs:
			return err
		case err := <-laneErrs:
			return err
		case now := <-tk.C():
			status.Print(now)
		}
	}
}

// deploySummary condenses a deploy report into one line.
func deploySummary(rep ops.DeployReport) string {
	counts := map[string]map[string]int{"topic": {}, "subject": {}}
	for _, l := range rep.Lines {
		counts[l.What][l.Status]++
	}
	render := func(m map[string]int) string {
		s := ""
		for _, st := range []string{"created", "exists", "differs", "failed"} {
			if m[st] > 0 {
				if s != "" {
					s += ", "
				}
				s += fmt.Sprintf("%d %s", m[st], st)
			}
		}
		return s
	}
	return fmt.Sprintf("deploy: topics %s; subjects %s", render(counts["topic"]), render(counts["subject"]))
}
