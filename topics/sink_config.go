package topics

import (
	"fmt"
	"math"
	"time"

	"github.com/matriz/pipelines/clock"
)

// Sink batching defaults, measured with BenchmarkSink (100k 200-byte
// records over 6 partitions on the embedded broker, a shared 2-core
// machine): these defaults wrote 288k-450k msgs/s at ~330-425 CPU-ms per
// 100k; kafka-go's batching (BatchSize 100, BatchTimeout 1 s, here as
// SinkBatchSize(100)) 104k-140k msgs/s at ~870-970 CPU-ms; a batch of
// 10000 was no faster than 5000 (285k-416k) and doubles the memory held
// per batch. The writer's own BatchSize (records per produce request) is
// min(BatchSize, 1000): kafka-go allocates a slice of that capacity per
// partition batch, and 5000 cost 50% more allocation for nothing.
const (
	DefaultSinkBatchSize    = 5000
	DefaultSinkBatchBytes   = 4 << 20
	DefaultSinkBatchTimeout = 5 * time.Millisecond
	DefaultSinkRetries      = 3
	DefaultSinkBackoff      = 100 * time.Millisecond
	maxSinkBackoff          = 2 * time.Second

	// DefaultSinkRetryFor is how long a write failing for a broker outage
	// (connection refused or reset, no leader, timeouts) is retried: a
	// broker restart takes a few seconds, and a lane that stopped on it
	// would turn a blip into a crash loop of its own.
	DefaultSinkRetryFor = 30 * time.Second
	// sinkRetryReportEvery is how often a Sink riding out an outage says
	// so to its error hook: once per few seconds, not once per record.
	sinkRetryReportEvery = 5 * time.Second

	// maxRequestBytes caps one produce request (kafka-go's per-partition
	// BatchBytes): 1,000,000 stays under message.max.bytes' default
	// (1048588) on Kafka and kfake alike, so a partition that gets a whole
	// Sink batch is split into several requests instead of refused.
	maxRequestBytes = MaxRecordBytes
)

// sinkInBuffer caps the Sink's input channel, which otherwise holds a
// batch (BatchSize Messages) besides the batch being collected and the one
// being written. Every Message queued there keeps the arrays its producer
// encoded it into alive, and under overload the channel is always full:
// with 5,000 the overloaded lane processes of matriz bench held 169 MiB
// (prod) and 172 MiB (experimental) of heap as the offering ended, with
// 1,024 98 and 152 MiB, and BenchmarkSink/defaults wrote as fast
// (714k-769k msgs/s before, 736k-895k after, one run each).
const sinkInBuffer = 1024

// MaxRecordBytes is the largest record (as RecordSize counts it) a Sink
// writes: one produce request carries at most this many bytes, and a
// larger record is refused alone with kafka.MessageSizeTooLarge. Writers
// that must not lose a record check RecordSize against a Sink's
// MaxRecord before handing it over, and shrink or split what does not fit.
const MaxRecordBytes = 1_000_000

type sinkConfig struct {
	batchSize    int
	batchBytes   int
	batchTimeout time.Duration
	retries      int
	backoff      time.Duration
	retryFor     time.Duration
	dialTimeout  time.Duration
	writeTimeout time.Duration
	clock        clock.Clock
	onError      func(error)
	onWritten    func(Message)

	// writerBatchSize caps records per produce request (kafka-go's
	// BatchSize); 0 means min(batchSize, defaultWriterBatchSize).
	// kafka-go allocates a slice of this capacity per partition batch.
	writerBatchSize int
}

const defaultWriterBatchSize = 1000

// SinkOption configures a Sink.
type SinkOption func(*sinkConfig)

// SinkBatchSize is how many Messages the Sink collects before a write,
// overriding 5000.
func SinkBatchSize(n int) SinkOption { return func(c *sinkConfig) { c.batchSize = n } }

// SinkBatchBytes caps the bytes the Sink collects before a write,
// overriding 4 MiB. One produce request carries at most 1,000,000 bytes
// whatever this says (under Kafka's default message.max.bytes), and a
// single record larger than that is refused alone with
// kafka.MessageSizeTooLarge.
func SinkBatchBytes(n int) SinkOption { return func(c *sinkConfig) { c.batchBytes = n } }

// SinkBatchTimeout is the longest a collected Message waits for its batch
// to fill, overriding 5ms: the latency floor the Sink adds at low rates.
func SinkBatchTimeout(d time.Duration) SinkOption {
	return func(c *sinkConfig) { c.batchTimeout = d }
}

// SinkRetries is how many times a failed write is retried (only the failed
// records, in order) before their Acks get the error, overriding 3.
func SinkRetries(n int) SinkOption { return func(c *sinkConfig) { c.retries = n } }

// SinkRetryFor is how long a write that fails for a broker outage
// (connection refused or reset, not leader, timeouts) keeps being retried,
// past SinkRetries, with backoff doubling up to 2s, overriding 30s; 0 turns
// the window off. Only past it do the records' Acks fail with a
// *WriteError. A permanent failure (a record too large, an unknown topic,
// an authorization error) is not retried past SinkRetries, and cancelling
// the Sink's context or Abort ends the retries at once.
func SinkRetryFor(d time.Duration) SinkOption { return func(c *sinkConfig) { c.retryFor = d } }

// SinkBackoff is the first retry's wait, doubling up to 2s, overriding 100ms.
func SinkBackoff(d time.Duration) SinkOption { return func(c *sinkConfig) { c.backoff = d } }

// SinkDialTimeout bounds each TCP dial, overriding 3s.
func SinkDialTimeout(d time.Duration) SinkOption {
	return func(c *sinkConfig) { c.dialTimeout = d }
}

// SinkWriteTimeout bounds one produce request, overriding 10s.
func SinkWriteTimeout(d time.Duration) SinkOption {
	return func(c *sinkConfig) { c.writeTimeout = d }
}

// SinkClock sets the clock for the batch timeout and retry backoff,
// overriding the wall clock.
func SinkClock(cl clock.Clock) SinkOption { return func(c *sinkConfig) { c.clock = cl } }

// SinkOnError receives every write that failed for good (as *WriteError),
// every element that could not be written, and, once per few seconds while
// the Sink rides out a broker outage, a *RetryingError (not fatal: the
// records are still being retried). It is called from the
// Sink's goroutine and must not block.
func SinkOnError(fn func(error)) SinkOption { return func(c *sinkConfig) { c.onError = fn } }

func defaultSinkConfig() sinkConfig {
	return sinkConfig{
		batchSize:    DefaultSinkBatchSize,
		batchBytes:   DefaultSinkBatchBytes,
		batchTimeout: DefaultSinkBatchTimeout,
		retries:      DefaultSinkRetries,
		backoff:      DefaultSinkBackoff,
		retryFor:     DefaultSinkRetryFor,
		dialTimeout:  defaultDialTimeout,
		writeTimeout: 10 * time.Second,
		clock:        clock.Real{},
	}
}

func (c sinkConfig) validate() error {
	bad := func(opt, format string, args ...any) error {
		return &ConfigError{Component: "sink", Option: opt, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.batchSize < 1 || c.batchSize > 1<<20:
		return bad("batch size", "%d, want 1..%d", c.batchSize, 1<<20)
	case c.batchBytes < 1024 || c.batchBytes > math.MaxInt32:
		return bad("batch bytes", "%d, want 1024..%d", c.batchBytes, math.MaxInt32)
	case c.batchTimeout <= 0:
		return bad("batch timeout", "%v, want > 0", c.batchTimeout)
	case c.retries < 0:
		return bad("retries", "%d, want ≥ 0", c.retries)
	case c.backoff <= 0:
		return bad("backoff", "%v, want > 0", c.backoff)
	case c.retryFor < 0:
		return bad("retry for", "%v, want ≥ 0 (0: no outage window)", c.retryFor)
	case c.dialTimeout <= 0:
		return bad("dial timeout", "%v, want > 0", c.dialTimeout)
	case c.writeTimeout <= 0:
		return bad("write timeout", "%v, want > 0", c.writeTimeout)
	case c.clock == nil:
		return bad("clock", "nil")
	}
	return nil
}

func (c sinkConfig) writerBatch() int {
	if c.writerBatchSize > 0 {
		return c.writerBatchSize
	}
	return min(c.batchSize, defaultWriterBatchSize)
}

// SinkOnWritten is called for every Message once Kafka acknowledged it,
// before its Ack resolves: the hook the runtime counts outputs with, so the
// Sink itself stays free of metrics. It runs on the Sink's goroutine and
// must be fast.
func SinkOnWritten(fn func(Message)) SinkOption { return func(c *sinkConfig) { c.onWritten = fn } }
