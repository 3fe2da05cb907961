package observe

// This file is the lane's OpenTelemetry tracer: one per process, configured
// only by the standard OTEL_* environment variables, off (nil, and no
// tracing code on the hot path) when no OTLP endpoint is set.
//
// Use: NewTracerFromEnv(ctx, getenv, ServiceLive) in `matriz run` and
// `matriz dev` (ServiceReplay in a replay), hand the *Tracer to the runtime
// (runtime.Config.Tracer), and Shutdown it when the lanes stopped: that
// flushes the spans still batched, bounded by ShutdownTimeout.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Service names a tracer reports under when OTEL_SERVICE_NAME is unset: a
// replay's spans are kept apart from the live lanes' by default.
const (
	ServiceLive   = "matriz"
	ServiceReplay = "matriz-replay"
)

// ShutdownTimeout bounds flushing the batched spans at shutdown.
const ShutdownTimeout = 5 * time.Second

// The environment variables a tracer reads (the OpenTelemetry standard).
const (
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvTracesSampler      = "OTEL_TRACES_SAMPLER"
	EnvTracesSamplerArg   = "OTEL_TRACES_SAMPLER_ARG"
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
)

// ErrTraceConfig is wrapped by every refusal of a tracing setting.
var ErrTraceConfig = errors.New("tracing configuration")

// TraceConfigError is a tracing environment variable whose value is
// refused: which one, its value, and what it takes.
type TraceConfigError struct {
	Var, Value, Want string
}

func (e *TraceConfigError) Error() string {
	return fmt.Sprintf("%s=%q: want %s", e.Var, e.Value, e.Want)
}

// Unwrap makes a TraceConfigError match ErrTraceConfig.
func (e *TraceConfigError) Unwrap() error { return ErrTraceConfig }

// TraceConfig is a tracer's settings, as read from the environment.
type TraceConfig struct {
	// Endpoint is the OTLP/HTTP traces URL spans are posted to; empty
	// turns tracing off.
	Endpoint    string
	ServiceName string
	Sampler     sdktrace.Sampler // nil: parent-based, always on (the SDK's default)
	SamplerName string           // what Sampler was read from, for the log
}

// TraceConfigFromEnv reads the tracing settings: the traces endpoint
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT
// with /v1/traces appended, as the OTLP/HTTP specification says), the
// service name (OTEL_SERVICE_NAME, else service) and the sampler
// (OTEL_TRACES_SAMPLER and its _ARG). OTEL_SDK_DISABLED=true turns tracing
// off whatever the endpoint.
func TraceConfigFromEnv(getenv func(string) string, service string) (TraceConfig, error) {
	cfg := TraceConfig{ServiceName: service}
	if getenv == nil {
		return cfg, nil
	}
	if v := strings.TrimSpace(getenv(EnvSDKDisabled)); strings.EqualFold(v, "true") {
		return cfg, nil
	}
	if v := strings.TrimSpace(getenv(EnvServiceName)); v != "" {
		cfg.ServiceName = v
	}
	if v := strings.TrimSpace(getenv(EnvOTLPTracesEndpoint)); v != "" {
		if err := checkEndpoint(EnvOTLPTracesEndpoint, v); err != nil {
			return cfg, err
		}
		cfg.Endpoint = v
	} else if v := strings.TrimSpace(getenv(EnvOTLPEndpoint)); v != "" {
		if err := checkEndpoint(EnvOTLPEndpoint, v); err != nil {
			return cfg, err
		}
		cfg.Endpoint = strings.TrimRight(v, "/") + "/v1/traces"
	}
	var err error
	cfg.Sampler, cfg.SamplerName, err = samplerFromEnv(getenv)
	return cfg, err
}

func checkEndpoint(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &TraceConfigError{Var: name, Value: v, Want: "an http:// or https:// URL with a host, e.g. http://collector:4318"}
	}
	return nil
}

// samplers are the OTEL_TRACES_SAMPLER values a tracer takes.
const samplers = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"

func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, string, error) {
	name := strings.ToLower(strings.TrimSpace(getenv(EnvTracesSampler)))
	ratio := func() (float64, error) {
		arg := strings.TrimSpace(getenv(EnvTracesSamplerArg))
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, &TraceConfigError{Var: EnvTracesSamplerArg, Value: arg, Want: "a ratio in [0, 1] for " + name}
		}
		return r, nil
	}
	switch name {
	case "":
		return nil, "parentbased_always_on", nil
	case "always_on":
		return sdktrace.AlwaysSample(), name, nil
	case "always_off":
		return sdktrace.NeverSample(), name, nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), name, nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name, nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, name, err
		}
		s := sdktrace.TraceIDRatioBased(r)
		if name == "parentbased_traceidratio" {
			s = sdktrace.ParentBased(s)
		}
		return s, name + "=" + strconv.FormatFloat(r, 'g', -1, 64), nil
	}
	return nil, name, &TraceConfigError{Var: EnvTracesSampler, Value: name, Want: samplers}
}

// Tracer makes the spans of a process's lanes. A nil *Tracer is tracing
// off: every method is safe on it and does nothing.
type Tracer struct {
	tracer   trace.Tracer
	provider *sdktrace.TracerProvider
	cfg      TraceConfig
}

// NewTracerFromEnv returns the tracer the environment configures
// (TraceConfigFromEnv with service as the default service name), or nil
// when it configures none.
func NewTracerFromEnv(ctx context.Context, getenv func(string) string, service string) (*Tracer, error) {
	cfg, err := TraceConfigFromEnv(getenv, service)
	if err != nil {
		return nil, err
	}
	return NewTracer(ctx, cfg)
}

// NewTracer returns a tracer exporting to cfg.Endpoint over OTLP/HTTP in
// batches, or nil when cfg.Endpoint is empty. The exporter's other
// settings (headers, timeout, compression) follow the OTEL_EXPORTER_OTLP_*
// variables, as the exporter reads them.
func NewTracer(ctx context.Context, cfg TraceConfig, opts ...sdktrace.TracerProviderOption) (*Tracer, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = ServiceLive
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("%w: OTLP exporter to %s: %w", ErrTraceConfig, cfg.Endpoint, err)
	}
	all := []sdktrace.TracerProviderOption{
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))),
	}
	if cfg.Sampler != nil {
		all = append(all, sdktrace.WithSampler(cfg.Sampler))
	}
	tp := sdktrace.NewTracerProvider(append(all, opts...)...)
	return &Tracer{tracer: tp.Tracer("github.com/matriz/pipelines"), provider: tp, cfg: cfg}, nil
}

// Config returns the settings t was made with (zero for a nil t).
func (t *Tracer) Config() TraceConfig {
	if t == nil {
		return TraceConfig{}
	}
	return t.cfg
}

// Shutdown flushes the spans still batched and stops the exporter, within
// ShutdownTimeout.
func (t *Tracer) Shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces to %s: %w", t.cfg.Endpoint, err)
	}
	return nil
}
