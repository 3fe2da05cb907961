package topics

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
	"github.com/segmentio/kafka-go"
)

// Source is a go-streams Source over a kafka-go consumer-group member. It
// emits a Message with an *Ack for every record of its topics' assigned
// partitions, and commits a partition's offset only past records whose
// Acks resolved ok (see Ack and tracker), on an interval and on Close.
//
// It fetches with Reader.FetchMessage and commits itself (kafka-go's
// CommitInterval 0, synchronous commits); ReadMessage would commit before
// the record is processed.
//
// Lifecycle: NewSource joins the group and starts fetching; Out closes when
// its context ends or Close is called. Close stops fetching, waits (up to
// the drain timeout) for emitted records to be acked, commits, and leaves
// the group, so the next member takes over without waiting for a session
// timeout. Always call Close. Leaving takes up to about 3/4 of MaxWait:
// kafka-go's Reader waits for each held fetch to return (see
// DefaultSourceMaxWait).
//
// Rebalances are kafka-go's: after one, partitions restart from the
// group's committed offset, so records in flight may be delivered twice
// (the tracker notices the rewind). kafka-go does not say which partitions
// moved away, and late acks of their records would overwrite the new
// owner's newer commits; so after each rebalance the Source reads its
// assignment from the group coordinator and commits only what it owns (see
// assignment.go). A joining member waits about one heartbeat (1 s) for its
// first record: the others learn of the rebalance from their heartbeat.
type Source struct {
	r   *kafka.Reader
	cfg sourceConfig
	tr  *tracker
	out chan any

	group    string
	clientID string        // identifies this member in DescribeGroups
	admin    *kafka.Client // asks the coordinator for the assignment
	// reassigned: a rebalance happened and the assignment has not been
	// read since; guarded by commitMu.
	reassigned bool

	stopFetch  context.CancelFunc
	fetchDone  chan struct{}
	stopCommit chan struct{}
	commitDone chan struct{}
	commitMu   sync.Mutex

	errMu sync.Mutex
	err   error

	closeOnce sync.Once
	closeErr  error
}

var _ streams.Source = (*Source)(nil)

// sourceOutBuffer decouples the fetch loop from the first operator; kafka-go
// already queues QueueCapacity records behind it.
const sourceOutBuffer = 256

// NewSource joins group as a member reading topics from the cluster behind
// brokers. It returns a *BrokerUnreachableError if no broker answers within
// the dial timeout, and a *ConfigError for bad options, before kafka-go
// (which panics on bad config) sees them.
func NewSource(ctx context.Context, brokers []string, group string, topics []string, opts ...SourceOption) (*Source, error) {
	cfg := defaultSourceConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkAddrs("source", brokers); err != nil {
		return nil, err
	}
	if group == "" {
		return nil, &ConfigError{Component: "source", Option: "group", Reason: "empty, want a consumer group id"}
	}
	if len(topics) == 0 {
		return nil, &ConfigError{Component: "source", Option: "topics", Reason: "empty, want at least one topic"}
	}
	for _, t := range topics {
		if err := (Spec{Name: t, Partitions: 1, ReplicationFactor: ReplicationByCluster}).Validate(); err != nil {
			return nil, &ConfigError{Component: "source", Option: "topics", Reason: err.Error()}
		}
	}
	if err := reachable(ctx, brokers, cfg.dialTimeout); err != nil {
		return nil, err
	}

	s := &Source{
		group:      group,
		clientID:   newClientID(),
		cfg:        cfg,
		tr:         newTracker(),
		out:        make(chan any, sourceOutBuffer),
		fetchDone:  make(chan struct{}),
		stopCommit: make(chan struct{}),
		commitDone: make(chan struct{}),
	}
	start := kafka.FirstOffset
	if cfg.startLatest {
		start = kafka.LastOffset
	}
	rc := kafka.ReaderConfig{
		Brokers:           slices.Clone(brokers),
		GroupID:           group,
		GroupTopics:       slices.Clone(topics),
		Dialer:            SecureDialer(&kafka.Dialer{Timeout: cfg.dialTimeout, DualStack: true, ClientID: s.clientID}),
		HeartbeatInterval: cfg.heartbeat,
		MinBytes:          cfg.minBytes,
		MaxBytes:          cfg.maxBytes,
		MaxWait:           cfg.maxWait,
		QueueCapacity:     cfg.queueCapacity,
		CommitInterval:    0, // we commit, after acks
		StartOffset:       start,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			if retriedTimeout(args) {
				return
			}
			s.report(fmt.Errorf("kafka reader: "+format, args...))
		}),
	}
	if err := rc.Validate(); err != nil { // NewReader would panic on it
		return nil, &ConfigError{Component: "source", Option: "reader", Reason: err.Error()}
	}
	s.r = kafka.NewReader(rc)
	s.admin = &kafka.Client{
		Addr:      kafka.TCP(brokers...),
		Timeout:   cfg.commitTimeout,
		Transport: SecureTransport(&kafka.Transport{DialTimeout: cfg.dialTimeout, ClientID: s.clientID}),
	}

	fctx, cancel := context.WithCancel(ctx)
	s.stopFetch = cancel
	go s.fetch(fctx)
	go s.commitLoop()
	return s, nil
}

// Out returns the channel of emitted Messages (as any, for go-streams).
func (s *Source) Out() <-chan any { return s.out }

// Via streams the Source's output into operator and returns it.
func (s *Source) Via(operator streams.Flow) streams.Flow {
	flow.DoStream(s, operator)
	return operator
}

// Err returns the first fetch or commit error, or nil.
func (s *Source) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Source) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.report(err)
}

func (s *Source) report(err error) {
	if s.cfg.onError != nil {
		s.cfg.onError(err)
	}
}

// fetch emits records until ctx ends or the reader closes.
func (s *Source) fetch(ctx context.Context) {
	defer close(s.fetchDone)
	defer close(s.out)
	fetchLoop(ctx, s.r, s.tr, s.out, s.cfg.clock, s.cfg.onError, func(err error) { s.fail(fmt.Errorf("fetch: %w", err)) }, nil)
}

func (s *Source) commitLoop() {
	defer close(s.commitDone)
	t := s.cfg.clock.NewTicker(s.cfg.commitInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C():
			_ = s.Flush(context.Background())
		case <-s.stopCommit:
			return
		}
	}
}

// Flush commits, now, every partition's offset past its contiguous run of
// acked records. The interval loop and Close call it; callers may too
// (e.g. before a planned rebalance).
func (s *Source) Flush(ctx context.Context) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	// Stats counts generations joined since its last call; only Flush
	// calls it. The first generation counts too, so the assignment is read
	// once at start as well.
	if s.r.Stats().Rebalances > 0 {
		s.reassigned = true
	}
	if s.reassigned {
		assigned, ok, err := s.assignment(ctx)
		if err != nil {
			s.fail(err)
			return err
		}
		if !ok {
			return nil // rebalancing: nothing is safe to commit yet
		}
		s.tr.retain(assigned)
		s.reassigned = false
	}
	cs := s.tr.advance()
	if len(cs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(cs))
	for i, c := range cs {
		// kafka-go stores Offset+1: the next record to read.
		msgs[i] = kafka.Message{Topic: c.topic, Partition: int(c.partition), Offset: c.next - 1}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.commitTimeout)
	defer cancel()
	if err := s.r.CommitMessages(ctx, msgs...); err != nil {
		err = fmt.Errorf("commit offsets: %w", err)
		s.fail(err)
		return err
	}
	s.tr.committed(cs)
	return nil
}

// Close stops fetching (Out closes), waits up to the drain timeout for
// emitted records to resolve, commits what is acked, and leaves the group.
// It returns the final commit's error. Safe to call more than once.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.stopFetch()
		<-s.fetchDone
		s.drain()
		close(s.stopCommit)
		<-s.commitDone
		s.closeErr = s.Flush(context.Background())
		if err := s.r.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("leave group: %w", err)
		}
		if tr, ok := s.admin.Transport.(*kafka.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	return s.closeErr
}

// drain waits until every emitted record resolved or the drain timeout.
func (s *Source) drain() {
	if s.tr.unresolved() == 0 || s.cfg.drainTimeout == 0 {
		return
	}
	t := s.cfg.clock.NewTicker(s.cfg.drainTimeout)
	defer t.Stop()
	for s.tr.unresolved() > 0 {
		select {
		case <-s.tr.idle:
		case <-t.C():
			return
		}
	}
}
