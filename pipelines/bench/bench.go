// Package bench is `matriz bench`: in one run on the embedded broker, a raw
// kafka-go consume→produce copy and the full chain over the same messages,
// a replay of the chain's log through runtime.Replay, then the chain under
// a steady offered rate, so the figures compare as ratios on whatever
// machine runs them; last, an event-log scan as `matriz events` reads it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

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
// measures a raw kafka-go consume→produce copy and the full chain over the
// same messages, a replay of those messages, then the chain under a steady
// offered rate.
type Config struct {
	N          int           // messages for the copy and the chain (default 100,000)
	Rate       int           // steady offered rate, msgs/s (default 20,000)
	SteadyFor  time.Duration // how long the steady phase runs (default 10s)
	Dispatch   bool          // run the chain with DISPATCH_ENABLED
	Partitions int           // lane partitions (default 6)
	Events     int           // events written and scanned by the events phase (default 300,000)
	Out        io.Writer     // progress lines; nil for none
	Short      bool          // the short profile: the latency and overload phases run shorter
	Clock      clock.Clock
}

// Report is what a bench run measured.
type Report struct {
	N             int
	Partitions    int
	CopyRate      float64       // raw kafka-go consume→produce, msgs/s
	ChainRate     float64       // full chain, msgs/s
	Ratio         float64       // ChainRate / CopyRate
	ReplayRecords int64         // replay phase: records replayed (the chain phase's N)
	ReplayRate    float64       // replay phase: records/s, decisions read to last output acknowledged
	ReplayRatio   float64       // ReplayRate / ChainRate
	OfferedRate   int           // steady phase: msgs/s produced
	SteadyRate    float64       // steady phase: msgs/s answered
	SteadyP95     time.Duration // steady phase: p95 of frame processing time
	SteadyFrames  int           // frames the p95 is over
	SteadyBacklog int64         // messages produced but not answered when the phase ended
	Events        int           // events phase: events written
	EventsScanned int64         // events phase: events scanned and decoded
	EventsRate    float64       // events phase: events scanned per second

	// Latency and overload phases (latency*.go, overload*.go); zero is not
	// measured.
	SteadyFor                  time.Duration         // how long the steady phase offered
	SteadyP50, SteadyP99       time.Duration         // end to end: record timestamp → result acknowledged
	SteadyMax                  time.Duration         // the largest of those
	SteadyLatencySamples       int                   // results the percentiles are over
	LowRateP50, LowRateP99     map[int]time.Duration // key: offered msgs/s
	OverloadRate               int                   // msgs/s offered in the overload phase
	OverloadPeakRSS            uint64                // bytes, max of both lane phases
	OverloadPeakRSSByLane      map[string]uint64     // lane → bytes
	ExperimentalDrops          int64                 // records the experimental lane dropped
	ExperimentalDropsAccounted int64                 // of those, records listed by decimation events
	ProdOverloadDropped        int64                 // must be 0: prod applies backpressure
	ProdOverloadAnswered       float64               // msgs/s prod answered under overload
}

// PhaseEnv is what the latency and overload phases get from Run.
type PhaseEnv struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	Serde       *serde.Serde
	Spec        *spec.Spec
	Partitions  int
	Clock       clock.Clock
	Say         func(format string, args ...any) // progress lines
	Short       bool                             // the short profile: phases run shorter
}

// The latency side's phases, set by latency.go and overload.go's init so
// bench.go compiles without them.
var (
	// steadyLatencyHook starts just before the steady producer; finish
	// runs right after it stops.
	steadyLatencyHook func(ctx context.Context, env PhaseEnv) (finish func(rep *Report) error, err error)
	// lowRateHook and overloadHook run after the steady phase, with the
	// chain's runtime stopped; they start their own.
	lowRateHook  func(ctx context.Context, env PhaseEnv, rep *Report) error
	overloadHook func(ctx context.Context, env PhaseEnv, rep *Report) error
)

func (r Report) String() string {
	return fmt.Sprintf("copy %.0f msgs/s, chain %.0f msgs/s (ratio %.2f) over %d messages on %d partitions; "+
		"replay %.0f msgs/s (%.2f of the chain) over %d records; "+
		"steady %d msgs/s offered: %.0f msgs/s answered, tick p95 %v over %d frames, backlog %d at the end; "+
		"events scan %.0f events/s over %d events",
		r.CopyRate, r.ChainRate, r.Ratio, r.N, r.Partitions, r.ReplayRate, r.ReplayRatio, r.ReplayRecords, r.OfferedRate, r.SteadyRate,
		r.SteadyP95.Round(10*time.Microsecond), r.SteadyFrames, r.SteadyBacklog, r.EventsRate, r.EventsScanned)
}

// Run runs the benchmark. Everything runs in this process on the
// embedded broker, so the copy and the chain compete for the same CPUs the
// same way.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.N <= 0 {
		cfg.N = 100_000
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20_000
	}
	if cfg.SteadyFor <= 0 {
		cfg.SteadyFor = 10 * time.Second
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
	say := func(format string, args ...any) {
		if cfg.Out != nil {
			fmt.Fprintf(cfg.Out, format+"\n", args...)
		}
	}
	rep := Report{N: cfg.N, Partitions: cfg.Partitions, OfferedRate: cfg.Rate, Events: cfg.Events}
	lane := schemas.LaneProd
	sp, err := spec.Default()
	if err != nil {
		return rep, err
	}
	sp.Lanes[lane].Partitions = cfg.Partitions
	stack, err := devstack.StartDeployed(ctx, devstack.Config{Partitions: cfg.Partitions}, sp.Partitions(), lane)
	if err != nil {
		return rep, err
	}
	defer stack.Close()
	brokers, codec := stack.BrokerAddrs(), stack.Serde
	msgTopic := topics.Name(string(lane), topics.KindMessages)

	say("producing %d messages to %s", cfg.N, msgTopic)
	if err := benchProduce(ctx, brokers, codec, lane, cfg.N, cfg.Clock.Now().Add(-time.Minute)); err != nil {
		return rep, err
	}

	say("raw kafka-go copy: consumer group → writer (acks=all) → commit")
	copyTook, err := rawCopy(ctx, brokers, msgTopic, "bench.copy", cfg.N, cfg.Partitions, cfg.Clock)
	if err != nil {
		return rep, fmt.Errorf("raw copy: %w", err)
	}
	rep.CopyRate = float64(cfg.N) / copyTook.Seconds()
	say("  %d in %v: %.0f msgs/s", cfg.N, copyTook.Round(time.Millisecond), rep.CopyRate)

	say("full chain (dispatch %v)", cfg.Dispatch)
	counters := &observe.LaneCounters{}
	env := map[string]string{}
	if cfg.Dispatch {
		env[runtime.FlagDispatch] = "true"
	}
	runCtx, stopRun := context.WithCancel(ctx)
	ready := make(chan struct{})
	runDone := make(chan error, 1)
	start := cfg.Clock.Now()
	go func() {
		runDone <- runtime.Run(runCtx, runtime.Config{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Group: "bench-chain",
			Spec: sp, Getenv: func(k string) string { return env[k] }, Counters: counters, Clock: cfg.Clock,
			Logger: slog.New(slog.DiscardHandler), Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-runDone:
		stopRun()
		return rep, err
	}
	if err := waitAnswered(ctx, cfg.Clock, counters, int64(cfg.N), 10*time.Minute); err != nil {
		stopRun()
		return rep, err
	}
	chainTook := cfg.Clock.Now().Sub(start)
	rep.ChainRate = float64(cfg.N) / chainTook.Seconds()
	rep.Ratio = rep.ChainRate / rep.CopyRate
	say("  %d in %v: %.0f msgs/s (%.2f of the raw copy)", cfg.N, chainTook.Round(time.Millisecond), rep.ChainRate, rep.Ratio)

	ranges, err := replayRanges(ctx, brokers, lane)
	if err != nil {
		stopRun()
		return rep, fmt.Errorf("replay phase: %w", err)
	}
	say("replay: the chain's log, %d partitions from start to end, into the %s replay namespace", len(ranges), replayNamespace)
	rst, err := replayPhase(ctx, replayConfig{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Spec: sp,
		Getenv: func(k string) string { return env[k] }, Clock: cfg.Clock}, ranges)
	if err != nil {
		stopRun()
		return rep, fmt.Errorf("replay phase: %w", err)
	}
	rep.ReplayRecords, rep.ReplayRate = rst.Records, rst.Rate()
	rep.ReplayRatio = rep.ReplayRate / rep.ChainRate
	say("  %d in %v: %.0f msgs/s (%.2f of the chain)", rst.Records, rst.Took.Round(time.Millisecond), rep.ReplayRate, rep.ReplayRatio)

	say("steady: %d msgs/s offered for %v", cfg.Rate, cfg.SteadyFor)
	sink, err := topics.NewSink(ctx, brokers)
	if err != nil {
		stopRun()
		return rep, err
	}
	counters.ResetFrames()
	before := counters.Out.Load() + counters.DLQ.Load()
	penv := PhaseEnv{Lane: lane, Brokers: brokers, RegistryURL: stack.RegistryURL, Serde: codec, Spec: sp, Partitions: cfg.Partitions,
		Clock: cfg.Clock, Say: say, Short: cfg.Short}
	var finishLatency func(*Report) error
	if steadyLatencyHook != nil {
		if finishLatency, err = steadyLatencyHook(ctx, penv); err != nil {
			stopRun()
			return rep, err
		}
	}
	prodCtx, stopProd := context.WithTimeout(ctx, cfg.SteadyFor)
	steadyStart := cfg.Clock.Now()
	prodErr := devstack.RunProducer(prodCtx, devstack.ProducerConfig{Lane: lane, Rate: cfg.Rate, Seed: 5, Serde: codec, Sink: sink, Clock: cfg.Clock})
	stopProd()
	close(sink.In())
	sink.AwaitCompletion()
	steadyTook := cfg.Clock.Now().Sub(steadyStart)
	answered := counters.Out.Load() + counters.DLQ.Load() - before
	rep.SteadyRate = float64(answered) / steadyTook.Seconds()
	rep.SteadyBacklog = sink.Written() - answered
	rep.SteadyP95, rep.SteadyFrames = counters.FramesP95()
	if finishLatency != nil {
		if err := finishLatency(&rep); err != nil {
			stopRun()
			return rep, err
		}
	}
	stopRun()
	if err := <-runDone; err != nil {
		return rep, err
	}
	if prodErr != nil {
		return rep, prodErr
	}
	say("  answered %.0f msgs/s; tick p95 %v over %d frames; backlog %d", rep.SteadyRate, rep.SteadyP95.Round(10*time.Microsecond), rep.SteadyFrames, rep.SteadyBacklog)
	for _, hook := range []func(context.Context, PhaseEnv, *Report) error{lowRateHook, overloadHook} {
		if hook != nil {
			if err := hook(ctx, penv, &rep); err != nil {
				return rep, err
			}
		}
	}

	say("events scan: %d events written to the %s replay namespace, then scanned and decoded", cfg.Events, eventsNamespace)
	stats, err := eventsPhase(ctx, brokers, codec, lane, cfg.Events, cfg.Partitions, cfg.Clock)
	if err != nil {
		return rep, fmt.Errorf("events phase: %w", err)
	}
	rep.EventsScanned, rep.EventsRate = stats.Scanned, stats.Rate()
	say("  %d in %v: %.0f events/s", stats.Scanned, stats.Elapsed.Round(time.Millisecond), rep.EventsRate)
	return rep, nil
}

func waitAnswered(ctx context.Context, cl clock.Clock, c *observe.LaneCounters, n int64, within time.Duration) error {
	tk := cl.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	deadline := cl.Now().Add(within)
	for c.Out.Load()+c.DLQ.Load() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tk.C():
			if now.After(deadline) {
				return fmt.Errorf("%d of %d answered after %v", c.Out.Load()+c.DLQ.Load(), n, within)
			}
		}
	}
	return nil
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

// rawCopy is the baseline: the plainest correct kafka-go consume→produce
// loop — a consumer-group Reader with the same fetch tuning as the
// runtime, a Writer with acks=all, offsets committed after each batch is
// acknowledged. It copies n records from src to dst.
func rawCopy(ctx context.Context, brokers []string, src, dst string, n, partitions int, cl clock.Clock) (time.Duration, error) {
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return 0, err
	}
	if _, err := admin.Ensure(ctx, []topics.Spec{{Name: dst, Partitions: partitions, ReplicationFactor: topics.ReplicationByCluster,
		Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete}}}, false); err != nil {
		return 0, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: slices.Clone(brokers), GroupID: "bench-copy", GroupTopics: []string{src},
		MinBytes: topics.DefaultSourceMinBytes, MaxBytes: topics.DefaultSourceMaxBytes,
		MaxWait: topics.DefaultSourceMaxWait, QueueCapacity: topics.DefaultSourceQueueCapacity,
		StartOffset: kafka.FirstOffset,
	})
	defer r.Close()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: dst, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Murmur2Balancer{},
		BatchSize: topics.DefaultSinkBatchSize, BatchBytes: topics.DefaultSinkBatchBytes, BatchTimeout: topics.DefaultSinkBatchTimeout}
	defer w.Close()
	const batch = 1000
	start := cl.Now()
	buf := make([]kafka.Message, 0, batch)
	copied := 0
	for copied < n {
		buf = buf[:0]
		// Take what is queued now, at least one record, at most a batch.
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return 0, err
		}
		buf = append(buf, m)
		for len(buf) < batch && copied+len(buf) < n {
			fctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			m, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					break
				}
				return 0, err
			}
			buf = append(buf, m)
		}
		out := make([]kafka.Message, len(buf))
		for i, m := range buf {
			out[i] = kafka.Message{Key: m.Key, Value: m.Value, Headers: m.Headers}
		}
		if err := w.WriteMessages(ctx, out...); err != nil {
			return 0, err
		}
		if err := r.CommitMessages(ctx, buf...); err != nil {
			return 0, err
		}
		copied += len(buf)
	}
	return cl.Now().Sub(start), nil
}
