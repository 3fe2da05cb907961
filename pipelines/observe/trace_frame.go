package observe

// A frame's span. A frame holds many records, each with its own input
// traceparent (or none), so it cannot be the child of all of them. The
// choice, following OpenTelemetry's messaging conventions for batches:
//
//   - the frame span is the child of one input's context — the first
//     sampled one, else the first one — so a single-record frame (and the
//     first record of any frame) continues its producer's trace, and a
//     parent-based sampler keeps a frame any sampled input asked for;
//   - it links to every other input's context (at most maxFrameLinks), so
//     each input's trace reaches the frame that processed it;
//   - each stage is a child span of it (stage.go), and every output the
//     frame wrote carries its traceparent: the span that produced it.
//
// A span per record would follow each input exactly, but it costs a span,
// an id and an export per message at 30 frames a second per partition,
// which is what issue 15's throughput budget cannot spare.

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// maxFrameLinks bounds the input contexts a frame span links to.
const maxFrameLinks = 128

// Span names.
const (
	SpanFrame       = "matriz.frame"
	SpanStagePrefix = "matriz.stage."
)

// Attribute keys of the frame and stage spans.
const (
	AttrLane             = "matriz.lane"
	AttrPartition        = "matriz.partition"
	AttrFrameSeq         = "matriz.frame.seq"
	AttrFrameFPS         = "matriz.frame.fps"
	AttrFrameRecords     = "matriz.frame.records"
	AttrFrameLate        = "matriz.frame.late"
	AttrReplay           = "matriz.replay"
	AttrFrameResults     = "matriz.frame.results"
	AttrFrameFailed      = "matriz.frame.failed"
	AttrFrameDropped     = "matriz.frame.dropped"
	AttrGuardianOutcomes = "matriz.guardian.outcomes" // the distinct outcomes, most severe first
	AttrGuardianPrefix   = "matriz.guardian."         // + outcome: how many records got it
	AttrDriftEMAMax      = "matriz.drift.ema_max"
	AttrDriftAlerts      = "matriz.drift.alerts"
	AttrBreakthroughs    = "matriz.breakthrough.flags"
	AttrBreakthroughZMax = "matriz.breakthrough.z_max"
	AttrCircuitBreaks    = "matriz.fold_guard.circuit_breaks"
	AttrFoldRefused      = "matriz.fold_guard.refused"
	AttrStage            = "matriz.stage"
	AttrStageIn          = "matriz.stage.in"
	AttrStageOut         = "matriz.stage.out"
	AttrStageFailed      = "matriz.stage.failed"
)

// FrameSpan is one frame's span; the zero FrameSpan (tracing off) does
// nothing.
type FrameSpan struct {
	span trace.Span
}

// StartFrame starts f's span as the child of one of parents (the inputs'
// traceparent header values, nil for an input without one) and linked to
// the others; see the file comment. The returned context carries it to
// the stages. On a nil t it returns ctx and the zero FrameSpan.
func (t *Tracer) StartFrame(ctx context.Context, f *stages.Frame, parents [][]byte) (context.Context, FrameSpan) {
	if t == nil {
		return ctx, FrameSpan{}
	}
	var parent trace.SpanContext
	var links []trace.Link
	for _, b := range parents {
		sc, ok := ParseTraceparent(b)
		if !ok {
			continue
		}
		if !parent.IsValid() || (!parent.IsSampled() && sc.IsSampled()) {
			if parent.IsValid() {
				links = appendLink(links, parent)
			}
			parent = sc
			continue
		}
		if !sc.Equal(parent) {
			links = appendLink(links, sc)
		}
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := t.tracer.Start(ctx, SpanFrame, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithAttributes(
			attribute.String(AttrLane, string(f.Lane)),
			attribute.Int(AttrPartition, int(f.Partition)),
			attribute.Int64(AttrFrameSeq, f.Seq),
			attribute.Int(AttrFrameFPS, f.FPS),
			attribute.Int(AttrFrameRecords, len(f.Records)),
			attribute.Bool(AttrFrameLate, f.Seq < 0),
			attribute.Bool(AttrReplay, f.Replay),
		))
	return ctx, FrameSpan{span: span}
}

func appendLink(links []trace.Link, sc trace.SpanContext) []trace.Link {
	if len(links) >= maxFrameLinks {
		return links
	}
	return append(links, trace.Link{SpanContext: sc})
}

// End records what the chain decided on f (and err, the chain's error)
// on the span, ends it and returns its traceparent for the frame's
// outputs; nil for the zero FrameSpan.
func (s FrameSpan) End(f *stages.Frame, err error) []byte {
	if s.span == nil {
		return nil
	}
	if s.span.IsRecording() {
		s.span.SetAttributes(FrameOutcomes(f)...)
		if err != nil {
			s.span.RecordError(err)
			s.span.SetStatus(codes.Error, err.Error())
		}
	}
	s.span.End()
	return AppendTraceparent(make([]byte, 0, traceparentLen), s.span.SpanContext())
}

// outcomeOrder lists the guardian's outcomes most severe first.
var outcomeOrder = []stages.Outcome{stages.OutcomeDeny, stages.OutcomeUncertain, stages.OutcomePending,
	stages.OutcomeExecuted, stages.OutcomeDryRun, stages.OutcomeAllow}

// FrameOutcomes are the attributes that say what the chain decided on f:
// records answered, failed and dropped; the guardian's decisions by
// outcome; the highest drift EMA and the drift alerts; breakthrough flags
// and the highest z; fold-guard circuit breaks and refused writes. They
// are read from the frame's annotations, so stages stay free of tracing.
func FrameOutcomes(f *stages.Frame) []attribute.KeyValue {
	var results, failed, dropped, refused int
	var outcomes [6]int
	var emaMax, zMax float64
	var hasEMA, hasZ bool
	for i := range f.Records {
		r := &f.Records[i]
		switch {
		case r.Failure != nil:
			failed++
		case r.Dropped:
			dropped++
		case r.Result != nil:
			results++
			for _, why := range r.Result.Reasons {
				if strings.HasPrefix(why, stages.StageFoldGuard+":") {
					refused++
					break
				}
			}
		}
		if r.Verdict != nil {
			for j, o := range outcomeOrder {
				if r.Verdict.Outcome == o {
					outcomes[j]++
				}
			}
		}
		if v, ok := r.Score(stages.ScoreDriftEMA); ok && (!hasEMA || v > emaMax) {
			emaMax, hasEMA = v, true
		}
		if v, ok := r.Score(stages.ScoreBreakthroughZ); ok && (!hasZ || v > zMax) {
			zMax, hasZ = v, true
		}
	}
	var alerts, flags, breaks int
	for i := range f.Events {
		switch f.Events[i].Kind {
		case schemas.EventDriftAlert:
			alerts++
		case schemas.EventBreakthrough:
			flags++
		case schemas.EventCircuitBreak:
			breaks++
		}
	}
	kv := []attribute.KeyValue{
		attribute.Int(AttrFrameResults, results),
		attribute.Int(AttrFrameFailed, failed),
		attribute.Int(AttrFrameDropped, dropped),
		attribute.Int(AttrDriftAlerts, alerts),
		attribute.Int(AttrBreakthroughs, flags),
		attribute.Int(AttrCircuitBreaks, breaks),
		attribute.Int(AttrFoldRefused, refused),
	}
	var seen []string
	for j, n := range outcomes {
		if n > 0 {
			seen = append(seen, string(outcomeOrder[j]))
			kv = append(kv, attribute.Int(AttrGuardianPrefix+string(outcomeOrder[j]), n))
		}
	}
	if seen != nil {
		kv = append(kv, attribute.StringSlice(AttrGuardianOutcomes, seen))
	}
	if hasEMA {
		kv = append(kv, attribute.Float64(AttrDriftEMAMax, emaMax))
	}
	if hasZ {
		kv = append(kv, attribute.Float64(AttrBreakthroughZMax, zMax))
	}
	return kv
}
