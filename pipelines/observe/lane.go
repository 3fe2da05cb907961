package observe

// This file exports what one processed frame tells: the tick's own figures
// (duration, frames, fps, backlog) and the stages' domain numbers, read from
// what the frame carries (events, verdicts, routes) and from the stages'
// plain-value stats. The stages themselves know no Prometheus.

import (
	"sync"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Lane is one lane's view of the metrics and status counters: the runtime's
// partition workers report every frame through it.
type Lane struct {
	lane     schemas.Lane
	metrics  *Metrics
	counters *LaneCounters

	mu    sync.Mutex
	drift map[int32]stages.DriftStats // the last figures of each partition this process works
}

// NewLane returns the observer of lane, creating its series at zero.
func NewLane(lane schemas.Lane, m *Metrics, c *LaneCounters) *Lane {
	m.InitLane(string(lane))
	return &Lane{lane: lane, metrics: m, counters: c, drift: map[int32]stages.DriftStats{}}
}

// Metrics returns the metrics the lane reports to.
func (o *Lane) Metrics() *Metrics { return o.metrics }

// Counters returns the lane's status counters.
func (o *Lane) Counters() *LaneCounters { return o.counters }

// Frame records one processed frame: d is the chain's time on it, late
// whether it is a late record's frame of its own (not a tick frame),
// backlog the frames waiting in the decimation ring, fps the tick's rate.
func (o *Lane) Frame(f *stages.Frame, d time.Duration, late bool, backlog, fps int) {
	m, lane, c := o.metrics, string(o.lane), o.counters
	if !late {
		m.TickDuration.WithLabelValues(lane).Observe(d.Seconds())
		m.Frames.WithLabelValues(lane).Inc()
		c.p95.add(d)
	}
	m.Backlog.WithLabelValues(lane).Set(float64(backlog))
	m.FPS.WithLabelValues(lane).Set(float64(fps))
	c.FPS.Store(int64(fps))
	for i := range f.Records {
		r := &f.Records[i]
		if r.Route != nil {
			m.RouterPublish.WithLabelValues(lane, r.Route.Topic).Inc()
		}
		if r.Verdict != nil {
			m.GuardianDecisions.WithLabelValues(lane, string(r.Verdict.Outcome)).Inc()
			if r.Verdict.Outcome == stages.OutcomeDeny {
				c.Denials.Add(1)
			}
		}
	}
	for _, ev := range f.Events {
		switch ev.Kind {
		case schemas.EventCircuitBreak:
			m.CircuitBreaks.WithLabelValues(lane).Inc()
			c.Breaks.Add(1)
		case schemas.EventBreakthrough:
			m.BreakthroughFlags.WithLabelValues(lane).Inc()
			c.Breakthroughs.Add(1)
		case schemas.EventDecimation:
			if n, ok := ev.Payload.Int("frames"); ok {
				m.Decimated.WithLabelValues(lane).Add(float64(n))
			}
		}
	}
}

// Late counts a record that arrived after its frame closed.
func (o *Lane) Late() { o.metrics.Late.WithLabelValues(string(o.lane)).Inc() }

// MessageIn counts a record consumed from the lane's messages topic.
func (o *Lane) MessageIn() {
	o.counters.In.Add(1)
	o.metrics.MessagesIn.WithLabelValues(string(o.lane)).Inc()
}

// ResultWritten counts a result Kafka acknowledged.
func (o *Lane) ResultWritten() {
	o.counters.Out.Add(1)
	o.metrics.MessagesOut.WithLabelValues(string(o.lane)).Inc()
}

// DLQWritten counts a DLQ record Kafka acknowledged, by reason.
func (o *Lane) DLQWritten(reason string) {
	o.counters.DLQ.Add(1)
	o.metrics.DLQ.WithLabelValues(string(o.lane), reason).Inc()
}

// Drift records partition's drift figures and sets the lane's gauges to
// the figures pooled over every partition this process works.
func (o *Lane) Drift(partition int32, s stages.DriftStats) {
	o.mu.Lock()
	o.drift[partition] = s
	parts := make([]stages.DriftStats, 0, len(o.drift))
	for _, d := range o.drift {
		parts = append(parts, d)
	}
	o.mu.Unlock()
	pooled := stages.PoolDriftStats(o.lane, parts)
	o.metrics.DriftEMA.WithLabelValues(string(o.lane)).Set(pooled.EMA)
	o.metrics.Coherence.WithLabelValues(string(o.lane)).Set(pooled.Coherence)
	o.counters.SetDriftEMA(pooled.EMA)
}

// Forget drops a revoked partition's figures from the pooled gauges.
func (o *Lane) Forget(partition int32) {
	o.mu.Lock()
	delete(o.drift, partition)
	o.mu.Unlock()
}
