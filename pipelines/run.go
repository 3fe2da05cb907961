// Package pipelines is the composition root of MATRIZ pipelines: it wires
// the packages below it into the jobs the CLI runs — one lane (RunLane) and
// the whole system on the embedded broker (Dev) — and names the few
// ground-floor types the CLI speaks of, so cmd/matriz imports nothing but
// pipelines and its subpackages.
//
// The packages below, one job each:
//
//	spec       the pipeline spec: parse, validate by building every lane dry
//	operators  the tick, the decimation ring and the idle watermark
//	runtime    a lane as a consumer-group member: partition workers, outputs, changelog, flags
//	observe    metrics, the per-stage wrapper, status line, HTTP
//	ops        deploy, actions and approvals, flags and kill switches, the schema tool
//	serde      the registry client, lane subjects and the wire format
//	devstack   the embedded broker and registry, the synthetic producer and scenario
//	replay     replay, replay diff, offsets, events and goals from the log
//	promote    the promotion gates
//	bench      `matriz bench`
package pipelines

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// Security is how this process authenticates to Kafka and encrypts its
// connections; UseSecurity sets it for every client the process makes.
type Security = topics.Security

// RegistryAuth is how this process authenticates to the schema registry;
// UseRegistryAuth sets it for every registry client the process makes.
type RegistryAuth = serde.RegistryAuth

// UseSecurity makes s what every Kafka client of this process uses.
func UseSecurity(s Security) error { return topics.UseSecurity(s) }

// CurrentSecurity returns the Kafka security this process uses.
func CurrentSecurity() Security { return topics.CurrentSecurity() }

// UseRegistryAuth makes a what every registry request of this process
// carries.
func UseRegistryAuth(a RegistryAuth) { serde.UseRegistryAuth(a) }

// TLSConfig builds a client TLS config from PEM files (see
// topics.TLSConfig).
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	return topics.TLSConfig(caFile, certFile, keyFile)
}

// Lane is one of the three lanes: experimental, candidate, prod.
type Lane = schemas.Lane

// SchemaVersion is a MatrizMessage schema version a lane reads with.
type SchemaVersion = schemas.Version

// AllLanes returns the three lanes, experimental first.
func AllLanes() []Lane { return append([]Lane(nil), schemas.Lanes...) }

// ResolveLane returns the lane a flag names or, when the flag is empty,
// the one LUKHAS_LANE names, or experimental when neither names one.
func ResolveLane(flag string, getenv func(string) string) (Lane, error) {
	return stages.ResolveLane(flag, getenv)
}

// ResolveLaneSource is ResolveLane that also says where the lane came
// from: LaneFromConfig, LaneFromEnv or LaneFromDefault.
func ResolveLaneSource(flag string, getenv func(string) string) (Lane, string, error) {
	return stages.ResolveLaneSource(flag, getenv)
}

// Where a resolved lane came from.
const (
	LaneFromConfig  = stages.LaneFromConfig
	LaneFromEnv     = stages.LaneFromEnv
	LaneFromDefault = stages.LaneFromDefault
)

// ParseLanes reads a comma-separated list of lanes.
func ParseLanes(list string) ([]Lane, error) { return schemas.ParseLanes(list) }

// ParseSchemaVersion reads a MatrizMessage schema version a lane can read
// with: v1, v2 or latest. A version the binary does not hold (v3) is an
// error naming the ones it does, so `matriz run` refuses it before it
// joins a group rather than failing on every record it fetches.
func ParseSchemaVersion(s string) (SchemaVersion, error) {
	v, err := schemas.ParseVersion(s)
	if err != nil {
		return 0, err
	}
	if _, err := schemas.SchemaOf(schemas.NameMessage, v); err != nil {
		return 0, err
	}
	return v, nil
}

// RunLaneConfig is `matriz run`: one lane as a consumer-group member, with
// metrics over HTTP and a status line.
type RunLaneConfig struct {
	runtime.Config
	HTTPAddr    string        // the live page, /metrics, /healthz and /readyz; empty serves none
	StatusEvery time.Duration // status line interval; 0 prints none
	Out         io.Writer     // the joined and stopped lines, and the status line
}

// RunLane runs one lane until ctx ends and it has finished its open
// frames, committed and left the group.
func RunLane(ctx context.Context, cfg RunLaneConfig) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Spec == nil {
		s, err := spec.Default()
		if err != nil {
			return err
		}
		cfg.Spec = s
	}
	if cfg.Tracer == nil {
		// Tracing (off without OTEL_EXPORTER_OTLP_ENDPOINT), flushed once
		// the lane stopped; a variable it cannot use stops the command
		// before anything is served or joined.
		tr, err := observe.NewTracerFromEnv(ctx, cfg.Getenv, observe.ServiceLive)
		if err != nil {
			return err
		}
		defer flushTraces(tr, cfg.Logger)
		cfg.Tracer = tr
	}
	reg := observe.NewProcessRegistry()
	metrics, err := observe.NewMetrics(reg)
	if err != nil {
		return err
	}
	if cfg.Readiness == nil {
		cfg.Readiness = runtime.NewReadiness()
	}
	counters := &observe.LaneCounters{}
	if cfg.HTTPAddr != "" {
		page := observe.NewPage(observe.PageConfig{Lanes: []Lane{cfg.Lane}, Gatherer: reg, Counters: func(Lane) *observe.LaneCounters { return counters }, Clock: cfg.Clock})
		srv, err := observe.StartHTTP(cfg.HTTPAddr, reg, func() error { return nil }, cfg.Readiness.Err, observe.WithPage(page))
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	run := cfg.Config
	run.Metrics, run.Counters = metrics, counters
	ready := make(chan struct{})
	run.Ready = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, run) }()
	select {
	case err := <-done:
		return err
	case <-ready:
	}
	fmt.Fprintf(cfg.Out, "matriz run: lane %s joined group %s on %s\n", run.Lane, runtime.GroupName(run.Group, run.Lane), strings.Join(run.Brokers, ","))
	var tick <-chan time.Time
	if cfg.StatusEvery > 0 {
		tk := cfg.Clock.NewTicker(cfg.StatusEvery)
		defer tk.Stop()
		tick = tk.C()
	}
	line := observe.NewStatusLine(cfg.Out, []Lane{run.Lane}, func(Lane) *observe.LaneCounters { return counters }, nil)
	for {
		select {
		case err := <-done:
			if err == nil {
				fmt.Fprintf(cfg.Out, "matriz run: lane %s stopped: offsets committed, group left\n", run.Lane)
			}
			return err
		case now := <-tick:
			line.Print(now)
		}
	}
}

// flushTraces sends the spans still batched, bounded by
// observe.ShutdownTimeout; a collector that does not take them is logged,
// not fatal: the lane's work is done and committed.
func flushTraces(t *observe.Tracer, log *slog.Logger) {
	if err := t.Shutdown(); err != nil {
		log.Warn("tracing", "err", err)
	}
}
