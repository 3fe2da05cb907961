package observe

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// observedStage is a stage with the runtime's per-stage metrics.
type observedStage struct {
	stages.Stage
	in, out, errs prometheus.Counter
	dur           prometheus.Observer
	clock         clock.Clock
}

// Wrap returns st decorated with the runtime's per-stage metrics, so stages
// stay free of Prometheus: records received (live on entry), sent (still
// live on exit), failed (sent to the DLQ by this stage), and the stage's
// time per frame. Unwrap on the result returns st, which is how the chain
// finds a stateful stage behind the decorator. With nil metrics it returns
// st itself.
func Wrap(lane schemas.Lane, st stages.Stage, m *Metrics, cl clock.Clock) stages.Stage {
	if m == nil {
		return st
	}
	l, n := string(lane), st.Name()
	o := &observedStage{
		Stage: st,
		in:    m.StageMessages.WithLabelValues(l, n, "in"),
		out:   m.StageMessages.WithLabelValues(l, n, "out"),
		errs:  m.StageErrors.WithLabelValues(l, n),
		dur:   m.StageDuration.WithLabelValues(l, n),
		clock: cl,
	}
	return o
}

func (o *observedStage) Process(ctx context.Context, f *stages.Frame) error {
	liveIn, failedIn := counts(f)
	start := o.clock.Now()
	err := o.Stage.Process(ctx, f)
	o.dur.Observe(o.clock.Now().Sub(start).Seconds())
	liveOut, failedOut := counts(f)
	o.in.Add(float64(liveIn))
	o.out.Add(float64(liveOut))
	o.errs.Add(float64(failedOut - failedIn))
	return err
}

// counts returns how many records are live and how many failed.
func counts(f *stages.Frame) (live, failed int) {
	for i := range f.Records {
		r := &f.Records[i]
		switch {
		case r.Failure != nil:
			failed++
		case !r.Dropped:
			live++
		}
	}
	return live, failed
}

// Unwrap returns the stage Wrap decorated.
func (o *observedStage) Unwrap() stages.Stage { return o.Stage }
