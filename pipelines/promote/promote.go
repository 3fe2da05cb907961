package promote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

// The plan's thresholds (§15). They are not configurable: a gate a
// configuration could loosen would be a gate a flag could skip.
const (
	MinTicks    = 10_000
	MaxDriftEMA = 0.20
)

// Gate names, in the order the report lists them.
const (
	GateTicks      = "ticks"
	GateDrift      = "drift EMA"
	GateInterlocks = "guardian interlocks"
	GateTickP95    = "tick p95"
	GateRegression = "capability regression"
	GateCoverage   = "CI coverage"
	GateBench      = "CI bench ratios"
)

// Config is one promotion check.
type Config struct {
	From, To    schemas.Lane
	Brokers     []string
	RegistryURL string
	// Spec is the pipeline spec being promoted: From's lane runs it, and
	// its To lane's stage parameters are what From's log is replayed under.
	Spec *spec.Spec
	// SpecBytes is the spec file's content, whose hash names the version
	// the promotion event records (nil: the embedded default).
	SpecBytes []byte
	// Group is the source lane's consumer group (default matriz-<lane>, as
	// `matriz run` joins it): the regression replay stops at its committed
	// offsets.
	Group string
	// Since starts the window (zero: the whole retained log).
	Since time.Time
	// AllowList is the expected decision changes (ParseAllowList).
	AllowList AllowList
	// CIReport is the path of the last CI run's gate report.
	CIReport string
	// Who promotes: recorded on the promotion event.
	Who    string
	Getenv func(string) string
	Clock  clock.Clock
	Logger *slog.Logger
}

// ConfigError is a Config that cannot run.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return e.Field + ": " + e.Reason }

func (c *Config) validate() error {
	switch {
	case !c.From.Valid():
		return &ConfigError{"--from", fmt.Sprintf("%q is not a lane; want one of %s", c.From, schemas.LaneNames)}
	case !c.To.Valid():
		return &ConfigError{"--to", fmt.Sprintf("%q is not a lane; want one of %s", c.To, schemas.LaneNames)}
	case c.From == c.To:
		return &ConfigError{"--to", fmt.Sprintf("promoting %s to itself; name the next lane (experimental → candidate → prod)", c.From)}
	case c.Spec == nil || c.Spec.Lanes[c.From] == nil || c.Spec.Lanes[c.To] == nil:
		return &ConfigError{"--pipeline", fmt.Sprintf("the spec must define lanes %s and %s", c.From, c.To)}
	case len(c.Brokers) == 0:
		return &ConfigError{"--brokers", "no broker given"}
	case c.Who == "":
		return &ConfigError{"--who", "say who promotes (the event records it)"}
	}
	return nil
}

// Gate is one gate's verdict.
type Gate struct {
	Name      string `json:"gate"`
	Threshold string `json:"threshold"`
	Measured  string `json:"measured"`
	Pass      bool   `json:"pass"`
	// Value is the figure the gate compares, for the promotion event.
	Value float64 `json:"value"`
}

// Report is one promotion check's outcome.
type Report struct {
	From  schemas.Lane `json:"from"`
	To    schemas.Lane `json:"to"`
	Since time.Time    `json:"-"`
	// SinceText is Since in RFC 3339, empty for the whole retained log.
	SinceText   string `json:"since,omitempty"`
	SpecVersion string `json:"spec_version"`
	Gates       []Gate `json:"gates"`
	// Event is the promotion event's id when every gate passed and it was
	// written.
	Event string `json:"promotion_event,omitempty"`
}

// Passed reports whether every gate passed.
func (r *Report) Passed() bool {
	for _, g := range r.Gates {
		if !g.Pass {
			return false
		}
	}
	return len(r.Gates) > 0
}

// Failed lists the names of the gates that did not pass.
func (r *Report) Failed() []string {
	var out []string
	for _, g := range r.Gates {
		if !g.Pass {
			out = append(out, g.Name)
		}
	}
	return out
}

// ErrGatesFailed is what Run returns with its report when a gate failed.
var ErrGatesFailed = errors.New("promotion refused")

// GatesFailedError names the gates that did not pass.
type GatesFailedError struct {
	From, To schemas.Lane
	Failed   []string
}

func (e *GatesFailedError) Error() string {
	return fmt.Sprintf("promotion of %s to %s refused: %d gate(s) not met: %v", e.From, e.To, len(e.Failed), e.Failed)
}

// Unwrap makes errors.Is(err, ErrGatesFailed) hold.
func (e *GatesFailedError) Unwrap() error { return ErrGatesFailed }

// Run computes every gate and, when all pass, writes the promotion event.
// A gate that fails gives the report and a *GatesFailedError; a gate that
// cannot be computed (a broker down, a topic missing) gives an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rep := &Report{From: cfg.From, To: cfg.To, Since: cfg.Since, SpecVersion: SpecVersion(cfg.Spec, cfg.SpecBytes)}
	if !cfg.Since.IsZero() {
		rep.SinceText = cfg.Since.UTC().Format(time.RFC3339Nano)
	}

	lg, err := readLaneLog(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lane := cfg.Spec.Lanes[cfg.From]
	rep.Gates = append(rep.Gates, lg.ticksGate(), lg.driftGate(lane.Drift.Alpha), lg.interlockGate(), lg.tickRateGate(lane.Tick))

	reg, err := regressionGate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rep.Gates = append(rep.Gates, reg)
	rep.Gates = append(rep.Gates, ciGates(cfg.CIReport)...)

	if !rep.Passed() {
		return rep, &GatesFailedError{From: cfg.From, To: cfg.To, Failed: rep.Failed()}
	}
	id, err := writePromotion(ctx, cfg, rep)
	if err != nil {
		return rep, err
	}
	rep.Event = id
	return rep, nil
}

// SpecVersion names a spec: its version field and the first 12 hex digits
// of the SHA-256 of its file (the embedded spec's when data is nil).
func SpecVersion(s *spec.Spec, data []byte) string {
	if data == nil {
		data = spec.DefaultYAML()
	}
	sum := sha256.Sum256(data)
	return fmt.Sprintf("v%d-%s", s.Version, hex.EncodeToString(sum[:])[:12])
}
