package registry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/matriz/pipelines/clock"
)

// Option configures a Registry.
type Option func(*config)

type config struct {
	defaultLevel    Level
	logger          *slog.Logger
	maxRequestBytes int64
	writeTimeout    time.Duration
	limits          Limits
	instance        string
	readOnly        bool
	clock           clock.Clock
	followEvery     time.Duration
}

func defaultConfig() config {
	return config{
		defaultLevel:    LevelBackward,
		logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		maxRequestBytes: 4 << 20,
		writeTimeout:    30 * time.Second,
		limits:          DefaultLimits,
		clock:           clock.Real{},
		followEvery:     time.Second,
	}
}

// ErrConfig is wrapped by every error New or NewLogStore returns for a bad
// argument or option.
var ErrConfig = errors.New("registry: invalid configuration")

func (c *config) validate() error {
	if !c.defaultLevel.valid() {
		return fmt.Errorf("%w: default compatibility level %q: valid values are %v", ErrConfig, string(c.defaultLevel), Levels)
	}
	if c.logger == nil {
		return fmt.Errorf("%w: logger is nil", ErrConfig)
	}
	if c.maxRequestBytes < 1 {
		return fmt.Errorf("%w: max request bytes %d must be positive", ErrConfig, c.maxRequestBytes)
	}
	if c.writeTimeout <= 0 {
		return fmt.Errorf("%w: write timeout %v must be positive", ErrConfig, c.writeTimeout)
	}
	if c.clock == nil {
		return fmt.Errorf("%w: clock is nil", ErrConfig)
	}
	if c.followEvery < 0 {
		return fmt.Errorf("%w: follow interval %v must not be negative", ErrConfig, c.followEvery)
	}
	return c.limits.validate()
}

// WithDefaultLevel sets the compatibility level used while no global level
// was set through PUT /config. Default BACKWARD, as Confluent's.
func WithDefaultLevel(l Level) Option { return func(c *config) { c.defaultLevel = l } }

// WithLogger sets where the registry logs storage failures. Default:
// nowhere.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxRequestBytes bounds a request body, so one request cannot make the
// registry buffer without limit. Default 4 MiB.
func WithMaxRequestBytes(n int64) Option { return func(c *config) { c.maxRequestBytes = n } }

// WithWriteTimeout bounds one write to the store. A write is not cancelled
// when its HTTP client goes away: a half-done write would leave the caller
// unsure whether it happened. Default 30 s.
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }
