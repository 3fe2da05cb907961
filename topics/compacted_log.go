package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// CompactedLog is one compacted, single-partition topic used as a durable,
// ordered log of keyed records: the shape a store of record needs, such as
// the schema registry's _schemas topic. One partition gives one order, so
// reading from the start replays the records as they were appended;
// cleanup.policy=compact keeps the latest record per key for as long as the
// topic lives, where time retention would delete it. Appends wait for acks
// from every in-sync replica.
//
// Use:
//
//	log, err := topics.NewCompactedLog(ctx, brokers, topics.SchemasTopic)
//	...
//	err = log.ReadAll(ctx, func(key, value []byte) error { ...; return nil })
//	err = log.Append(ctx, key, value) // a nil value writes a tombstone
//	defer log.Close()
type CompactedLog struct {
	topic  string
	addrs  []string
	cfg    compactedLogConfig
	dialer *kafka.Dialer

	mu     sync.Mutex
	writer *kafka.Writer // nil once closed
	// transport is the writer's; kafka-go's Writer.Close leaves a
	// transport it was given open, so Close closes it.
	transport *kafka.Transport
}

type compactedLogConfig struct {
	replicationFactor int // 0: min(3, brokers in the cluster)
	dialTimeout       time.Duration
	loadTimeout       time.Duration
	writeAttempts     int
}

// CompactedLogOption configures a CompactedLog.
type CompactedLogOption func(*compactedLogConfig)

// CompactedLogReplication sets the replication factor used when the topic
// is created. Default min(3, brokers in the cluster), so one replica in
// development and three in production.
func CompactedLogReplication(n int) CompactedLogOption {
	return func(c *compactedLogConfig) { c.replicationFactor = n }
}

// CompactedLogDialTimeout bounds each connection attempt, overriding 3 s.
func CompactedLogDialTimeout(d time.Duration) CompactedLogOption {
	return func(c *compactedLogConfig) { c.dialTimeout = d }
}

// CompactedLogLoadTimeout bounds checking or creating the topic in
// NewCompactedLog, and each ReadAll, overriding 30 s.
func CompactedLogLoadTimeout(d time.Duration) CompactedLogOption {
	return func(c *compactedLogConfig) { c.loadTimeout = d }
}

// CompactedLogWriteAttempts sets how often one Append is tried before it
// fails, overriding 3. The default is low because an Append usually has a
// person waiting on it (a schema registration over HTTP).
func CompactedLogWriteAttempts(n int) CompactedLogOption {
	return func(c *compactedLogConfig) { c.writeAttempts = n }
}

func (c compactedLogConfig) validate(topic string) error {
	bad := func(opt, format string, args ...any) error {
		return &ConfigError{Component: "compacted log", Option: opt, Reason: fmt.Sprintf(format, args...)}
	}
	if reason := topicNameProblem(topic); reason != "" {
		return bad("topic", "%q: %s", topic, reason)
	}
	if c.replicationFactor < 0 || c.replicationFactor > 32767 {
		return bad("replication", "%d, want 1..32767, or 0 for min(3, brokers)", c.replicationFactor)
	}
	if c.dialTimeout <= 0 {
		return bad("dial timeout", "%v, want > 0", c.dialTimeout)
	}
	if c.loadTimeout <= 0 {
		return bad("load timeout", "%v, want > 0", c.loadTimeout)
	}
	if c.writeAttempts < 1 {
		return bad("write attempts", "%d, want at least 1", c.writeAttempts)
	}
	return nil
}

// NewCompactedLog connects to brokers and creates topic if it is missing
// (compacted, one partition). It refuses a topic that exists with more
// partitions or a cleanup policy other than compact, with an error wrapping
// ErrNotCompactedLog: the first would reorder records, the second delete
// them once retention passes. No broker answering gives a
// *BrokerUnreachableError, a bad option or address a *ConfigError.
func NewCompactedLog(ctx context.Context, brokers []string, topic string, opts ...CompactedLogOption) (*CompactedLog, error) {
	cfg := compactedLogConfig{dialTimeout: defaultDialTimeout, loadTimeout: 30 * time.Second, writeAttempts: 3}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(topic); err != nil {
		return nil, err
	}
	if err := checkAddrs("compacted log", brokers); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.loadTimeout)
	defer cancel()
	if err := reachable(ctx, brokers, cfg.dialTimeout); err != nil {
		return nil, err
	}
	l := &CompactedLog{
		topic:  topic,
		addrs:  slices.Clone(brokers),
		cfg:    cfg,
		dialer: SecureDialer(&kafka.Dialer{Timeout: cfg.dialTimeout, DualStack: true}),
	}
	if err := l.ensure(ctx); err != nil {
		return nil, err
	}
	l.transport = SecureTransport(&kafka.Transport{DialTimeout: cfg.dialTimeout})
	l.writer = &kafka.Writer{
		Addr:         kafka.TCP(l.addrs...),
		Topic:        topic,
		Balancer:     partitionZero{},
		RequiredAcks: kafka.RequireAll,
		// Appends are synchronous and one record each; a short batch
		// timeout sends each at once instead of after kafka-go's default
		// second.
		BatchTimeout:    time.Millisecond,
		MaxAttempts:     cfg.writeAttempts,
		WriteBackoffMin: 20 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Transport:       l.transport,
	}
	return l, nil
}

// ensure creates the topic if it is missing and checks that it has one
// partition and is compacted.
func (l *CompactedLog) ensure(ctx context.Context) error {
	tr := SecureTransport(&kafka.Transport{DialTimeout: l.cfg.dialTimeout})
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(l.addrs...), Transport: tr}
	found, err := describeTopics(ctx, cl, []string{l.topic})
	if err != nil {
		return fmt.Errorf("compacted log %s: %w", l.topic, err)
	}
	t, ok := found[l.topic]
	if !ok {
		if err := l.create(ctx, cl); err != nil {
			return err
		}
		if found, err = describeTopics(ctx, cl, []string{l.topic}); err != nil {
			return fmt.Errorf("compacted log %s: %w", l.topic, err)
		}
		if t, ok = found[l.topic]; !ok {
			return &TopicError{Topic: l.topic, Err: errors.New("created, but the cluster does not list it")}
		}
	}
	if t.err != nil {
		return &TopicError{Topic: l.topic, Err: t.err}
	}
	if t.partitions != 1 {
		return &TopicError{Topic: l.topic, Err: fmt.Errorf("%w: %d partitions, so its records would not keep one order: delete the topic or pick another",
			ErrNotCompactedLog, t.partitions)}
	}
	// Kafka lists every config with its default; a broker that left the
	// policy out would be using the default, delete.
	policy, ok := t.configs[ConfigCleanupPolicy]
	if !ok {
		policy = CleanupDelete
	}
	if normalize(ConfigCleanupPolicy, policy) != CleanupCompact {
		return &TopicError{Topic: l.topic, Err: fmt.Errorf("%w: cleanup.policy=%s, so retention would delete records: set cleanup.policy=compact on it",
			ErrNotCompactedLog, policy)}
	}
	return nil
}

// create makes the topic with one partition, compacted. Another client
// creating it meanwhile is fine: ensure checks what exists.
func (l *CompactedLog) create(ctx context.Context, cl *kafka.Client) error {
	rf := l.cfg.replicationFactor
	if rf == 0 {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{l.topic}})
		if err != nil {
			return fmt.Errorf("compacted log %s: listing brokers: %w", l.topic, err)
		}
		rf = min(3, max(1, len(md.Brokers)))
	}
	spec := Spec{
		Name: l.topic, Partitions: 1, ReplicationFactor: rf,
		Configs: map[string]string{ConfigCleanupPolicy: CleanupCompact}, Compacted: true,
	}
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{topicConfig(spec)}})
	if err == nil {
		err = res.Errors[l.topic]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return &TopicError{Topic: l.topic, Err: fmt.Errorf("creating it (1 partition, replication %d, compacted): %w", rf, err)}
	}
	return nil
}

// ReadAll calls fn with every record of the log, oldest first, up to the
// end the log had when ReadAll began; it stops at fn's first error and
// returns it. A tombstone comes with a nil value, and so does an empty
// value: kafka-go's reader does not tell the two apart. fn may keep key
// and value: each record gets its own.
func (l *CompactedLog) ReadAll(ctx context.Context, fn func(key, value []byte) error) error {
	_, err := l.ReadFrom(ctx, 0, func(_ int64, key, value []byte) error { return fn(key, value) })
	return err
}

// ReadFrom is ReadAll from offset from onwards: it calls fn with every
// record at an offset >= from, up to the end the log had when ReadFrom
// began, and returns that end (the offset the next record will get), so a
// follower reads only what was appended since its last call. A call with
// nothing new costs one metadata round trip and reads no records.
//
// It fetches on its own connection to the partition's leader rather than
// through a kafka-go Reader: a Reader turns its MaxWait into the deadline
// of the whole fetch and retries a missed one silently, for ever, so on a
// busy machine a short MaxWait read nothing until the load timeout while
// the record was there; here every fetch error is returned, and a fetch
// that comes back empty is asked again.
func (l *CompactedLog) ReadFrom(ctx context.Context, from int64, fn func(offset int64, key, value []byte) error) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.loadTimeout)
	defer cancel()
	var mu sync.Mutex // guards leader against the context's closing it
	leader, err := l.dialLeader(ctx)
	if err != nil {
		return from, err
	}
	closeLeader := func() {
		mu.Lock()
		defer mu.Unlock()
		leader.Close()
	}
	defer closeLeader()
	stop := context.AfterFunc(ctx, closeLeader)
	defer stop()
	first, errFirst := leader.ReadFirstOffset()
	last, errLast := leader.ReadLastOffset()
	if err := errors.Join(errFirst, errLast); err != nil {
		return from, fmt.Errorf("compacted log %s: reading the offsets of partition 0: %w", l.topic, err)
	}
	off := max(first, from)
	if last <= off {
		return max(last, from), nil
	}
	read := 0
	for off < last {
		if err := ctx.Err(); err != nil {
			return from, fmt.Errorf("compacted log %s: reading partition 0 (%d records read, at offset %d, end at offset %d): %w", l.topic, read, off, last, err)
		}
		if _, err := leader.Seek(off, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			return from, fmt.Errorf("compacted log %s: seeking partition 0 to %d: %w", l.topic, off, err)
		}
		// The records are there already: MinBytes 1 answers at once, and
		// MaxWait only bounds a fetch the broker has nothing for yet.
		_ = leader.SetReadDeadline(time.Now().Add(compactedFetchDeadline))
		batch := leader.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 16 << 20, MaxWait: compactedFetchWait})
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break // io.EOF at the batch's end; anything else Close returns
			}
			if m.Offset >= last {
				break
			}
			read++
			off = m.Offset + 1
			if err := fn(m.Offset, m.Key, m.Value); err != nil {
				batch.Close()
				return from, err
			}
		}
		err := batch.Close()
		if err == nil || errors.Is(err, io.EOF) {
			continue
		}
		if !isFetchTimeout(err) || ctx.Err() != nil {
			return from, fmt.Errorf("compacted log %s: reading partition 0 (%d records read, at offset %d, end at offset %d): %w", l.topic, read, off, last, err)
		}
		// A late answer leaves the connection mid-response: start a new one.
		next, err := l.dialLeader(ctx)
		if err != nil {
			return from, err
		}
		mu.Lock()
		leader.Close()
		leader = next
		mu.Unlock()
	}
	return last, nil
}

// dialLeader connects to the leader of partition 0 through the first
// bootstrap address that answers.
func (l *CompactedLog) dialLeader(ctx context.Context) (*kafka.Conn, error) {
	var err error
	for _, b := range l.addrs {
		var c *kafka.Conn
		if c, err = l.dialer.DialLeader(ctx, "tcp", b, l.topic, 0); err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("compacted log %s: connecting to the leader of partition 0: %w", l.topic, err)
}

// compactedFetchWait is the broker-side wait of one fetch, and
// compactedFetchDeadline the client's bound on its answer; a fetch that
// misses it is asked again until the load timeout.
const (
	compactedFetchWait     = 100 * time.Millisecond
	compactedFetchDeadline = 5 * time.Second
)

// isFetchTimeout reports a fetch whose answer did not come in time, which
// is worth asking again.
func isFetchTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, kafka.RequestTimedOut) || (errors.As(err, &ne) && ne.Timeout())
}

// Append writes one record and returns once every in-sync replica has it.
// A nil value writes a tombstone. On error the record may still have been
// written (an ack lost on the way back looks like a failed write).
func (l *CompactedLog) Append(ctx context.Context, key, value []byte) error {
	l.mu.Lock()
	w := l.writer
	l.mu.Unlock()
	if w == nil {
		return fmt.Errorf("compacted log %s: %w", l.topic, ErrClosed)
	}
	err := w.WriteMessages(ctx, kafka.Message{Key: key, Value: value})
	// One message, so at most one write error: report it, not the list.
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == 1 && werrs[0] != nil {
		err = werrs[0]
	}
	if err != nil {
		return fmt.Errorf("compacted log %s: writing a record: %w", l.topic, err)
	}
	return nil
}

// Close closes the writer. It is safe to call twice; Append fails with
// ErrClosed after it, ReadAll still works.
func (l *CompactedLog) Close() error {
	l.mu.Lock()
	w := l.writer
	l.writer = nil
	l.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Close()
	l.transport.CloseIdleConnections()
	return err
}

// partitionZero sends every record to partition 0, the log's only one.
type partitionZero struct{}

func (partitionZero) Balance(kafka.Message, ...int) int { return 0 }
