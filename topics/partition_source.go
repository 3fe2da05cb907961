package topics

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
)

// PartitionSource is a go-streams Source over one partition from a given
// offset: the per-partition reader of a Group handler. Like Source, it puts
// an *Ack on every Message and knows the offset up to which every record
// resolved ok (Committable); unlike Source it does not commit itself — the
// handler commits through its Claim, with the generation it holds.
type PartitionSource struct {
	cfg       sourceConfig
	topic     string
	partition int32
	r         *kafka.Reader
	tr        *tracker
	out       chan any
	stopFetch context.CancelFunc
	fetchDone chan struct{}

	// kafka-go's Reader.Lag is 0 until a fetch came back, which reads as
	// "caught up" over any backlog. Until then Lag reports startLag, the
	// backlog measured from the offset at start (-1 until measured).
	fetched  atomic.Bool
	startLag atomic.Int64
	lagDone  chan struct{}

	// delivered is the number of records put on Out, shifted left one
	// bit, with the low bit set when the last of them was the log's end
	// as of its fetch: one word, so Delivered reads both at once.
	delivered atomic.Int64
}

var _ streams.Source = (*PartitionSource)(nil)

// NewPartitionSource reads topic/partition from offset (a real offset, or
// kafka.FirstOffset / kafka.LastOffset). It takes the Source options; the
// commit interval does not apply.
func NewPartitionSource(ctx context.Context, brokers []string, topic string, partition int32, offset int64, opts ...SourceOption) (*PartitionSource, error) {
	cfg := defaultSourceConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkAddrs("partition source", brokers); err != nil {
		return nil, err
	}
	s := &PartitionSource{
		cfg: cfg, topic: topic, partition: partition, tr: newTracker(),
		out: make(chan any, sourceOutBuffer), fetchDone: make(chan struct{}), lagDone: make(chan struct{}),
	}
	s.startLag.Store(-1)
	rc := kafka.ReaderConfig{
		Brokers:       slices.Clone(brokers),
		Topic:         topic,
		Partition:     int(partition),
		Dialer:        SecureDialer(&kafka.Dialer{Timeout: cfg.dialTimeout, DualStack: true}),
		MinBytes:      cfg.minBytes,
		MaxBytes:      cfg.maxBytes,
		MaxWait:       cfg.maxWait,
		QueueCapacity: cfg.queueCapacity,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			if retriedTimeout(args) {
				return
			}
			s.report(fmt.Errorf("kafka reader %s/%d: "+format, append([]any{topic, partition}, args...)...))
		}),
	}
	if err := rc.Validate(); err != nil { // NewReader would panic on it
		return nil, &ConfigError{Component: "partition source", Option: "reader", Reason: err.Error()}
	}
	s.r = kafka.NewReader(rc)
	if err := s.r.SetOffset(offset); err != nil {
		s.r.Close()
		return nil, fmt.Errorf("partition source %s/%d: set offset %d: %w", topic, partition, offset, err)
	}
	fctx, cancel := context.WithCancel(ctx)
	s.stopFetch = cancel
	go s.fetch(fctx)
	go s.measureLag(fctx)
	return s, nil
}

// measureLag asks the partition's leader for the backlog from the start
// offset, retrying until it has it, a fetch came back or the source stops.
func (s *PartitionSource) measureLag(ctx context.Context) {
	defer close(s.lagDone)
	const minBackoff, maxBackoff = 100 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for !s.fetched.Load() {
		// ReadLag sets no deadline of its own: bound each attempt.
		actx, cancel := context.WithTimeout(ctx, s.cfg.commitTimeout)
		lag, err := s.r.ReadLag(actx)
		cancel()
		if err == nil {
			s.startLag.Store(max(lag, 0))
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.report(fmt.Errorf("partition source %s/%d: read lag: %w", s.topic, s.partition, err))
		if !clock.Sleep(ctx, s.cfg.clock, backoff) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *PartitionSource) report(err error) {
	if s.cfg.onError != nil {
		s.cfg.onError(err)
	}
}

func (s *PartitionSource) fetch(ctx context.Context) {
	defer close(s.fetchDone)
	defer close(s.out)
	fetchLoop(ctx, s.r, s.tr, s.out, s.cfg.clock, s.cfg.onError, func(err error) {
		s.report(fmt.Errorf("fetch %s/%d: %w", s.topic, s.partition, err))
	}, s.sent)
}

// sent counts a record put on Out and notes whether it was the log's end
// when fetched. Only the fetch goroutine writes delivered.
func (s *PartitionSource) sent(km kafka.Message) {
	n := s.delivered.Load()>>1 + 1
	end := int64(0)
	if km.HighWaterMark <= km.Offset+1 {
		end = 1
	}
	s.delivered.Store(n<<1 | end)
	s.fetched.Store(true)
}

// Out returns the channel of Messages (as any, for go-streams).
func (s *PartitionSource) Out() <-chan any { return s.out }

// Via streams the output into operator and returns it.
func (s *PartitionSource) Via(operator streams.Flow) streams.Flow {
	flow.DoStream(s, operator)
	return operator
}

// Committable returns the next offset to commit (one past the contiguous
// run of records that resolved ok) and whether it moved since the last
// MarkCommitted.
func (s *PartitionSource) Committable() (int64, bool) {
	cs := s.tr.advance()
	for _, c := range cs {
		if c.partition == s.partition {
			return c.next, true
		}
	}
	return 0, false
}

// MarkCommitted records that next was stored, so Committable stops
// returning it.
func (s *PartitionSource) MarkCommitted(next int64) {
	s.tr.committed([]commit{{topic: s.topic, partition: s.partition, next: next}})
	s.tr.forget(topicPartition{s.topic, s.partition}, next)
}

// Unresolved counts emitted records still waiting for their outputs.
func (s *PartitionSource) Unresolved() int64 { return s.tr.unresolved() }

// StopFetching stops reading: Out closes once the record in hand is
// emitted or abandoned. Records already emitted keep their Acks.
func (s *PartitionSource) StopFetching() {
	s.stopFetch()
	<-s.fetchDone
}

// Drain waits until every emitted record resolved or ctx ends.
func (s *PartitionSource) Drain(ctx context.Context) error {
	for s.tr.unresolved() > 0 {
		select {
		case <-s.tr.idle:
		case <-ctx.Done():
			return fmt.Errorf("partition %s/%d: %d records still unresolved: %w", s.topic, s.partition, s.tr.unresolved(), ctx.Err())
		}
	}
	return nil
}

// Close stops fetching and closes the reader. It does not commit: the
// handler commits Committable through its Claim first.
func (s *PartitionSource) Close() error {
	s.StopFetching()
	<-s.lagDone
	return s.r.Close()
}

// Delivered is how many records the source has put on Out, and whether
// the last of them was the end of the log as of its fetch (before the
// first: whether the start offset was). A consumer that has taken all n
// through its own stages and sees caughtUp has nothing left to read;
// Lag 0 alone does not say that, since Out and the stages behind it may
// still hold records the fetch loop ran ahead with.
func (s *PartitionSource) Delivered() (n int64, caughtUp bool) {
	v := s.delivered.Load()
	if n = v >> 1; n == 0 {
		return 0, s.startLag.Load() == 0
	}
	return n, v&1 == 1
}

// Lag is how many records the partition held past the last one fetched,
// as of that fetch: 0 means the source had caught up with the log's end.
// Before the first fetch it is the backlog from the start offset, or -1
// while that is not known yet: never 0 over records not yet read.
func (s *PartitionSource) Lag() int64 {
	if s.fetched.Load() {
		return s.r.Lag()
	}
	return s.startLag.Load()
}
