package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
)

// Group is a consumer-group member built on kafka-go's consumer-group
// generations: every generation hands this member a set of partitions, and
// Run starts one handler per partition. Assignment and revocation are
// visible (OnGeneration), each partition's work is independent, and a
// handler commits through its Claim with the generation it belongs to, so
// a commit from a member that lost the partition is refused by Kafka
// instead of silently moving someone else's offset.
type Group struct {
	cfg     groupConfig
	brokers []string
	id      string
	topics  []string
	cg      *kafka.ConsumerGroup

	closeOnce sync.Once
	closeErr  error
}

// Claim is one partition of one generation, handed to a handler.
type Claim struct {
	Topic      string
	Partition  int32
	Offset     int64 // where to start: the committed offset, or FirstOffset (-2) for a new group
	Generation int32
	MemberID   string

	gen   *kafka.Generation
	lease *lease // the generation's (lease.go)
}

// Commit stores next (the offset of the next record to read) for the
// claim's partition under the claim's generation.
func (c Claim) Commit(next int64) error {
	err := c.gen.CommitOffsets(map[string]map[int]int64{c.Topic: {int(c.Partition): next}})
	if err != nil {
		return fmt.Errorf("commit %s/%d@%d (generation %d): %w", c.Topic, c.Partition, next, c.Generation, err)
	}
	return nil
}

// GenerationInfo describes one generation for the log: which partitions
// this member holds in it.
type GenerationInfo struct {
	ID         int32
	MemberID   string
	Partitions map[string][]int32 // topic → sorted partitions
}

type groupConfig struct {
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	heartbeat        time.Duration
	joinBackoff      time.Duration
	dialTimeout      time.Duration
	clock            clock.Clock
	onGeneration     func(GenerationInfo)
	onError          func(error)
}

// GroupOption configures a Group.
type GroupOption func(*groupConfig)

// GroupSessionTimeout is how long the coordinator waits for a heartbeat
// before it evicts a member (default 10s): the time a crashed worker's
// partitions stay unowned.
func GroupSessionTimeout(d time.Duration) GroupOption {
	return func(c *groupConfig) { c.sessionTimeout = d }
}

// GroupRebalanceTimeout bounds how long members have to finish their
// partitions' work and rejoin in a rebalance (default 20s).
func GroupRebalanceTimeout(d time.Duration) GroupOption {
	return func(c *groupConfig) { c.rebalanceTimeout = d }
}

// GroupHeartbeat sets the heartbeat interval (default 1s); keep it well
// under a third of the session timeout.
func GroupHeartbeat(d time.Duration) GroupOption { return func(c *groupConfig) { c.heartbeat = d } }

// GroupClock sets the clock backoffs wait on (default the wall clock).
func GroupClock(cl clock.Clock) GroupOption { return func(c *groupConfig) { c.clock = cl } }

// GroupOnGeneration is called when a generation starts, with the
// partitions this member holds in it.
func GroupOnGeneration(fn func(GenerationInfo)) GroupOption {
	return func(c *groupConfig) { c.onGeneration = fn }
}

// GroupOnError receives errors the group recovers from (a failed join is
// retried after a backoff).
func GroupOnError(fn func(error)) GroupOption { return func(c *groupConfig) { c.onError = fn } }

func (c groupConfig) validate() error {
	bad := func(opt, reason string) error { return &ConfigError{Component: "group", Option: opt, Reason: reason} }
	switch {
	case c.sessionTimeout < time.Second:
		return bad("session timeout", fmt.Sprintf("%v, want at least 1s", c.sessionTimeout))
	case c.rebalanceTimeout < time.Second:
		return bad("rebalance timeout", fmt.Sprintf("%v, want at least 1s", c.rebalanceTimeout))
	case c.heartbeat <= 0 || c.heartbeat*3 > c.sessionTimeout:
		return bad("heartbeat", fmt.Sprintf("%v, want more than 0 and at most a third of the session timeout %v", c.heartbeat, c.sessionTimeout))
	case c.clock == nil:
		return bad("clock", "nil")
	}
	return nil
}

// NewGroup joins group id on the cluster behind brokers, for topics. It
// checks the brokers answer first, so a wrong address is a
// *BrokerUnreachableError, not a hang.
func NewGroup(ctx context.Context, brokers []string, id string, topics []string, opts ...GroupOption) (*Group, error) {
	cfg := groupConfig{
		sessionTimeout: 10 * time.Second, rebalanceTimeout: 20 * time.Second,
		heartbeat: time.Second, joinBackoff: 500 * time.Millisecond, dialTimeout: defaultDialTimeout,
		clock: clock.Real{},
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkAddrs("group", brokers); err != nil {
		return nil, err
	}
	if id == "" || len(topics) == 0 {
		return nil, &ConfigError{Component: "group", Option: "group/topics", Reason: "want a group id and at least one topic"}
	}
	if err := reachable(ctx, brokers, cfg.dialTimeout); err != nil {
		return nil, err
	}
	// A setting the broker refuses is said before the join, which would
	// otherwise retry it in the background.
	if err := checkSessionTimeout(ctx, brokers, cfg.sessionTimeout); err != nil {
		return nil, err
	}
	gc := kafka.ConsumerGroupConfig{
		ID:                id,
		Brokers:           slices.Clone(brokers),
		Dialer:            SecureDialer(&kafka.Dialer{Timeout: cfg.dialTimeout, DualStack: true}),
		Topics:            slices.Clone(topics),
		HeartbeatInterval: cfg.heartbeat,
		SessionTimeout:    cfg.sessionTimeout,
		RebalanceTimeout:  cfg.rebalanceTimeout,
		JoinGroupBackoff:  cfg.joinBackoff,
		StartOffset:       kafka.FirstOffset,
		Timeout:           cfg.dialTimeout,
	}
	if err := gc.Validate(); err != nil { // NewConsumerGroup would fail on it; name it ours
		return nil, &ConfigError{Component: "group", Option: "consumer group", Reason: err.Error()}
	}
	cg, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return nil, fmt.Errorf("join consumer group %s: %w", id, err)
	}
	return &Group{cfg: cfg, brokers: brokers, id: id, topics: topics, cg: cg}, nil
}

// Run hands every partition of every generation to handle, each in its own
// goroutine, until ctx ends. A handler must return when its context ends:
// that is the revocation (a rebalance ended the generation) or the
// shutdown. Before returning it should finish or abandon its in-flight
// work and commit what is acknowledged; the next generation starts only
// after every handler of this one returned.
//
// When ctx ends, Run leaves the group (it calls Close) and returns once its
// handlers did. It must leave before the handlers see the end: kafka-go
// takes a returning handler for the end of the generation and rejoins at
// once, so the other members would be put through a generation that still
// counts this one — its share of partitions unworked — and Close would wait
// for that rebalance, which waits for the others to drain, up to the
// rebalance timeout that then evicts them. So the handlers' contexts end
// through the generation Close ends, not through ctx directly. Calling
// Close again after Run returned is harmless.
//
// A join the broker refuses for good stops Run with the reason: a
// *SessionTimeoutError, an *AuthorizationError, or a *MissingTopicsError
// when a topic stays missing; every other failed join is reported
// (GroupOnError) and retried after a backoff.
func (g *Group) Run(ctx context.Context, handle func(ctx context.Context, c Claim)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := g.cfg.joinBackoff
	unknownTopic := 0 // joins in a row that found a topic missing
	for {
		gen, err := g.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				g.leave()
				return nil
			}
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			if ferr := g.fatal(ctx, err, &unknownTopic); ferr != nil {
				g.leave()
				return ferr
			}
			g.report(fmt.Errorf("consumer group %s: next generation: %w", g.id, err))
			if !clock.Sleep(ctx, g.cfg.clock, backoff) {
				g.leave()
				return nil
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff, unknownTopic = g.cfg.joinBackoff, 0
		if ctx.Err() != nil { // Next may pick a ready generation over a done ctx
			g.leave()
			return nil
		}
		info := GenerationInfo{ID: gen.ID, MemberID: gen.MemberID, Partitions: map[string][]int32{}}
		for topic, assigned := range gen.Assignments {
			ps := make([]int32, 0, len(assigned))
			for _, a := range assigned {
				ps = append(ps, int32(a.ID))
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			info.Partitions[topic] = ps
		}
		if g.cfg.onGeneration != nil {
			g.cfg.onGeneration(info)
		}
		// The lease starts with a heartbeat of its own, before any
		// handler can write: one that fails leaves it lapsed, and the
		// handlers write nothing in a generation that is already over.
		ls := newLease(g.cfg, g.brokers, g.id, gen)
		_ = ls.heartbeat(ctx)
		gen.Start(func(genCtx context.Context) { ls.renew(genCtx, g.cfg.heartbeat, g.report) })
		for topic, assigned := range gen.Assignments {
			for _, a := range assigned {
				claim := Claim{Topic: topic, Partition: int32(a.ID), Offset: a.Offset, Generation: gen.ID, MemberID: gen.MemberID, gen: gen, lease: ls}
				wg.Add(1)
				gen.Start(func(genCtx context.Context) {
					defer wg.Done()
					// genCtx ends with the generation: on a rebalance, or
					// when leave closes the group (see Run).
					hctx, cancel := context.WithCancel(genCtx)
					defer cancel()
					handle(hctx, claim)
				})
			}
		}
	}
}

// unknownTopicJoins is how many joins in a row must find a topic missing
// before Run gives up: a topic created a moment ago may not be in every
// broker's metadata yet.
const unknownTopicJoins = 3

// fatal returns the error Run stops with when a failed join is one no
// retry can fix — a session timeout the broker refuses, an authorization
// failure, a topic that stays missing — and nil for one worth retrying.
func (g *Group) fatal(ctx context.Context, err error, unknownTopic *int) error {
	if errors.Is(err, kafka.InvalidSessionTimeout) {
		return sessionTimeoutError(ctx, g.brokers, g.cfg.sessionTimeout, err)
	}
	if res := authorizationResource(err); res != "" {
		names := []string{g.id}
		if res == "topic" {
			names = g.topics
		} else if res == "cluster" {
			names = nil
		}
		return &AuthorizationError{Resource: res, Names: names, Err: err}
	}
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		if *unknownTopic++; *unknownTopic >= unknownTopicJoins {
			var missing *MissingTopicsError
			var denied *AuthorizationError
			if cerr := CheckTopics(ctx, g.brokers, g.topics); errors.As(cerr, &missing) || errors.As(cerr, &denied) {
				return cerr
			}
		}
	}
	return nil
}

// leave closes the group: kafka-go ends the current generation (the
// handlers' contexts), waits for the handlers to return and leaves. Close
// keeps its error for the caller's own Close.
func (g *Group) leave() { _ = g.Close() }

func (g *Group) report(err error) {
	if g.cfg.onError != nil {
		g.cfg.onError(err)
	}
}

// Close leaves the group, so its partitions move to the other members at
// once instead of after the session timeout. Run calls it when its context
// ends; call it after Run returned (it returns the same result), or
// instead of Run.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		if err := g.cg.Close(); err != nil && !errors.Is(err, kafka.ErrGroupClosed) {
			g.closeErr = fmt.Errorf("leave consumer group %s: %w", g.id, err)
		}
	})
	return g.closeErr
}
