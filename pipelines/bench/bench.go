// Package bench is `matriz bench`: in one run on the embedded broker, two
// tuned kafka-go baselines (a plain copy, one record out per record in,
// and a fan-out copy writing per input what the chain writes) and the
// full chain over the same messages, a replay of the chain's log through
// runtime.Replay, then the chain under a steady offered rate, so the
// figures compare as ratios on whatever machine runs them; last, an
// event-log scan as `matriz events` reads it and a codec round trip.
// Goals (goals.go) gate a run with --check.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// Config configures `matriz bench`: one run on the embedded broker that
// measures the baseline copies and the full chain over the same messages,
// a replay of those messages, the chain under a steady offered rate, and
// whatever phases the latency side adds (see report_fields.md).
type Config struct {
	N          int           // messages for the copies and the chain (default 100,000)
	Rate       int           // steady offered rate, msgs/s (default 20,000)
	SteadyFor  time.Duration // how long the steady phase runs (default DefaultSteadyFor)
	Dispatch   bool          // run the chain with DISPATCH_ENABLED
	Partitions int           // lane partitions (default 6)
	Events     int           // events written and scanned by the events phase (default 300,000)
	Short      bool          // the short profile: phases that have one run shorter
	CPUProfile string        // file for a CPU profile of the chain phase; "" for none
	MemProfile string        // file for an allocation profile of the chain phase; "" for none
	Copy       *CopySettings // the baselines' kafka-go settings; nil for DefaultCopySettings
	Executable string        // the matriz binary the overload and scale-out phases run lanes with; "" skips them
	// BrokerInMemory keeps the embedded broker's log in its process's
	// memory instead of files in a temporary directory. In memory, kfake
	// grows each segment by doubling and copying under one lock for every
	// partition, work a broker writing files does not do, and which
	// competed with the chain for the machine's cores.
	BrokerInMemory bool
	// LaneMemProfile, when set, is the path prefix of heap profiles the
	// overload phase takes of each lane process as its offering ends:
	// PREFIX.experimental.pprof and PREFIX.prod.pprof.
	LaneMemProfile string
	Out            io.Writer // progress lines; nil for none
	Clock          clock.Clock
}

// Report is what a bench run measured. Zero durations, rates and sizes
// are figures this run did not measure; report_fields.md is the contract
// with the latency and overload phases, which fill their fields.
type Report struct {
	N             int
	Partitions    int
	CopyRate      float64       // plain copy (one record out per record in), msgs/s
	ChainRate     float64       // full chain, msgs/s, from starting the runtime to the last answer
	ChainStartup  time.Duration // of the chain phase: starting the runtime until it joined its group
	Ratio         float64       // ChainRate / CopyRate
	FanoutRate    float64       // fan-out copy (the chain's records and bytes per input), inputs/s
	FanoutRatio   float64       // ChainRate / FanoutRate
	ReplayRecords int64         // replay phase: records replayed (the chain phase's N)
	ReplayRate    float64       // replay phase: records/s, decisions read to last output acknowledged
	ReplayRatio   float64       // ReplayRate / ChainRate
	OfferedRate   int           // steady phase: msgs/s produced
	SteadyRate    float64       // steady phase: msgs/s answered
	SteadyP95     time.Duration // steady phase: p95 of frame processing time (the tick)
	SteadyFrames  int           // frames the p95 is over
	SteadyBacklog int64         // messages produced but not answered when the phase ended
	Events        int           // events phase: events written
	EventsScanned int64         // events phase: events scanned and decoded
	EventsRate    float64       // events phase: events scanned per second

	Writes         []KindWrites // chain phase: what each output topic held after it
	FanoutWrites   []KindWrites // fan-out copy: what it wrote, acknowledged (key + value bytes in ValueBytes)
	CopySettings   CopySettings // the plain copy's settings
	FanoutSettings CopySettings // the fan-out copy's settings

	ChainAllocsPerMsg  float64 // chain phase: runtime.MemStats Mallocs delta / N (process-wide, broker included)
	CopyAllocsPerMsg   float64 // plain copy phase, the same way: the broker's and client's share
	FanoutAllocsPerMsg float64 // fan-out copy phase, the same way
	ChainPeakRSS       uint64  // chain phase: largest VmRSS sampled (process-wide, broker included)
	PeakRSS            uint64  // VmHWM at the end of the run
	CodecRoundTrip     time.Duration
	CodecAllocs        float64

	// The latency and overload phases' figures (report_fields.md).
	SteadyFor                  time.Duration
	SteadyP50                  time.Duration // end to end: record timestamp → result acknowledged
	SteadyP99                  time.Duration
	SteadyMax                  time.Duration
	SteadyLatencySamples       int
	LowRateP50                 map[int]time.Duration // offered msgs/s → end to end p50
	LowRateP99                 map[int]time.Duration // offered msgs/s → end to end p99
	OverloadRate               int                   // msgs/s offered in the overload phase
	OverloadPeakRSS            uint64                // max of both lanes' phases
	OverloadPeakRSSByLane      map[string]uint64
	ExperimentalDrops          int64
	ExperimentalDropsAccounted int64
	ProdOverloadDropped        int64
	ProdOverloadAnswered       float64

	// The scale-out phase (scaleout.go): `matriz run` processes on one
	// group, the broker in the bench process.
	ScaleOutFor   time.Duration // the measuring window
	ScaleOutOne   float64       // msgs/s one process answered
	ScaleOutTwo   float64       // msgs/s two processes answered together
	ScaleOutRatio float64       // ScaleOutTwo / ScaleOutOne
	ScaleOutIdle  [2]float64    // the machine's idle share of its CPU over each window (1, then 2 processes), 0..1; -1: not measured
}

// PhaseEnv is what a phase added by the latency side gets of the run.
type PhaseEnv struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	Serde       *serde.Serde
	Spec        *spec.Spec
	Partitions  int
	Clock       clock.Clock
	Say         func(format string, args ...any)
	Short       bool
	Executable  string // the matriz binary, for phases that run lanes as `matriz run` processes
	// LaneMemProfile: path prefix for the overload phase's lane heap
	// profiles; "" for none.
	LaneMemProfile string
}

// The latency side's phases, set by its files' init (report_fields.md);
// nil ones are not run and their goals read "not measured".
var (
	steadyLatencyHook func(ctx context.Context, env PhaseEnv) (finish func(rep *Report) error, err error)
	lowRateHook       func(ctx context.Context, env PhaseEnv, rep *Report) error
	overloadHook      func(ctx context.Context, env PhaseEnv, rep *Report) error
	scaleOutHook      func(ctx context.Context, env PhaseEnv, rep *Report) error
)

// PerInput is w's records and bytes per input of n.
func PerInput(w KindWrites, n int) (records, bytes float64) {
	if n <= 0 {
		return 0, 0
	}
	return float64(w.Records) / float64(n), float64(w.Bytes()) / float64(n)
}

// WritesTable is the report's table of records and bytes written per
// input by kind, the chain's beside the fan-out copy's.
func (r Report) WritesTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %14s %14s %12s %14s %14s\n", "kind", "chain rec/in", "chain B/in", "B/record", "fan-out rec/in", "fan-out B/in")
	var tr, tb, fr, fb float64
	for _, w := range r.Writes {
		rec, byt := PerInput(w, r.N)
		per := 0.0
		if w.Records > 0 {
			per = float64(w.Bytes()) / float64(w.Records)
		}
		var frec, fbyt float64
		for _, f := range r.FanoutWrites {
			if f.Kind == w.Kind {
				frec, fbyt = PerInput(f, r.N)
			}
		}
		tr, tb, fr, fb = tr+rec, tb+byt, fr+frec, fb+fbyt
		fmt.Fprintf(&b, "%-8s %14.3f %14.1f %12.1f %14.3f %14.1f\n", w.Kind, rec, byt, per, frec, fbyt)
	}
	fmt.Fprintf(&b, "%-8s %14.3f %14.1f %12s %14.3f %14.1f", "total", tr, tb, "", fr, fb)
	return b.String()
}

func (r Report) String() string {
	return fmt.Sprintf("copy %.0f msgs/s, chain %.0f msgs/s (ratio %.2f), fan-out %.0f msgs/s (ratio %.2f) over %d messages on %d partitions; "+
		"chain %.1f allocs/msg, peak RSS %s in the chain phase, %s over the run; "+
		"replay %.0f msgs/s (%.2f of the chain) over %d records; "+
		"steady %d msgs/s offered: %.0f msgs/s answered, tick p95 %v over %d frames, backlog %d at the end, e2e p50 %s p99 %s; "+
		"events scan %.0f events/s over %d events; scale-out 1 process %.0f msgs/s, 2 processes %.0f msgs/s (ratio %.2f)",
		r.CopyRate, r.ChainRate, r.Ratio, r.FanoutRate, r.FanoutRatio, r.N, r.Partitions,
		r.ChainAllocsPerMsg, fmtMiB(r.ChainPeakRSS), fmtMiB(r.PeakRSS),
		r.ReplayRate, r.ReplayRatio, r.ReplayRecords, r.OfferedRate, r.SteadyRate,
		r.SteadyP95.Round(10*time.Microsecond), r.SteadyFrames, r.SteadyBacklog, orNotMeasured(r.SteadyP50), orNotMeasured(r.SteadyP99),
		r.EventsRate, r.EventsScanned, r.ScaleOutOne, r.ScaleOutTwo, r.ScaleOutRatio)
}

func orNotMeasured(d time.Duration) string {
	if d <= 0 {
		return "not measured"
	}
	return d.Round(10 * time.Microsecond).String()
}

// The steady phase's length: its goals are stated over 60 s of the
// offered rate; the short profile (CI's gate) offers it for 10 s.
const (
	DefaultSteadyFor = 60 * time.Second
	ShortSteadyFor   = 10 * time.Second
)

// Run runs the benchmark. The copies and the chain run in this process on
// the embedded broker, so they compete for the same CPUs the same way; the
// scale-out and overload phases run their lanes as `matriz run` child
// processes (cfg.Executable), so a lane's memory is its own.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.N <= 0 {
		cfg.N = 100_000
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20_000
	}
	if cfg.SteadyFor <= 0 {
		cfg.SteadyFor = DefaultSteadyFor
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 6
	}
	if cfg.Events <= 0 {
		cfg.Events = 300_000
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	set := DefaultCopySettings
	if cfg.Copy != nil {
		set = *cfg.Copy
	}
	if cfg.MemProfile != "" {
		quietMemProfile()
	}
	say := func(format string, args ...any) {
		if cfg.Out != nil {
			fmt.Fprintf(cfg.Out, format+"\n", args...)
		}
	}
	rep := Report{N: cfg.N, Partitions: cfg.Partitions, OfferedRate: cfg.Rate, Events: cfg.Events, CopySettings: set, FanoutSettings: set}
	lane := schemas.LaneProd
	sp, err := spec.Default()
	if err != nil {
		return rep, err
	}
	sp.Lanes[lane].Partitions = cfg.Partitions
	dcfg := devstack.Config{Partitions: cfg.Partitions}
	dir, removeDir, err := brokerLogDir(cfg.BrokerInMemory)
	if err != nil {
		return rep, err
	}
	defer removeDir()
	dcfg.DataDir = dir
	if dir != "" {
		say("broker: log in %s (files, removed when the bench ends; --broker-in-memory keeps it in memory)", dir)
	} else {
		say("broker: log in memory")
	}
	stack, err := devstack.StartDeployed(ctx, dcfg, sp.Partitions(), lane)
	if err != nil {
		return rep, err
	}
	defer stack.Close()
	brokers, codec := stack.BrokerAddrs(), stack.Serde
	msgTopic := topics.Name(string(lane), topics.KindMessages)
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return rep, err
	}

	say("producing %d messages to %s", cfg.N, msgTopic)
	if err := benchProduce(ctx, brokers, codec, lane, cfg.N, cfg.Clock.Now().Add(-time.Minute)); err != nil {
		return rep, err
	}

	say("plain copy: consumer group → writer (acks=all) → commit, one record out per record in")
	say("  settings: %v", set)
	const copyTopic = "bench.copy"
	if err := ensureCopyTopics(ctx, brokers, map[string]int{copyTopic: cfg.Partitions}); err != nil {
		return rep, fmt.Errorf("plain copy: %w", err)
	}
	cost := startCost(cfg.Clock, 100*time.Millisecond)
	cst, err := runCopy(ctx, brokers, msgTopic, "bench-copy", cfg.N, []copyOutput{{Topic: copyTopic, Records: int64(cfg.N), ValueSize: -1}}, set, cfg.Clock)
	mallocs, _ := cost.finish()
	if err != nil {
		return rep, fmt.Errorf("plain copy: %w", err)
	}
	rep.CopyRate = float64(cfg.N) / cst.Took.Seconds()
	rep.CopyAllocsPerMsg = float64(mallocs) / float64(cfg.N)
	say("  %d in %v: %.0f msgs/s, %.1f allocs/msg", cfg.N, cst.Took.Round(time.Millisecond), rep.CopyRate, rep.CopyAllocsPerMsg)
	// The broker keeps every record in this process's memory: drop what
	// only the copy needed.
	if err := admin.DeleteTopics(ctx, []string{copyTopic}); err != nil {
		return rep, fmt.Errorf("plain copy: %w", err)
	}

	say("full chain (dispatch %v)", cfg.Dispatch)
	counters := &observe.LaneCounters{}
	env := map[string]string{}
	if cfg.Dispatch {
		env[runtime.FlagDispatch] = "true"
	}
	prof, err := startProfiles(cfg.CPUProfile, cfg.MemProfile)
	if err != nil {
		return rep, err
	}
	defer prof.stop()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	ready := make(chan struct{})
	runDone := make(chan error, 1)
	cost = startCost(cfg.Clock, 100*time.Millisecond)
	start := cfg.Clock.Now()
	go func() {
		runDone <- runtime.Run(runCtx, runtime.Config{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Group: "bench-chain",
			Spec: sp, Getenv: func(k string) string { return env[k] }, Counters: counters, Clock: cfg.Clock,
			Logger: slog.New(slog.DiscardHandler), Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
		rep.ChainStartup = cfg.Clock.Now().Sub(start)
	case err := <-runDone:
		return rep, err
	}
	if err := waitAnswered(ctx, cfg.Clock, counters, int64(cfg.N), 10*time.Minute); err != nil {
		return rep, err
	}
	chainTook := cfg.Clock.Now().Sub(start)
	mallocs, rep.ChainPeakRSS = cost.finish()
	if err := prof.stop(); err != nil {
		return rep, err
	}
	rep.ChainRate = float64(cfg.N) / chainTook.Seconds()
	rep.Ratio = rep.ChainRate / rep.CopyRate
	rep.ChainAllocsPerMsg = float64(mallocs) / float64(cfg.N)
	say("  %d in %v (joined its group after %v): %.0f msgs/s (%.2f of the plain copy), %.1f allocs/msg, peak RSS %s",
		cfg.N, chainTook.Round(time.Millisecond), rep.ChainStartup.Round(time.Millisecond), rep.ChainRate, rep.Ratio, rep.ChainAllocsPerMsg, fmtMiB(rep.ChainPeakRSS))

	if rep.Writes, err = scanWrites(ctx, brokers, lane); err != nil {
		return rep, fmt.Errorf("chain phase: %w", err)
	}
	msgSample, err := firstValue(ctx, brokers, msgTopic)
	if err != nil {
		return rep, fmt.Errorf("chain phase: %w", err)
	}
	resSample, err := firstValue(ctx, brokers, topics.Name(string(lane), topics.KindResults))
	if err != nil {
		return rep, fmt.Errorf("chain phase: %w", err)
	}

	if err := fanoutPhase(ctx, brokers, admin, msgTopic, set, cfg, &rep, say); err != nil {
		return rep, fmt.Errorf("fan-out copy: %w", err)
	}

	ranges, err := replayRanges(ctx, brokers, lane)
	if err != nil {
		return rep, fmt.Errorf("replay phase: %w", err)
	}
	say("replay: the chain's log, %d partitions from start to end, into the %s replay namespace", len(ranges), replayNamespace)
	rst, err := replayPhase(ctx, replayConfig{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Spec: sp,
		Getenv: func(k string) string { return env[k] }, Clock: cfg.Clock}, ranges)
	if err != nil {
		return rep, fmt.Errorf("replay phase: %w", err)
	}
	rep.ReplayRecords, rep.ReplayRate = rst.Records, rst.Rate()
	rep.ReplayRatio = rep.ReplayRate / rep.ChainRate
	say("  %d in %v: %.0f msgs/s (%.2f of the chain)", rst.Records, rst.Took.Round(time.Millisecond), rep.ReplayRate, rep.ReplayRatio)
	// The in-process broker holds the replay's outputs in this process's
	// memory; later phases measure RSS, so they go.
	if err := dropReplayNamespace(ctx, admin, lane, cfg.Partitions); err != nil {
		return rep, fmt.Errorf("replay phase: %w", err)
	}

	penv := PhaseEnv{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Serde: codec, Spec: sp,
		Partitions: cfg.Partitions, Clock: cfg.Clock, Say: say, Short: cfg.Short, Executable: cfg.Executable, LaneMemProfile: cfg.LaneMemProfile}
	say("steady: %d msgs/s offered for %v", cfg.Rate, cfg.SteadyFor)
	sink, err := topics.NewSink(ctx, brokers)
	if err != nil {
		return rep, err
	}
	var finishLatency func(*Report) error
	if steadyLatencyHook != nil {
		if finishLatency, err = steadyLatencyHook(ctx, penv); err != nil {
			return rep, fmt.Errorf("steady phase: %w", err)
		}
	}
	counters.ResetFrames()
	before := counters.Out.Load() + counters.DLQ.Load()
	prodCtx, stopProd := context.WithTimeout(ctx, cfg.SteadyFor)
	gcBefore := readGCCPU() // the broker's records are in this heap too
	steadyStart := cfg.Clock.Now()
	prodErr := devstack.RunProducer(prodCtx, devstack.ProducerConfig{Lane: lane, Rate: cfg.Rate, Seed: 5, Serde: codec, Sink: sink, Clock: cfg.Clock})
	stopProd()
	close(sink.In())
	sink.AwaitCompletion()
	steadyTook := cfg.Clock.Now().Sub(steadyStart)
	steadyGC := readGCCPU().since(gcBefore)
	answered := counters.Out.Load() + counters.DLQ.Load() - before
	rep.SteadyRate = float64(answered) / steadyTook.Seconds()
	rep.SteadyBacklog = sink.Written() - answered
	rep.SteadyP95, rep.SteadyFrames = counters.FramesP95()
	var latErr error
	if finishLatency != nil {
		latErr = finishLatency(&rep)
	}
	stopRun()
	if err := <-runDone; err != nil {
		return rep, err
	}
	if prodErr != nil {
		return rep, prodErr
	}
	if latErr != nil {
		return rep, fmt.Errorf("steady phase: %w", latErr)
	}
	say("  answered %.0f msgs/s; tick p95 %v over %d frames; backlog %d", rep.SteadyRate, rep.SteadyP95.Round(10*time.Microsecond), rep.SteadyFrames, rep.SteadyBacklog)
	say("  garbage collection meanwhile (the lane, the producer, the probe and the broker share this process): %v", steadyGC)

	for _, h := range []struct {
		name string
		run  func(context.Context, PhaseEnv, *Report) error
	}{{"low-rate phase", lowRateHook}, {"scale-out phase", scaleOutHook}, {"overload phase", overloadHook}} {
		if h.run == nil {
			continue
		}
		if err := h.run(ctx, penv, &rep); err != nil {
			return rep, fmt.Errorf("%s: %w", h.name, err)
		}
	}

	say("events scan: %d events written to the %s replay namespace, then scanned and decoded", cfg.Events, eventsNamespace)
	stats, err := eventsPhase(ctx, brokers, codec, lane, cfg.Events, cfg.Partitions, cfg.Clock)
	if err != nil {
		return rep, fmt.Errorf("events phase: %w", err)
	}
	rep.EventsScanned, rep.EventsRate = stats.Scanned, stats.Rate()
	say("  %d in %v: %.0f events/s", stats.Scanned, stats.Elapsed.Round(time.Millisecond), rep.EventsRate)

	say("codec: MatrizMessage decode + MatrizResult encode, a message and a result of the chain phase")
	if rep.CodecRoundTrip, rep.CodecAllocs, err = codecRoundTrip(msgSample, resSample, cfg.Clock, 500*time.Millisecond); err != nil {
		return rep, fmt.Errorf("codec round trip: %w", err)
	}
	say("  %v per round trip, %.1f allocs", rep.CodecRoundTrip, rep.CodecAllocs)
	rep.PeakRSS = processHWM()
	return rep, nil
}

// dropReplayNamespace deletes the replay phase's topics.
func dropReplayNamespace(ctx context.Context, admin *topics.Admin, lane schemas.Lane, partitions int) error {
	specs, err := topics.ReplaySpecs(string(lane), replayNamespace, partitions)
	if err != nil {
		return err
	}
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = sp.Name
	}
	return admin.DeleteTopics(ctx, names)
}

func waitAnswered(ctx context.Context, cl clock.Clock, c *observe.LaneCounters, n int64, within time.Duration) error {
	return pollUntil(ctx, cl, 10*time.Millisecond, within, func() (bool, string) {
		got := c.Out.Load() + c.DLQ.Load()
		return got >= n, fmt.Sprintf("%d of %d answered", got, n)
	})
}

// benchProduce writes n synthetic messages with event times from base.
func benchProduce(ctx context.Context, brokers []string, codec *serde.Serde, lane schemas.Lane, n int, base time.Time) error {
	topic := topics.Name(string(lane), topics.KindMessages)
	id, err := codec.ID(serde.ValueSubject(topic))
	if err != nil {
		return err
	}
	sink, err := topics.NewSink(ctx, brokers)
	if err != nil {
		return err
	}
	gen := devstack.NewSynthetic(lane, 1, 1024)
	for i := range n {
		m := gen.Next(base.Add(time.Duration(i) * 10 * time.Microsecond))
		val, err := schemas.AppendWire(nil, id, &m)
		if err != nil {
			return err
		}
		sink.In() <- topics.Message{Topic: topic, Key: []byte(m.Glyph.ID), Value: val}
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Failed() > 0 {
		return fmt.Errorf("produce: %d records failed: %w", sink.Failed(), sink.Err())
	}
	return nil
}
