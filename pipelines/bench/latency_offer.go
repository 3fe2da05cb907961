package bench

// What the latency and overload phases share: a producer that offers an
// even rate, and a lane runtime started on a group moved to the log's end
// (so a phase measures its own messages, not a backlog an earlier phase
// left).

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// offerTick is how often the offering producer wakes: at 100 msgs/s a
// message every 10 ms, at 2,000 two a tick, so the stream is even rather
// than in bursts.
const offerTick = time.Millisecond

// offerConfig configures offer.
type offerConfig struct {
	Lane    schemas.Lane
	Brokers []string
	Serde   *serde.Serde
	Rate    int // msgs/s
	For     time.Duration
	Seed    uint64
	Clock   clock.Clock
}

// offered is what offer did: records acknowledged, how long it handed
// records to the writer, and how long until the last was acknowledged (a
// writer behind a busy broker acknowledges well after the last hand-off).
type offered struct {
	Sent  int64
	Took  time.Duration // first to last hand-off
	Acked time.Duration // first hand-off to the last acknowledgement
}

// Rate is the rate actually offered: records over the hand-off window.
func (o offered) Rate() float64 {
	if o.Took <= 0 {
		return 0
	}
	return float64(o.Sent) / o.Took.Seconds()
}

// offer writes synthetic messages to the lane's messages topic at cfg.Rate
// for cfg.For. Each message's ts and its Kafka record timestamp are the
// producer's clock as it hands the record to the writer, which is where
// end-to-end latency starts. A rate the producer cannot reach is offered
// as fast as it can: offered.Rate says what it reached.
func offer(ctx context.Context, cfg offerConfig) (offered, error) {
	if cfg.Rate <= 0 || cfg.For <= 0 {
		return offered{}, fmt.Errorf("offer %d msgs/s for %v: want a positive rate and duration", cfg.Rate, cfg.For)
	}
	topic := topics.Name(string(cfg.Lane), topics.KindMessages)
	id, err := cfg.Serde.ID(serde.ValueSubject(topic))
	if err != nil {
		return offered{}, err
	}
	sink, err := topics.NewSink(ctx, cfg.Brokers)
	if err != nil {
		return offered{}, err
	}
	gen := devstack.NewSynthetic(cfg.Lane, cfg.Seed, 1024)
	tk := cfg.Clock.NewTicker(offerTick)
	defer tk.Stop()
	start := cfg.Clock.Now()
	var sent int64
	var encErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tk.C():
			el := now.Sub(start)
			if el >= cfg.For {
				break loop
			}
			due := int64(el.Seconds() * float64(cfg.Rate))
			for ; sent < due; sent++ {
				at := cfg.Clock.Now()
				if at.Sub(start) >= cfg.For {
					break loop // a writer that blocks does not stretch the window
				}
				m := gen.Next(at)
				val, err := schemas.AppendWire(nil, id, &m)
				if err != nil {
					encErr = err
					break loop
				}
				select {
				case sink.In() <- topics.Message{Topic: topic, Key: []byte(m.Glyph.ID), Value: val, Time: at}:
				case <-ctx.Done():
					break loop
				}
			}
		}
	}
	handed := cfg.Clock.Now().Sub(start)
	close(sink.In())
	sink.AwaitCompletion()
	o := offered{Sent: sink.Written(), Took: handed, Acked: cfg.Clock.Now().Sub(start)}
	if encErr != nil {
		return o, fmt.Errorf("offer: %w", encErr)
	}
	if sink.Failed() > 0 {
		return o, fmt.Errorf("offer: %d records failed: %w", sink.Failed(), sink.Err())
	}
	return o, ctx.Err()
}

// laneRun is a lane runtime a phase started.
type laneRun struct {
	Counters *observe.LaneCounters
	metrics  *prometheus.Registry // the lane's own metrics, read for its late count
	stop     context.CancelFunc
	done     chan error
}

// startLane moves group to the end of lane's messages topic and runs the
// lane on it until close. idleAfter 0 is the runtime's default.
func startLane(ctx context.Context, env PhaseEnv, sp *spec.Spec, lane schemas.Lane, group string, idleAfter time.Duration) (*laneRun, error) {
	if _, err := replay.ResetOffsets(ctx, replay.ResetConfig{OffsetsConfig: replay.OffsetsConfig{Lane: lane, Group: group, Brokers: env.Brokers},
		To: replay.Position{Kind: replay.PositionEnd}}); err != nil {
		return nil, fmt.Errorf("move group %s to the end: %w", group, err)
	}
	r := &laneRun{Counters: &observe.LaneCounters{}, metrics: prometheus.NewRegistry(), done: make(chan error, 1)}
	metrics, err := observe.NewMetrics(r.metrics)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	r.stop = stop
	ready := make(chan struct{})
	go func() {
		r.done <- runtime.Run(runCtx, runtime.Config{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, Group: group,
			Spec: sp, Counters: r.Counters, Metrics: metrics, Clock: env.Clock, IdleAfter: idleAfter,
			Logger: slog.New(slog.DiscardHandler), Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
		return r, nil
	case err := <-r.done:
		stop()
		if err == nil {
			err = fmt.Errorf("lane %s stopped before it joined group %s", lane, group)
		}
		return nil, err
	}
}

// late is how many messages the lane judged late so far: they came after
// their frame had closed, which a faster idle close makes likelier.
func (r *laneRun) late() int64 {
	mfs, err := r.metrics.Gather()
	if err != nil {
		return -1
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == observe.Namespace+"_late_messages_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int64(n)
}

// answered is what the lane answered so far: results and DLQ records.
func (r *laneRun) answered() int64 { return r.Counters.Out.Load() + r.Counters.DLQ.Load() }

// waitAnswered polls until the lane has answered n messages.
func (r *laneRun) waitAnswered(ctx context.Context, env PhaseEnv, n int64, within time.Duration) error {
	return r.waitFor(ctx, env, r.answered, n, within, "answered")
}

// waitFor polls until count() reaches n, or within passes.
func (r *laneRun) waitFor(ctx context.Context, env PhaseEnv, count func() int64, n int64, within time.Duration, what string) error {
	return pollUntil(ctx, env.Clock, 20*time.Millisecond, within, func() (bool, string) {
		got := count()
		return got >= n, fmt.Sprintf("the lane %s %d of %d messages", what, got, n)
	})
}

// close stops the lane (it finishes its open frames) and returns its error.
func (r *laneRun) close() error {
	r.stop()
	return <-r.done
}
