package observe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestTraceConfigFromEnv: the standard variables configure the endpoint
// (the traces endpoint as is, the base one with /v1/traces), the service
// name and the sampler; no endpoint, or OTEL_SDK_DISABLED, is tracing off;
// a bad value is a TraceConfigError naming the variable and what it takes.
func TestTraceConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		env                        map[string]string
		endpoint, service, sampler string
		errVar                     string
	}{
		{name: "nothing set: off", env: nil, service: ServiceLive, sampler: "parentbased_always_on"},
		{name: "base endpoint", env: map[string]string{EnvOTLPEndpoint: "http://collector:4318/"}, endpoint: "http://collector:4318/v1/traces", service: ServiceLive, sampler: "parentbased_always_on"},
		{name: "traces endpoint wins, as is", env: map[string]string{EnvOTLPEndpoint: "http://a:4318", EnvOTLPTracesEndpoint: "https://b:443/custom"}, endpoint: "https://b:443/custom", service: ServiceLive, sampler: "parentbased_always_on"},
		{name: "service and ratio sampler", env: map[string]string{EnvOTLPEndpoint: "http://a:4318", EnvServiceName: "lanes-eu", EnvTracesSampler: "parentbased_traceidratio", EnvTracesSamplerArg: "0.25"}, endpoint: "http://a:4318/v1/traces", service: "lanes-eu", sampler: "parentbased_traceidratio=0.25"},
		{name: "sdk disabled", env: map[string]string{EnvOTLPEndpoint: "http://a:4318", EnvSDKDisabled: "true"}, service: ServiceLive},
		{name: "unknown sampler", env: map[string]string{EnvOTLPEndpoint: "http://a:4318", EnvTracesSampler: "jaeger_remote"}, errVar: EnvTracesSampler},
		{name: "ratio out of range", env: map[string]string{EnvOTLPEndpoint: "http://a:4318", EnvTracesSampler: "traceidratio", EnvTracesSamplerArg: "1.5"}, errVar: EnvTracesSamplerArg},
		{name: "endpoint without scheme", env: map[string]string{EnvOTLPEndpoint: "collector:4318"}, errVar: EnvOTLPEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := TraceConfigFromEnv(envOf(tc.env), ServiceLive)
			if tc.errVar != "" {
				var ce *TraceConfigError
				if !errors.As(err, &ce) || ce.Var != tc.errVar || !errors.Is(err, ErrTraceConfig) || !strings.Contains(err.Error(), "want ") {
					t.Fatalf("err %v, want a TraceConfigError for %s", err, tc.errVar)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Endpoint != tc.endpoint || cfg.ServiceName != tc.service || cfg.SamplerName != tc.sampler {
				t.Fatalf("got endpoint %q service %q sampler %q; want %q %q %q", cfg.Endpoint, cfg.ServiceName, cfg.SamplerName, tc.endpoint, tc.service, tc.sampler)
			}
		})
	}
}

// TestTracerFromProcessEnvironment: the process's own environment (as
// `matriz run` reads it) turns tracing on and names the service; without
// the variables there is no tracer.
func TestTracerFromProcessEnvironment(t *testing.T) {
	t.Setenv(EnvOTLPEndpoint, "")
	t.Setenv(EnvOTLPTracesEndpoint, "")
	t.Setenv(EnvSDKDisabled, "")
	if tr, err := NewTracerFromEnv(context.Background(), os.Getenv, ServiceLive); err != nil || tr != nil {
		t.Fatalf("no endpoint: tracer %v err %v, want none", tr, err)
	}
	t.Setenv(EnvOTLPEndpoint, "http://127.0.0.1:1")
	t.Setenv(EnvServiceName, "matriz-eu")
	t.Setenv(EnvTracesSampler, "always_off")
	tr, err := NewTracerFromEnv(context.Background(), os.Getenv, ServiceReplay)
	if err != nil || tr == nil {
		t.Fatalf("tracer %v err %v", tr, err)
	}
	defer tr.provider.Shutdown(context.Background())
	if c := tr.Config(); c.Endpoint != "http://127.0.0.1:1/v1/traces" || c.ServiceName != "matriz-eu" || c.SamplerName != "always_off" {
		t.Fatalf("config %+v", c)
	}
	if _, span := tr.tracer.Start(context.Background(), "x"); span.IsRecording() {
		t.Fatal("always_off sampler records spans")
	}
}

// recordingTracer is a tracer whose spans end up in rec.
func recordingTracer(t *testing.T) (*Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tr, err := NewTracer(context.Background(), TraceConfig{Endpoint: "http://127.0.0.1:1/v1/traces"}, sdktrace.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.provider.Shutdown(context.Background()) })
	return tr, rec
}

func tp(trace, span byte, sampled bool) []byte {
	flags := "00"
	if sampled {
		flags = "01"
	}
	return fmt.Appendf(nil, "00-%032x-%016x-%s", []byte{trace}, []byte{span}, flags)
}

// TestTraceparentParseAndFormat: a valid value round-trips; malformed,
// uppercase, version ff and all-zero ids are refused.
func TestTraceparentParseAndFormat(t *testing.T) {
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc, ok := ParseTraceparent([]byte(in))
	if !ok || !sc.IsSampled() || !sc.IsRemote() {
		t.Fatalf("parse %q: %v %v", in, sc, ok)
	}
	if got := string(AppendTraceparent(nil, sc)); got != in {
		t.Fatalf("format: %q, want %q", got, in)
	}
	if sc, ok := ParseTraceparent([]byte("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future")); !ok || sc.IsSampled() {
		t.Fatalf("a later version's value is read by its first fields: %v %v", sc, ok)
	}
	for _, bad := range []string{"", "garbage", in[:54], in + "x",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"} {
		if _, ok := ParseTraceparent([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFrameSpanParentLinksAndStages: the frame span is the child of the
// first sampled input (not the first input), links to the other valid
// inputs, skips malformed ones; a wrapped stage's span is its child; a
// stage run outside a frame span makes none; End returns the frame span's
// traceparent.
func TestFrameSpanParentLinksAndStages(t *testing.T) {
	tr, rec := recordingTracer(t)
	f := &stages.Frame{Lane: schemas.LaneProd, Partition: 3, Seq: 42, FPS: 30, Records: make([]stages.Record, 5)}
	parents := [][]byte{nil, tp(1, 1, false), tp(2, 2, true), []byte("bad"), tp(3, 3, true)}
	ctx, fs := tr.StartFrame(context.Background(), f, parents)
	st := Wrap(schemas.LaneProd, namedStage("route"), nil, clock.Real{}, WrapTracer(tr))
	if err := st.Process(ctx, f); err != nil {
		t.Fatal(err)
	}
	out := fs.End(f, nil)
	if err := st.Process(context.Background(), f); err != nil { // no frame span: no stage span
		t.Fatal(err)
	}
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2 (stage, frame)", len(ended))
	}
	stage, frame := ended[0], ended[1]
	if frame.Name() != SpanFrame || stage.Name() != SpanStagePrefix+"route" {
		t.Fatalf("span names %q, %q", frame.Name(), stage.Name())
	}
	want, _ := ParseTraceparent(tp(2, 2, true))
	if frame.Parent().TraceID() != want.TraceID() || frame.Parent().SpanID() != want.SpanID() {
		t.Fatalf("frame parent %v, want the first sampled input %v", frame.Parent(), want)
	}
	var linked []trace.SpanID
	for _, l := range frame.Links() {
		linked = append(linked, l.SpanContext.SpanID())
	}
	a, _ := ParseTraceparent(tp(1, 1, false))
	c, _ := ParseTraceparent(tp(3, 3, true))
	if len(linked) != 2 || linked[0] != a.SpanID() || linked[1] != c.SpanID() {
		t.Fatalf("links %v, want the two other valid inputs", linked)
	}
	if stage.Parent().SpanID() != frame.SpanContext().SpanID() || stage.SpanContext().TraceID() != want.TraceID() {
		t.Fatalf("stage span's parent %v, want the frame span %v", stage.Parent(), frame.SpanContext())
	}
	if got, w := string(out), string(AppendTraceparent(nil, frame.SpanContext())); got != w {
		t.Fatalf("End returned %q, want the frame span's %q", got, w)
	}
	attrs := attribute.NewSet(frame.Attributes()...)
	if v, _ := attrs.Value(AttrPartition); v.AsInt64() != 3 {
		t.Fatalf("partition attribute %v", v)
	}
}

// TestFrameSpanLinksBounded: a frame of many traced inputs links to at
// most maxFrameLinks of them.
func TestFrameSpanLinksBounded(t *testing.T) {
	tr, rec := recordingTracer(t)
	var parents [][]byte
	for i := range 300 {
		parents = append(parents, fmt.Appendf(nil, "00-%032x-%016x-01", i+1, i+1))
	}
	f := &stages.Frame{Lane: schemas.LaneProd}
	_, fs := tr.StartFrame(context.Background(), f, parents)
	fs.End(f, errors.New("boom"))
	s := rec.Ended()[0]
	if len(s.Links()) != maxFrameLinks {
		t.Fatalf("%d links, want %d", len(s.Links()), maxFrameLinks)
	}
	if s.Status().Code.String() != "Error" || s.Status().Description != "boom" {
		t.Fatalf("a chain error is the span's status: %v", s.Status())
	}
}

// TestNilTracerIsOff: tracing off costs nothing and changes nothing: no
// span, the chain's own context, no traceparent, Wrap without metrics
// returns the stage itself.
func TestNilTracerIsOff(t *testing.T) {
	var tr *Tracer
	ctx := context.Background()
	got, fs := tr.StartFrame(ctx, &stages.Frame{}, [][]byte{tp(1, 1, true)})
	if got != ctx || fs.End(&stages.Frame{}, nil) != nil || tr.Shutdown() != nil {
		t.Fatal("a nil tracer did something")
	}
	st := namedStage("route")
	if Wrap(schemas.LaneProd, st, nil, clock.Real{}, WrapTracer(nil)) != stages.Stage(st) {
		t.Fatal("Wrap with no metrics and no tracer decorated the stage")
	}
}

// TestFrameOutcomes: the guardian's decisions by outcome (most severe
// first), the highest drift EMA and breakthrough z, drift alerts,
// breakthrough flags, circuit breaks and fold-guard refusals are read off
// the frame's annotations.
func TestFrameOutcomes(t *testing.T) {
	rec := func(o stages.Outcome, ema float64, reasons ...string) stages.Record {
		r := stages.Record{Result: &schemas.MatrizResult{Reasons: reasons}, Verdict: &stages.Verdict{Outcome: o}}
		r.SetScore(stages.ScoreDriftEMA, ema)
		return r
	}
	f := &stages.Frame{
		Records: []stages.Record{
			rec(stages.OutcomeAllow, 0.1), rec(stages.OutcomeDeny, 0.4, "fold-guard: frame budget 4 exhausted"),
			rec(stages.OutcomeAllow, 0.2), {Failure: &stages.Failure{Stage: "decode"}}, {Dropped: true},
		},
		Events: []schemas.Event{{Kind: schemas.EventDriftAlert}, {Kind: schemas.EventCircuitBreak}, {Kind: schemas.EventBreakthrough}, {Kind: schemas.EventBreakthrough}},
	}
	f.Records[2].SetScore(stages.ScoreBreakthroughZ, 3.5)
	s := attribute.NewSet(FrameOutcomes(f)...)
	ints := map[string]int64{AttrFrameResults: 3, AttrFrameFailed: 1, AttrFrameDropped: 1, AttrGuardianPrefix + "allow": 2, AttrGuardianPrefix + "deny": 1,
		AttrDriftAlerts: 1, AttrCircuitBreaks: 1, AttrBreakthroughs: 2, AttrFoldRefused: 1}
	for k, want := range ints {
		if v, ok := s.Value(attribute.Key(k)); !ok || v.AsInt64() != want {
			t.Errorf("%s = %v (%v), want %d", k, v.AsInterface(), ok, want)
		}
	}
	if v, _ := s.Value(AttrGuardianOutcomes); fmt.Sprint(v.AsStringSlice()) != "[deny allow]" {
		t.Errorf("outcomes %v, want [deny allow]", v.AsStringSlice())
	}
	if v, _ := s.Value(AttrDriftEMAMax); v.AsFloat64() != 0.4 {
		t.Errorf("drift EMA max %v", v.AsFloat64())
	}
	if v, _ := s.Value(AttrBreakthroughZMax); v.AsFloat64() != 3.5 {
		t.Errorf("breakthrough z max %v", v.AsFloat64())
	}
	if _, ok := s.Value(AttrGuardianPrefix + "pending"); ok {
		t.Error("an outcome no record got is an attribute")
	}
}

// namedStage is a stage that does nothing, named by its value.
type namedStage string

func (s namedStage) Name() string                                     { return string(s) }
func (namedStage) Process(ctx context.Context, f *stages.Frame) error { return nil }
