package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Status is what Ensure did, or would do, with one topic.
type Status string

// The outcomes of Ensure.
const (
	StatusCreated     Status = "created"
	StatusExists      Status = "exists"       // present and matching the spec
	StatusDiffers     Status = "differs"      // present, partitions or configs differ; left alone
	StatusWouldCreate Status = "would create" // dry run: missing, not created
	StatusFailed      Status = "failed"       // Kafka refused; Detail says why
)

// Outcome is Ensure's verdict on one spec.
type Outcome struct {
	Topic  string
	Status Status
	// Detail explains a differs ("partitions 3 want 6; retention.ms 1000
	// want -1"), a failure, or what was created ("6 partitions").
	Detail string
}

// String renders the line `matriz deploy` prints: "topic: status (detail)".
func (o Outcome) String() string {
	if o.Detail == "" {
		return o.Topic + ": " + string(o.Status)
	}
	return fmt.Sprintf("%s: %s (%s)", o.Topic, o.Status, o.Detail)
}

// Admin applies topic specs to any Kafka cluster. Ensure creates what is
// missing and reports what differs; it never deletes, alters configs or
// adds partitions, because changing a live topic (above all its partition
// count, which remaps keys) is an operator's decision, not a deploy side
// effect. Deleting is DeleteTopics, called only by a command a person ran
// to delete those topics (`matriz replay rm`).
type Admin struct {
	addrs []string
	cfg   adminConfig
}

type adminConfig struct {
	dialTimeout    time.Duration
	requestTimeout time.Duration
}

// AdminOption configures an Admin.
type AdminOption func(*adminConfig)

// AdminDialTimeout bounds each TCP dial, overriding the default 3s.
func AdminDialTimeout(d time.Duration) AdminOption {
	return func(c *adminConfig) { c.dialTimeout = d }
}

// AdminRequestTimeout bounds each admin request, overriding the default 10s.
func AdminRequestTimeout(d time.Duration) AdminOption {
	return func(c *adminConfig) { c.requestTimeout = d }
}

func (c adminConfig) validate() error {
	if c.dialTimeout <= 0 {
		return &ConfigError{Component: "admin", Option: "dial timeout", Reason: fmt.Sprintf("%v, want > 0", c.dialTimeout)}
	}
	if c.requestTimeout <= 0 {
		return &ConfigError{Component: "admin", Option: "request timeout", Reason: fmt.Sprintf("%v, want > 0", c.requestTimeout)}
	}
	return nil
}

// NewAdmin returns an Admin for the cluster behind brokers (host:port
// each). It validates and does no I/O; Ensure dials.
func NewAdmin(brokers []string, opts ...AdminOption) (*Admin, error) {
	cfg := adminConfig{dialTimeout: defaultDialTimeout, requestTimeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkAddrs("admin", brokers); err != nil {
		return nil, err
	}
	return &Admin{addrs: slices.Clone(brokers), cfg: cfg}, nil
}

// Ensure makes every spec exist, or with dryRun only says what it would do.
// It returns one Outcome per spec, in order. A spec that fails Validate (or
// a duplicate name) stops it before any request; an unreachable cluster
// returns a *BrokerUnreachableError; topics Kafka refuses get StatusFailed
// and are joined into the returned error as *TopicError, the others still
// get their outcome. Running Ensure twice changes nothing the second time.
func (a *Admin) Ensure(ctx context.Context, specs []Spec, dryRun bool) ([]Outcome, error) {
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, &SpecError{Topic: s.Name, Field: "name", Reason: "listed twice"}
		}
		seen[s.Name] = true
	}
	if len(specs) == 0 {
		return nil, nil
	}
	if err := reachable(ctx, a.addrs, a.cfg.dialTimeout); err != nil {
		return nil, err
	}

	// A fresh transport per call: kafka-go caches metadata per transport,
	// and a cache older than this call could hide a topic someone else
	// created meanwhile.
	tr := SecureTransport(&kafka.Transport{DialTimeout: a.cfg.dialTimeout})
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(a.addrs...), Timeout: a.cfg.requestTimeout, Transport: tr}

	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	present, err := describeTopics(ctx, cl, names)
	if err != nil {
		return nil, err
	}

	out := make([]Outcome, len(specs))
	var create []kafka.TopicConfig
	var errs []error
	for i, s := range specs {
		out[i].Topic = s.Name
		t, ok := present[s.Name]
		switch {
		case ok && t.err != nil:
			out[i].Status, out[i].Detail = StatusFailed, t.err.Error()
			errs = append(errs, &TopicError{Topic: s.Name, Err: t.err})
		case ok:
			out[i].Status, out[i].Detail = compare(s, t)
		case dryRun:
			out[i].Status, out[i].Detail = StatusWouldCreate, created(s)
		default:
			create = append(create, topicConfig(s))
		}
	}
	if len(create) == 0 {
		return out, errors.Join(errs...)
	}

	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: create})
	if err != nil {
		return nil, fmt.Errorf("create topics: %w", err)
	}
	var raced []string
	for i, s := range specs {
		if out[i].Status != "" {
			continue
		}
		switch cerr := res.Errors[s.Name]; {
		case cerr == nil:
			out[i].Status, out[i].Detail = StatusCreated, created(s)
		case errors.Is(cerr, kafka.TopicAlreadyExists):
			raced = append(raced, s.Name) // created by someone else since describe
		default:
			out[i].Status, out[i].Detail = StatusFailed, cerr.Error()
			errs = append(errs, &TopicError{Topic: s.Name, Err: cerr})
		}
	}
	if len(raced) > 0 {
		again, err := describeTopics(ctx, cl, raced)
		if err != nil {
			return nil, err
		}
		for i, s := range specs {
			if t, ok := again[s.Name]; ok && out[i].Status == "" {
				out[i].Status, out[i].Detail = compare(s, t)
			}
		}
	}
	return out, errors.Join(errs...)
}

// existing is what the cluster says about one topic.
type existing struct {
	partitions  int
	replication int // replicas of partition 0; 0 when unknown
	configs     map[string]string
	err         error // the topic exists but could not be described
}

// describeTopics returns the topics among names that exist, with
// partitions and configs. Missing topics are absent from the map.
func describeTopics(ctx context.Context, cl *kafka.Client, names []string) (map[string]existing, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, SecurityHint(fmt.Errorf("read topic metadata: %w", err))
	}
	found := make(map[string]existing, len(names))
	var res []kafka.DescribeConfigRequestResource
	for _, t := range md.Topics {
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			continue
		case t.Error != nil:
			found[t.Name] = existing{err: t.Error}
			continue
		}
		e := existing{partitions: len(t.Partitions)}
		for _, p := range t.Partitions {
			if p.ID == 0 {
				e.replication = len(p.Replicas)
			}
		}
		found[t.Name] = e
		res = append(res, kafka.DescribeConfigRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: t.Name})
	}
	if len(res) == 0 {
		return found, nil
	}
	dc, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: res})
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, r := range dc.Resources {
		e, ok := found[r.ResourceName]
		if !ok {
			continue
		}
		if r.Error != nil {
			e.err = r.Error
		} else {
			e.configs = make(map[string]string, len(r.ConfigEntries))
			for _, c := range r.ConfigEntries {
				e.configs[c.ConfigName] = c.ConfigValue
			}
		}
		found[r.ResourceName] = e
	}
	return found, nil
}

// compare lists every way t differs from s, in a stable order: partitions,
// replication, then configs by key.
func compare(s Spec, t existing) (Status, string) {
	var diffs []string
	if t.partitions != s.Partitions {
		diffs = append(diffs, fmt.Sprintf("partitions %d want %d", t.partitions, s.Partitions))
	}
	// More replicas than asked for is stronger, not different: only fewer
	// weakens what acks=all promises.
	if s.ReplicationFactor > 0 && t.replication > 0 && t.replication < s.ReplicationFactor {
		diffs = append(diffs, fmt.Sprintf("replication %d want %d", t.replication, s.ReplicationFactor))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
		want := s.Configs[k]
		got, ok := t.configs[k]
		if k == ConfigMinInsyncReplicas {
			if weaker, have := fewerInsync(got, ok, want); weaker {
				diffs = append(diffs, fmt.Sprintf("%s %s want %s", k, have, want))
			}
			continue
		}
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s unset want %s", k, want))
		case normalize(k, got) != normalize(k, want):
			diffs = append(diffs, fmt.Sprintf("%s %s want %s", k, got, want))
		}
	}
	if len(diffs) == 0 {
		return StatusExists, ""
	}
	return StatusDiffers, strings.Join(diffs, "; ")
}

// fewerInsync reports whether a topic's min.insync.replicas (unset: the
// broker default, 1) is below want: acks=all then waits for fewer
// replicas than the deploy asks for. A higher value is stronger.
func fewerInsync(got string, set bool, want string) (weaker bool, have string) {
	have = got
	if !set || got == "" {
		have = "1"
	}
	g, gerr := strconv.Atoi(have)
	w, werr := strconv.Atoi(want)
	if gerr != nil || werr != nil {
		return have != want, have
	}
	return g < w, have
}

// BrokerCount returns how many brokers the cluster's metadata lists.
func (a *Admin) BrokerCount(ctx context.Context) (int, error) {
	if err := reachable(ctx, a.addrs, a.cfg.dialTimeout); err != nil {
		return 0, err
	}
	tr := SecureTransport(&kafka.Transport{DialTimeout: a.cfg.dialTimeout})
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(a.addrs...), Timeout: a.cfg.requestTimeout, Transport: tr}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return 0, SecurityHint(fmt.Errorf("read cluster metadata: %w", err))
	}
	return len(md.Brokers), nil
}

// normalize makes equal config values compare equal: cleanup.policy is a
// set ("compact,delete" = "delete,compact").
func normalize(key, v string) string {
	if key != ConfigCleanupPolicy {
		return v
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func created(s Spec) string {
	d := strconv.Itoa(s.Partitions) + " partitions"
	if s.Compacted {
		d += ", compacted"
	} else if r, ok := s.Configs[ConfigRetentionMs]; ok {
		d += ", retention.ms " + r
	}
	if s.ReplicationFactor > 0 {
		d += ", replication " + strconv.Itoa(s.ReplicationFactor)
	}
	if m, ok := s.Configs[ConfigMinInsyncReplicas]; ok {
		d += ", min.insync.replicas " + m
	}
	return d
}

func topicConfig(s Spec) kafka.TopicConfig {
	tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
	for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: s.Configs[k]})
	}
	return tc
}

// ListTopics returns every topic on the cluster with its partition count,
// Kafka's internal topics (__consumer_offsets, …) left out. An unreachable
// cluster returns a *BrokerUnreachableError.
func (a *Admin) ListTopics(ctx context.Context) (map[string]int, error) {
	cl, done, err := a.client(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{}) // no topics named: all of them
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make(map[string]int, len(md.Topics))
	for _, t := range md.Topics {
		if t.Internal || t.Error != nil {
			continue
		}
		out[t.Name] = len(t.Partitions)
	}
	return out, nil
}

// DeleteTopics deletes the named topics and their records. A topic that
// does not exist is not an error (the goal, its absence, holds); every
// other refusal comes back as a *TopicError, joined.
func (a *Admin) DeleteTopics(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	cl, done, err := a.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	var errs []error
	for _, n := range names {
		if e := res.Errors[n]; e != nil && !errors.Is(e, kafka.UnknownTopicOrPartition) {
			errs = append(errs, &TopicError{Topic: n, Err: e})
		}
	}
	return errors.Join(errs...)
}

// client checks the cluster answers and returns a kafka-go client on a
// fresh transport (see Ensure for why fresh), and what closes it.
func (a *Admin) client(ctx context.Context) (*kafka.Client, func(), error) {
	if err := reachable(ctx, a.addrs, a.cfg.dialTimeout); err != nil {
		return nil, nil, err
	}
	tr := SecureTransport(&kafka.Transport{DialTimeout: a.cfg.dialTimeout})
	cl := &kafka.Client{Addr: kafka.TCP(a.addrs...), Timeout: a.cfg.requestTimeout, Transport: tr}
	return cl, tr.CloseIdleConnections, nil
}
