package observe

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// observedStage is a stage with the runtime's per-stage metrics and,
// with a tracer, a span per frame (a child of the frame's span).
type observedStage struct {
	stages.Stage
	in, out, errs prometheus.Counter // nil without metrics
	dur           prometheus.Observer
	clock         clock.Clock
	tracer        trace.Tracer // nil: tracing off
	spanName      string
	spanAttrs     trace.SpanStartEventOption
}

// WrapOption adds to what Wrap observes.
type WrapOption func(*observedStage)

// WrapTracer has the wrapped stage open a span per frame, the child of the
// frame's span its context carries (Tracer.StartFrame); a frame without
// one gets no stage spans. A nil t adds
// nothing, so tracing off costs no call on the hot path.
func WrapTracer(t *Tracer) WrapOption {
	return func(o *observedStage) {
		if t != nil {
			o.tracer = t.tracer
		}
	}
}

// Wrap returns st decorated with the runtime's per-stage metrics, so stages
// stay free of Prometheus: records received (live on entry), sent (still
// live on exit), failed (sent to the DLQ by this stage), and the stage's
// time per frame. Unwrap on the result returns st, which is how the chain
// finds a stateful stage behind the decorator. With nil metrics and no
// tracer (WrapTracer) it returns st itself.
func Wrap(lane schemas.Lane, st stages.Stage, m *Metrics, cl clock.Clock, opts ...WrapOption) stages.Stage {
	l, n := string(lane), st.Name()
	o := &observedStage{Stage: st, clock: cl}
	for _, opt := range opts {
		opt(o)
	}
	if m == nil && o.tracer == nil {
		return st
	}
	if m != nil {
		o.in = m.StageMessages.WithLabelValues(l, n, "in")
		o.out = m.StageMessages.WithLabelValues(l, n, "out")
		o.errs = m.StageErrors.WithLabelValues(l, n)
		o.dur = m.StageDuration.WithLabelValues(l, n)
	}
	if o.tracer != nil {
		o.spanName = SpanStagePrefix + n
		o.spanAttrs = trace.WithAttributes(attribute.String(AttrLane, l), attribute.String(AttrStage, n))
	}
	return o
}

func (o *observedStage) Process(ctx context.Context, f *stages.Frame) error {
	liveIn, failedIn := counts(f)
	var span trace.Span
	if o.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		// Only under a frame's span: a frame the runtime does not trace
		// (an empty one) makes no root spans here.
		ctx, span = o.tracer.Start(ctx, o.spanName, o.spanAttrs)
	}
	start := o.clock.Now()
	err := o.Stage.Process(ctx, f)
	d := o.clock.Now().Sub(start)
	liveOut, failedOut := counts(f)
	if o.in != nil {
		o.dur.Observe(d.Seconds())
		o.in.Add(float64(liveIn))
		o.out.Add(float64(liveOut))
		o.errs.Add(float64(failedOut - failedIn))
	}
	if span != nil {
		if span.IsRecording() {
			span.SetAttributes(attribute.Int(AttrStageIn, liveIn), attribute.Int(AttrStageOut, liveOut), attribute.Int(AttrStageFailed, failedOut-failedIn))
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
		}
		span.End()
	}
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
