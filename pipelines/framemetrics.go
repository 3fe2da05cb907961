package pipelines

import (
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// observeFrame exports one processed frame's figures: the tick's own
// (duration, frames, fps, backlog) and the stages' domain numbers, read
// from what the frame carries (events, verdicts, routes) and from the
// stages' plain-value stats — the stages themselves know no Prometheus.
func (lr *laneRuntime) observeFrame(f *stages.Frame, d time.Duration, late bool, backlog, fps int) {
	m, lane := lr.metrics, string(lr.lane)
	if !late {
		m.TickDuration.WithLabelValues(lane).Observe(d.Seconds())
		m.Frames.WithLabelValues(lane).Inc()
	}
	m.Backlog.WithLabelValues(lane).Set(float64(backlog))
	m.FPS.WithLabelValues(lane).Set(float64(fps))
	for i := range f.Records {
		r := &f.Records[i]
		if r.Route != nil {
			m.RouterPublish.WithLabelValues(lane, r.Route.Topic).Inc()
		}
		if r.Verdict != nil {
			m.GuardianDecisions.WithLabelValues(lane, string(r.Verdict.Outcome)).Inc()
		}
	}
	for _, ev := range f.Events {
		switch ev.Kind {
		case schemas.EventCircuitBreak:
			m.CircuitBreaks.WithLabelValues(lane).Inc()
		case schemas.EventBreakthrough:
			m.BreakthroughFlags.WithLabelValues(lane).Inc()
		case schemas.EventDecimation:
			if n, ok := ev.Payload.Int("frames"); ok {
				m.Decimated.WithLabelValues(lane).Add(float64(n))
			}
		}
	}
	if lr.chain.Drift != nil {
		s := lr.chain.Drift.LaneStats(lr.lane)
		m.DriftEMA.WithLabelValues(lane).Set(s.EMA)
		m.Coherence.WithLabelValues(lane).Set(s.Coherence)
	}
	c := lr.counters
	if !late {
		c.p95.add(d)
	}
	c.FPS.Store(int64(fps))
	for _, ev := range f.Events {
		switch ev.Kind {
		case schemas.EventCircuitBreak:
			c.Breaks.Add(1)
		case schemas.EventBreakthrough:
			c.Breakthroughs.Add(1)
		}
	}
	for i := range f.Records {
		if v := f.Records[i].Verdict; v != nil && v.Outcome == stages.OutcomeDeny {
			c.Denials.Add(1)
		}
	}
	if lr.chain.Drift != nil {
		c.SetDriftEMA(lr.chain.Drift.LaneStats(lr.lane).EMA)
	}
}
