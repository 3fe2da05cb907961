package topics

import (
	"fmt"
	"math"
	"time"

	"github.com/matriz/pipelines/clock"
)

// Source fetch defaults, measured with BenchmarkSource (100k 200-byte
// records over 6 partitions on the embedded broker; figures in
// bench_test.go). kafka-go's own defaults (MaxBytes 1 MB, MaxWait 10 s,
// QueueCapacity 100) are tuned for neither throughput nor latency: a quiet
// partition holds a fetch for 10 s, and 100 queued records drain faster
// than a fetch round trip refills them.
const (
	DefaultSourceMinBytes       = 1
	DefaultSourceMaxBytes       = 10 << 20 // per fetch
	DefaultSourceMaxWait        = 50 * time.Millisecond
	DefaultSourceQueueCapacity  = 2000
	DefaultSourceCommitInterval = 500 * time.Millisecond
	DefaultSourceDrainTimeout   = 10 * time.Second
)

type sourceConfig struct {
	minBytes       int
	maxBytes       int
	maxWait        time.Duration
	queueCapacity  int
	commitInterval time.Duration
	drainTimeout   time.Duration
	dialTimeout    time.Duration
	commitTimeout  time.Duration
	startLatest    bool
	clock          clock.Clock
	onError        func(error)
}

// SourceOption configures a Source.
type SourceOption func(*sourceConfig)

// SourceMinBytes is the least a fetch waits for (up to MaxWait) before the
// broker answers, overriding 1 (answer as soon as anything is there).
func SourceMinBytes(n int) SourceOption { return func(c *sourceConfig) { c.minBytes = n } }

// SourceMaxBytes caps one fetch response, overriding 10 MiB.
func SourceMaxBytes(n int) SourceOption { return func(c *sourceConfig) { c.maxBytes = n } }

// SourceMaxWait is how long the broker may hold a fetch waiting for
// MinBytes, overriding 50ms: it bounds the latency a quiet partition adds.
func SourceMaxWait(d time.Duration) SourceOption { return func(c *sourceConfig) { c.maxWait = d } }

// SourceQueueCapacity is how many fetched records kafka-go buffers ahead
// of the consumer, overriding 2000.
func SourceQueueCapacity(n int) SourceOption {
	return func(c *sourceConfig) { c.queueCapacity = n }
}

// SourceCommitInterval is how often acked offsets are committed,
// overriding 500ms. Shorter means fewer duplicates after a crash; each
// commit is one request to the group coordinator.
func SourceCommitInterval(d time.Duration) SourceOption {
	return func(c *sourceConfig) { c.commitInterval = d }
}

// SourceDrainTimeout bounds how long Close waits for emitted records to be
// acked before its final commit, overriding 10s. What is still unacked is
// not committed and will be delivered again.
func SourceDrainTimeout(d time.Duration) SourceOption {
	return func(c *sourceConfig) { c.drainTimeout = d }
}

// SourceDialTimeout bounds each TCP dial, overriding 3s.
func SourceDialTimeout(d time.Duration) SourceOption {
	return func(c *sourceConfig) { c.dialTimeout = d }
}

// SourceStartLatest makes a group with no committed offset start at the
// end of each partition instead of the beginning. Committed offsets always
// win.
func SourceStartLatest() SourceOption { return func(c *sourceConfig) { c.startLatest = true } }

// SourceClock sets the clock for the commit interval, retry backoff and
// drain timeout, overriding the wall clock.
func SourceClock(cl clock.Clock) SourceOption { return func(c *sourceConfig) { c.clock = cl } }

// SourceOnError receives every error the Source sees: fetch and commit
// errors, kafka-go's logged errors, and each failed Ack (*AckError). It is
// called from the Source's goroutines and must not block.
func SourceOnError(fn func(error)) SourceOption { return func(c *sourceConfig) { c.onError = fn } }

func defaultSourceConfig() sourceConfig {
	return sourceConfig{
		minBytes:       DefaultSourceMinBytes,
		maxBytes:       DefaultSourceMaxBytes,
		maxWait:        DefaultSourceMaxWait,
		queueCapacity:  DefaultSourceQueueCapacity,
		commitInterval: DefaultSourceCommitInterval,
		drainTimeout:   DefaultSourceDrainTimeout,
		dialTimeout:    defaultDialTimeout,
		commitTimeout:  10 * time.Second,
		clock:          clock.Real{},
	}
}

func (c sourceConfig) validate() error {
	bad := func(opt, format string, args ...any) error {
		return &ConfigError{Component: "source", Option: opt, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.minBytes < 1:
		return bad("min bytes", "%d, want at least 1", c.minBytes)
	case c.maxBytes < c.minBytes || c.maxBytes > math.MaxInt32:
		return bad("max bytes", "%d, want between min bytes (%d) and %d", c.maxBytes, c.minBytes, math.MaxInt32)
	case c.maxWait < time.Millisecond:
		return bad("max wait", "%v, want at least 1ms", c.maxWait)
	case c.queueCapacity < 1:
		return bad("queue capacity", "%d, want at least 1", c.queueCapacity)
	case c.commitInterval <= 0:
		return bad("commit interval", "%v, want > 0", c.commitInterval)
	case c.drainTimeout < 0:
		return bad("drain timeout", "%v, want ≥ 0", c.drainTimeout)
	case c.dialTimeout <= 0:
		return bad("dial timeout", "%v, want > 0", c.dialTimeout)
	case c.clock == nil:
		return bad("clock", "nil")
	}
	return nil
}
