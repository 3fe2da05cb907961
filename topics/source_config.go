package topics

import (
	"fmt"
	"math"
	"time"

	"github.com/matriz/pipelines/clock"
)

// Source fetch defaults, measured with BenchmarkSource and
// BenchmarkSourceLatency (100k 200-byte records over 6 partitions on the
// embedded broker, a 2-core machine shared with other work, so read the
// ranges, not single figures):
//
//   - Bulk read: 270k-575k msgs/s with these defaults, 350k-460k with
//     kafka-go's (MaxBytes 1 MB, MaxWait 10 s, QueueCapacity 100): the
//     in-process broker is the bottleneck and no fetch setting moved it
//     beyond the noise. MaxBytes 10 MiB costs 50% more allocation (bigger
//     fetch buffers) for no gain; MinBytes above 1 only adds latency to a
//     quiet stream.
//   - Latency through a caught-up Source: ~1.5 ms per record at any
//     MaxWait, because with MinBytes 1 the broker answers a held fetch as
//     soon as a record lands.
//   - What MaxWait does cost: kafka-go's Reader.Close, and every
//     rebalance, waits for the held fetch to come back. The broker holds it
//     for MaxWait minus min(1 s, MaxWait/4), and kafka-go's read deadline
//     is MaxWait: Close took 9.0 s with kafka-go's 10 s default, 0.375 s
//     with 500 ms (Java's fetch.max.wait.ms default), 75 ms with 100 ms.
//     Below ~500 ms the deadline margin (MaxWait/4) gets thin enough that a
//     loaded machine sees spurious "i/o timeout" fetch errors (kafka-go
//     reconnects; they reach SourceOnError).
const (
	DefaultSourceMinBytes       = 1
	DefaultSourceMaxBytes       = 1 << 20 // per fetch
	DefaultSourceMaxWait        = 500 * time.Millisecond
	DefaultSourceQueueCapacity  = 2000
	DefaultSourceCommitInterval = 500 * time.Millisecond
	DefaultSourceDrainTimeout   = 10 * time.Second
	// DefaultSourceHeartbeat: a member learns of a rebalance from its next
	// heartbeat, so this bounds how long a joining member waits for its
	// first record (3.0 s measured with kafka-go's and Java's 3 s default).
	DefaultSourceHeartbeat = time.Second
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
	heartbeat      time.Duration
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

// SourceHeartbeat sets the group heartbeat interval, overriding 1s; keep
// it well under the session timeout (kafka-go's 30s).
func SourceHeartbeat(d time.Duration) SourceOption { return func(c *sourceConfig) { c.heartbeat = d } }

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
		heartbeat:      DefaultSourceHeartbeat,
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
	case c.heartbeat < 10*time.Millisecond || c.heartbeat > 10*time.Second:
		return bad("heartbeat", "%v, want 10ms..10s", c.heartbeat)
	case c.clock == nil:
		return bad("clock", "nil")
	}
	return nil
}
