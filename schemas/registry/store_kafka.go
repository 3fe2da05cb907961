package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultTopic is the compacted topic a KafkaStore keeps its records in,
// the name Confluent Schema Registry uses.
const DefaultTopic = "_schemas"

// KafkaOption configures a KafkaStore.
type KafkaOption func(*kafkaConfig)

type kafkaConfig struct {
	topic             string
	replicationFactor int // 0: min(3, brokers in the cluster)
	dialTimeout       time.Duration
	loadTimeout       time.Duration
	writeAttempts     int
}

func defaultKafkaConfig() kafkaConfig {
	return kafkaConfig{
		topic:         DefaultTopic,
		dialTimeout:   5 * time.Second,
		loadTimeout:   30 * time.Second,
		writeAttempts: 3,
	}
}

func (c *kafkaConfig) validate(brokers []string) error {
	if len(brokers) == 0 {
		return fmt.Errorf("%w: no broker address given: pass at least one host:port", ErrConfig)
	}
	for _, b := range brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("%w: broker address %q is not host:port: %v", ErrConfig, b, err)
		}
	}
	if c.topic == "" || strings.ContainsAny(c.topic, "/\\ ") || len(c.topic) > 249 {
		return fmt.Errorf("%w: topic name %q is not a valid Kafka topic name", ErrConfig, c.topic)
	}
	if c.replicationFactor < 0 || c.replicationFactor > 32767 {
		return fmt.Errorf("%w: replication factor %d must be between 1 and 32767 (0 picks min(3, brokers))", ErrConfig, c.replicationFactor)
	}
	if c.dialTimeout <= 0 || c.loadTimeout <= 0 {
		return fmt.Errorf("%w: dial timeout %v and load timeout %v must be positive", ErrConfig, c.dialTimeout, c.loadTimeout)
	}
	if c.writeAttempts < 1 {
		return fmt.Errorf("%w: write attempts %d must be at least 1", ErrConfig, c.writeAttempts)
	}
	return nil
}

// WithTopic sets the topic name. Default "_schemas".
func WithTopic(name string) KafkaOption { return func(c *kafkaConfig) { c.topic = name } }

// WithReplicationFactor sets the replication factor used when the topic is
// created. Default min(3, number of brokers), so one broker in development
// and three in production.
func WithReplicationFactor(n int) KafkaOption {
	return func(c *kafkaConfig) { c.replicationFactor = n }
}

// WithDialTimeout bounds each connection attempt. Default 5 s.
func WithDialTimeout(d time.Duration) KafkaOption { return func(c *kafkaConfig) { c.dialTimeout = d } }

// WithLoadTimeout bounds reading the topic at start-up. Default 30 s.
func WithLoadTimeout(d time.Duration) KafkaOption { return func(c *kafkaConfig) { c.loadTimeout = d } }

// WithWriteAttempts sets how often one write is tried before it fails.
// Default 3: a registry write is a user waiting on an HTTP answer.
func WithWriteAttempts(n int) KafkaOption { return func(c *kafkaConfig) { c.writeAttempts = n } }

// KafkaStore keeps records in a compacted, single-partition Kafka topic.
// Writes wait for acks from every in-sync replica.
type KafkaStore struct {
	cfg     kafkaConfig
	brokers []string
	writer  *kafka.Writer
	// transport is the writer's; kafka-go's Writer.Close leaves a
	// transport it was given open, so Close closes it.
	transport *kafka.Transport

	mu   sync.Mutex
	recs []Record // loaded at start and appended since
}

// NewKafkaStore connects to brokers, creates the topic if it is missing
// (compacted, one partition), and reads every record in it. It fails when
// no broker answers, or when the topic exists but is not a compacted
// single-partition topic, because the registry would then lose or reorder
// schemas.
func NewKafkaStore(ctx context.Context, brokers []string, opts ...KafkaOption) (*KafkaStore, error) {
	cfg := defaultKafkaConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(brokers); err != nil {
		return nil, err
	}
	s := &KafkaStore{cfg: cfg, brokers: append([]string(nil), brokers...)}
	dialer := &kafka.Dialer{Timeout: cfg.dialTimeout}

	ctx, cancel := context.WithTimeout(ctx, cfg.loadTimeout)
	defer cancel()
	if err := s.ensureTopic(ctx, dialer); err != nil {
		return nil, err
	}
	recs, err := s.readAll(ctx, dialer)
	if err != nil {
		return nil, err
	}
	s.recs = recs
	s.transport = &kafka.Transport{DialTimeout: cfg.dialTimeout}
	s.writer = &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        cfg.topic,
		Balancer:     partitionZero{},
		RequiredAcks: kafka.RequireAll,
		// Writes are synchronous and serialised by the registry; a short
		// batch timeout sends each write at once instead of after the
		// default second.
		BatchTimeout:    time.Millisecond,
		BatchSize:       10000,
		MaxAttempts:     cfg.writeAttempts,
		WriteBackoffMin: 20 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Transport:       s.transport,
	}
	return s, nil
}

// dialAny connects to the first broker that answers.
func (s *KafkaStore) dialAny(ctx context.Context, dialer *kafka.Dialer) (*kafka.Conn, error) {
	var errs []error
	for _, b := range s.brokers {
		conn, err := dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
	}
	return nil, fmt.Errorf("%w: no broker answered (tried %s): %w; start the broker or fix --brokers",
		ErrStorage, strings.Join(s.brokers, ", "), errors.Join(errs...))
}

// ensureTopic creates the topic on the controller if it is missing and
// checks that it has one partition and is compacted.
func (s *KafkaStore) ensureTopic(ctx context.Context, dialer *kafka.Dialer) error {
	conn, err := s.dialAny(ctx, dialer)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	rf := s.cfg.replicationFactor
	if rf == 0 {
		bs, err := conn.Brokers()
		if err != nil {
			return fmt.Errorf("%w: listing brokers: %w", ErrStorage, err)
		}
		rf = min(3, max(1, len(bs)))
	}
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("%w: finding the controller: %w", ErrStorage, err)
	}
	cc, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("%w: connecting to the controller %s:%d: %w", ErrStorage, ctrl.Host, ctrl.Port, err)
	}
	defer cc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = cc.SetDeadline(dl)
	}
	err = cc.CreateTopics(kafka.TopicConfig{
		Topic:             s.cfg.topic,
		NumPartitions:     1,
		ReplicationFactor: rf,
		ConfigEntries:     []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
	})
	if err != nil {
		return fmt.Errorf("%w: creating topic %s (1 partition, replication %d, compacted): %w", ErrStorage, s.cfg.topic, rf, err)
	}
	parts, err := conn.ReadPartitions(s.cfg.topic)
	if err != nil {
		return fmt.Errorf("%w: reading partitions of %s: %w", ErrStorage, s.cfg.topic, err)
	}
	if len(parts) != 1 {
		return fmt.Errorf("%w: topic %s has %d partitions; the registry needs exactly 1 to keep its records in order: delete the topic or pick another with WithTopic",
			ErrStorage, s.cfg.topic, len(parts))
	}
	return s.checkCompacted(ctx)
}

// checkCompacted refuses a topic whose cleanup policy would delete schemas
// once retention passes.
func (s *KafkaStore) checkCompacted(ctx context.Context) error {
	tr := &kafka.Transport{DialTimeout: s.cfg.dialTimeout}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(s.brokers...), Transport: tr}
	resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: s.cfg.topic,
			ConfigNames:  []string{"cleanup.policy"},
		}},
	})
	if err != nil {
		return fmt.Errorf("%w: describing topic %s: %w", ErrStorage, s.cfg.topic, err)
	}
	for _, res := range resp.Resources {
		if res.Error != nil {
			return fmt.Errorf("%w: describing topic %s: %w", ErrStorage, s.cfg.topic, res.Error)
		}
		for _, e := range res.ConfigEntries {
			if e.ConfigName == "cleanup.policy" && !strings.Contains(e.ConfigValue, "compact") {
				return fmt.Errorf("%w: topic %s has cleanup.policy=%s, so retention would delete schemas: set cleanup.policy=compact on it",
					ErrStorage, s.cfg.topic, e.ConfigValue)
			}
		}
	}
	return nil
}

// readAll reads partition 0 from the start to the high watermark seen at
// the start.
func (s *KafkaStore) readAll(ctx context.Context, dialer *kafka.Dialer) ([]Record, error) {
	var (
		leader *kafka.Conn
		err    error
	)
	for _, b := range s.brokers {
		if leader, err = dialer.DialLeader(ctx, "tcp", b, s.cfg.topic, 0); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to the leader of %s/0: %w", ErrStorage, s.cfg.topic, err)
	}
	first, errFirst := leader.ReadFirstOffset()
	last, errLast := leader.ReadLastOffset()
	leader.Close()
	if err := errors.Join(errFirst, errLast); err != nil {
		return nil, fmt.Errorf("%w: reading the offsets of %s/0: %w", ErrStorage, s.cfg.topic, err)
	}
	if last <= first {
		return nil, nil
	}
	rc := kafka.ReaderConfig{
		Brokers:   s.brokers,
		Topic:     s.cfg.topic,
		Partition: 0,
		Dialer:    dialer,
		// Everything is there already: take whatever the broker has at
		// once, in big fetches. MaxWait is short because closing the
		// reader waits for its last, empty, prefetch.
		MinBytes:      1,
		MaxBytes:      16 << 20,
		MaxWait:       10 * time.Millisecond,
		QueueCapacity: 1024,
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("%w: reader config: %w", ErrConfig, err)
	}
	rd := kafka.NewReader(rc)
	defer rd.Close()
	if err := rd.SetOffset(first); err != nil {
		return nil, fmt.Errorf("%w: seeking %s/0 to %d: %w", ErrStorage, s.cfg.topic, first, err)
	}
	var recs []Record
	for {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s/0 (read %d records up to offset %d): %w", ErrStorage, s.cfg.topic, len(recs), last, err)
		}
		recs = append(recs, Record{Key: m.Key, Value: m.Value})
		if m.Offset+1 >= last {
			return recs, nil
		}
	}
}

// Load returns the records read at start-up and those appended since.
func (s *KafkaStore) Load(context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.recs...), nil
}

// Append writes recs to the topic in one batch and returns once every
// in-sync replica has them.
func (s *KafkaStore) Append(ctx context.Context, recs ...Record) error {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value}
	}
	s.mu.Lock()
	w := s.writer
	s.mu.Unlock()
	if w == nil {
		return fmt.Errorf("kafka store for %s is closed", s.cfg.topic)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("writing %d records to %s: %w", len(recs), s.cfg.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.recs = append(s.recs, Record{Key: clone(r.Key), Value: clone(r.Value)})
	}
	return nil
}

// Close closes the writer. It is safe to call twice.
func (s *KafkaStore) Close() error {
	s.mu.Lock()
	w := s.writer
	s.writer = nil
	s.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Close()
	s.transport.CloseIdleConnections()
	return err
}

// partitionZero sends every record to partition 0: the registry's records
// must stay in one order.
type partitionZero struct{}

func (partitionZero) Balance(kafka.Message, ...int) int { return 0 }
