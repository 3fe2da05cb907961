package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// Config configures one lane's runtime as a consumer-group member.
type Config struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	Group       string     // default "matriz-<lane>", or "matriz-<lane>-<namespace>" for a side
	Spec        *spec.Spec // default: the embedded spec
	Getenv      func(string) string
	// Namespace, when set, runs the lane as a blue/green side: its outputs,
	// decisions, state and checkpoints under matriz.<lane>.<namespace>.*
	// (side.go).
	Namespace string

	// Metrics are shared by every lane in one process; nil makes a private
	// set on a private registry.
	Metrics  *observe.Metrics
	Counters *observe.LaneCounters
	Clock    clock.Clock
	Logger   *slog.Logger
	Executor stages.Executor // performs guardian-approved external actions
	// Tracer, when set, traces every frame and stage (observe/trace.go);
	// nil is tracing off.
	Tracer *observe.Tracer
	// ReaderVersion is the MatrizMessage schema version the lane reads
	// with (default the newest): every writer schema is resolved into it,
	// so a v2 lane reads v1 messages with v2's defaults, and a v1 lane
	// reads v2 messages without the v2 fields. It is how a rolling upgrade
	// moves a lane to a new version while producers still write the old.
	ReaderVersion schemas.Version

	// Ready, when set, is called once the lane has joined its group.
	Ready func()
	// Readiness, when set, follows whether the lane does its work and why
	// not (ready.go), for /readyz; nil keeps a private one.
	Readiness *Readiness
	// OnGeneration reports each generation's assignment.
	OnGeneration func(topics.GenerationInfo)
	// OnFlagChange reports each effective flag change from matriz.control,
	// after it is in force (the next frame carries it).
	OnFlagChange func(FlagChange)

	SessionTimeout time.Duration // default 10s
	CommitInterval time.Duration // default 1s: how often a partition commits its latest durable checkpoint
	// DrainTimeout bounds finishing a partition's in-flight work once its
	// generation ended (a rebalance or shutdown): the graph, the outputs'
	// acknowledgements, the last state write and commit. Default half the
	// session timeout, and at most that: the group stops heartbeating when
	// the generation ends, and a member still draining at its session
	// timeout is evicted while it writes (drain.go).
	DrainTimeout time.Duration
	IdleAfter    time.Duration // default 100ms without input before an idle partition closes all its frames
	// IdleCheck is how often a caught-up partition's open frames are held
	// against their deadlines — end plus grace, in the partition's event
	// time reckoned by our clock from its records' event times and their
	// slowest recent delivery — so a quiet partition's frame closes within
	// a frame plus the grace of its last input when deliveries are even
	// (default operators.DefaultIdleCheck). IdleAfter or more checks only
	// after IdleAfter of quiet.
	IdleCheck time.Duration
	// CheckpointEvery is how much event time passes between two of a
	// partition's checkpoints on matriz.<lane>.checkpoints (default 10s).
	CheckpointEvery time.Duration
	// WriteRetryFor is how long the lane's output writes ride out a broker
	// outage before the lane stops (default DefaultWriteRetryFor).
	WriteRetryFor time.Duration
	// RegistryProbeEvery is how often the lane asks the schema registry
	// whether it answers, to say on /readyz when it does not (default
	// DefaultRegistryProbeEvery).
	RegistryProbeEvery time.Duration

	// controlHold, in tests, holds every matriz.control record back until
	// it closes: a control topic that cannot be read.
	controlHold <-chan struct{}
	// approvalsHold, in tests, holds every approval record back until it
	// closes: an approvals topic read late.
	approvalsHold <-chan struct{}
	// controlWaitLog is how often a lane waiting for matriz.control says
	// so (default 5s).
	controlWaitLog time.Duration
	// wrapStage, in this package's tests, decorates every stage instance
	// (a stage that fails or panics on chosen records).
	wrapStage func(stages.Stage) stages.Stage
	// MaxFutureSkew is how far a message's ts may run ahead of its Kafka
	// record timestamp (default DefaultMaxFutureSkew); a record further
	// ahead goes to the DLQ as future_timestamp (timestamps.go).
	MaxFutureSkew time.Duration
}

// DefaultWriteRetryFor is how long a lane's output writes ride out a
// broker outage (connection refused, no leader, timeouts) before the lane
// stops: longer than a broker restart takes.
const DefaultWriteRetryFor = topics.DefaultSinkRetryFor

// GroupName is the consumer group a lane runs in: group when set, else
// matriz-<lane>.
func GroupName(group string, lane schemas.Lane) string {
	if group != "" {
		return group
	}
	return "matriz-" + string(lane)
}

func (c *Config) defaults() error {
	if !c.Lane.Valid() {
		return fmt.Errorf("lane %q: want experimental, candidate or prod", c.Lane)
	}
	if c.Namespace != "" {
		if err := CheckNamespace(c.Namespace); err != nil {
			return err
		}
		if c.Group == "" {
			c.Group = GroupName("", c.Lane) + "-" + c.Namespace
		}
	}
	c.Group = GroupName(c.Group, c.Lane)
	// Every setting is checked before anything connects: a reader version
	// the binary does not hold would otherwise join the group, take
	// partitions and fail on every record.
	if _, err := schemas.SchemaOf(schemas.NameMessage, c.ReaderVersion); err != nil {
		return fmt.Errorf("reader version: %w", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"session timeout", c.SessionTimeout}, {"commit interval", c.CommitInterval}, {"drain timeout", c.DrainTimeout}, {"idle after", c.IdleAfter}, {"idle check", c.IdleCheck}, {"checkpoint every", c.CheckpointEvery}, {"max future skew", c.MaxFutureSkew}, {"write retry for", c.WriteRetryFor}, {"registry probe every", c.RegistryProbeEvery}} {
		if d.v < 0 {
			return fmt.Errorf("%s %v: want a positive duration (0: the default)", d.name, d.v)
		}
	}
	if c.Spec == nil {
		s, err := spec.Default()
		if err != nil {
			return err
		}
		c.Spec = s
	}
	if c.Getenv == nil {
		c.Getenv = func(string) string { return "" }
	}
	if ls := c.Spec.Lanes[c.Lane]; ls != nil {
		// A flag value the environment spells wrong ("maybe") is a setting
		// too: refused here, not after the brokers and the registry answered.
		if _, err := StartFlags(c.Spec.Flags, *ls, c.Getenv); err != nil {
			return err
		}
	}
	if c.Metrics == nil {
		m, err := observe.NewMetrics(prometheus.NewRegistry())
		if err != nil {
			return err
		}
		c.Metrics = m
	}
	if c.Counters == nil {
		c.Counters = &observe.LaneCounters{}
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SessionTimeout, 10*time.Second)
	def(&c.CommitInterval, time.Second)
	def(&c.DrainTimeout, c.SessionTimeout/2)
	def(&c.IdleAfter, 100*time.Millisecond)
	def(&c.IdleCheck, operators.DefaultIdleCheck)
	def(&c.CheckpointEvery, 10*time.Second)
	def(&c.controlWaitLog, 5*time.Second)
	if c.Readiness == nil {
		c.Readiness = NewReadiness()
	}
	def(&c.MaxFutureSkew, DefaultMaxFutureSkew)
	def(&c.WriteRetryFor, DefaultWriteRetryFor)
	return nil
}

// laneRuntime is what every partition worker of one lane shares.
type laneRuntime struct {
	cfg        Config
	lane       schemas.Lane
	spec       *spec.Lane
	clock      clock.Clock
	log        *slog.Logger
	serde      *serde.Serde
	ids        laneIDs
	chain      *spec.Chain
	flags      *LiveFlags
	sinks      *sinkPool // the lane's Sinks; a partition writes through one (sink_pool.go)
	obs        *observe.Lane
	sourceOpts []topics.SourceOption
	namespace  string          // a replay's output namespace; "" for the live topics
	canary     *laneCanary     // the lane's canary (canary.go); nil: none
	side       string          // a blue/green side's namespace (side.go); "" for the lane itself
	glyph      string          // a replay's glyph: only its outputs are written
	work       context.Context // outlives the shutdown signal: in-flight work finishes on it
	fatal      func(error)     // stops the lane with an error
	ready      *Readiness      // nil in a replay
	// approvalCount counts the approvals read; partitions it woke compare
	// it with what their last frame saw (approval_wake.go).
	approvalCount atomic.Int64
	verdicts      approvalVerdicts // approval_verdict.go
	hwm           watermarks       // the messages partitions' polled ends (watermarks.go)
	// scans is the current generation's shared read of the event log
	// (restart_scans.go).
	scans atomic.Pointer[restartScans]
}

func (lr *laneRuntime) reportErr(err error) {
	lr.log.Warn("runtime", "lane", lr.lane, "err", err)
}

// sinkErr handles the lane Sink's errors: a write it gave up on is fatal.
// The records behind it never commit, so carrying on would only pile up
// work a restart must redo; stopping makes the failure loud, and the
// restart reprocesses from the last commit (nothing is lost).
func (lr *laneRuntime) sinkErr(err error) {
	var we *topics.WriteError
	if errors.As(err, &we) {
		lr.log.Error("output write failed; stopping the lane", "lane", lr.lane, "err", err)
		lr.fatal(fmt.Errorf("writing outputs failed, stopping so a restart reprocesses from the last commit: %w", err))
		return
	}
	lr.reportErr(err)
}

// Run runs one lane until ctx ends: it joins the lane's consumer group and
// works every partition it is assigned through the stage chain, writing
// results, events, traces and actions, and bad input to the DLQ, with
// at-least-once delivery (offsets commit only after every output is
// acknowledged with acks=all). When ctx ends it stops fetching, finishes
// the open frames, flushes, commits and leaves the group.
func Run(ctx context.Context, cfg Config) (err error) {
	if err := cfg.defaults(); err != nil {
		return err
	}
	if cfg.DrainTimeout > cfg.SessionTimeout/2 {
		return fmt.Errorf("drain timeout %v: want at most half the session timeout %v: the group stops heartbeating when a generation ends, so a longer drain gets the member evicted while it still writes (raise the session timeout, or leave the drain timeout unset)", cfg.DrainTimeout, cfg.SessionTimeout)
	}
	ls := cfg.Spec.Lanes[cfg.Lane]
	lane := string(cfg.Lane)
	lr := &laneRuntime{
		cfg: cfg, lane: cfg.Lane, spec: ls, clock: cfg.Clock, log: cfg.Logger, side: cfg.Namespace,
		obs: observe.NewLane(cfg.Lane, cfg.Metrics, cfg.Counters),
		sourceOpts: []topics.SourceOption{topics.SourceClock(cfg.Clock), topics.SourceOnError(func(e error) {
			if !errors.Is(e, topics.ErrFenced) { // one per record of a fenced worker: its claim's end is reported once
				cfg.Logger.Warn("kafka", "lane", lane, "err", e)
			}
		})},
	}
	work := context.WithoutCancel(ctx) // shutdown is ctx ending; the work itself finishes first
	lr.work = work
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	lr.ready = cfg.Readiness
	lr.ready.set(reasonJoin, fmt.Sprintf("lane %s is starting: it has not joined its consumer group %s yet", lane, cfg.Group))
	defer func() { lr.stopped(err) }()
	lr.fatal = func(err error) {
		lr.ready.set(reasonFatal, fmt.Sprintf("lane %s is stopping on a fatal error: %v", lane, err))
		stop(err)
	}

	// A --brokers address that is another service's port would otherwise
	// surface as a missing topic ("run matriz deploy").
	if err := topics.ProbeKafka(ctx, cfg.Brokers, 5*time.Second); err != nil {
		return err
	}
	if err := checkDeployed(ctx, cfg.Brokers, cfg.Lane); err != nil {
		return err
	}
	if ls.Canary != nil && lr.side == "" {
		if err := checkCanaryDeployed(ctx, cfg.Brokers, cfg.Lane); err != nil {
			return err
		}
	}
	if lr.side != "" {
		if err := joinErr(cfg.Lane, topics.CheckTopics(ctx, cfg.Brokers, sideTopics(lr)), true); err != nil {
			if nd, ok := err.(*NotDeployedError); ok {
				nd.Side = lr.side
			}
			return err
		}
	}
	if lr.serde, err = serde.Open(work, cfg.RegistryURL, serde.Subjects([]schemas.Lane{cfg.Lane})); err != nil {
		return err
	}
	probing, stopProbing := context.WithCancel(ctx)
	probed := make(chan struct{})
	go func() { defer close(probed); lr.probeRegistry(probing) }()
	defer func() { stopProbing(); <-probed }()
	if lr.ids, err = resolveLaneIDs(lr.serde, lane); err != nil {
		return err
	}
	lr.checkPartitions(ctx)
	// External actions execute at most once across redelivery: the guard
	// acknowledges an executing record before each call and refuses to call
	// again for an action some owner already started.
	once, err := NewActionOnce(work, ActionOnceConfig{Lane: cfg.Lane, Brokers: cfg.Brokers, Serde: lr.serde, Executor: cfg.Executor, OnError: lr.reportErr})
	if err != nil {
		return err
	}
	defer once.Close()
	lr.verdicts.index = once
	defer lr.verdicts.close()

	start, err := StartFlags(cfg.Spec.Flags, *ls, cfg.Getenv)
	if err != nil {
		return err
	}
	lr.flags = NewLiveFlags(cfg.Lane, start)
	traced := observe.WrapTracer(cfg.Tracer)
	wrap := func(st stages.Stage) stages.Stage { return observe.Wrap(cfg.Lane, st, cfg.Metrics, cfg.Clock, traced) }
	if cfg.wrapStage != nil {
		wrap = func(st stages.Stage) stages.Stage {
			return observe.Wrap(cfg.Lane, cfg.wrapStage(st), cfg.Metrics, cfg.Clock, traced)
		}
	}
	if lr.chain, err = ls.Chain(cfg.Lane, spec.ChainOptions{Executor: once, Wrap: wrap}); err != nil {
		return err
	}
	if ls.Canary != nil && lr.side == "" {
		if lr.canary, err = newLaneCanary(cfg.Lane, ls.Canary); err != nil {
			return err
		}
	}

	lr.sinks, err = newSinkPool(work, DefaultLaneSinks, cfg.Brokers,
		topics.SinkClock(cfg.Clock),
		topics.SinkOnError(lr.sinkErr),
		topics.SinkOnWritten(countWritten(lr.topic(topics.KindResults), lr.topic(topics.KindDLQ), lr.obs)),
		topics.SinkRetryFor(cfg.WriteRetryFor))
	if err != nil {
		return err
	}
	defer lr.sinks.close()
	// The sinks run on work, which never ends: a broker outage at shutdown
	// would keep them retrying for their whole window. At the signal they
	// stop waiting for the broker to come back, and with the drain they
	// stop altogether: what is unacknowledged is not committed.
	defer context.AfterFunc(ctx, func() {
		lr.sinks.endRetryWindow()
		once.sink.EndRetryWindow()
		t := cfg.Clock.NewTicker(cfg.DrainTimeout)
		defer t.Stop()
		for _, s := range append(slices.Clone(lr.sinks.sinks), once.sink) {
			select {
			case <-s.Done():
			case <-t.C():
				lr.sinks.abort()
				once.sink.Abort()
				return
			}
		}
	})()

	control, err := topics.StartTail(work, cfg.Brokers, topics.ControlTopic, heldBack(ctx, cfg.controlHold, lr.applyControl), lr.reportErr)
	if err != nil {
		return err
	}
	defer control.Close()
	approvals, err := topics.StartTail(work, cfg.Brokers, topics.Name(lane, topics.KindApprovals), heldBack(ctx, cfg.approvalsHold, lr.applyApproval), lr.reportErr)
	if err != nil {
		return err
	}
	defer approvals.Close()
	go func() {
		select {
		case <-approvals.CaughtUp():
			lr.verdicts.live.Store(true)
		case <-work.Done():
		}
	}()
	// No partition is worked on flags not read from matriz.control: the
	// lane joins its group only once it has read the topic to its end
	// (control.go).
	if !lr.awaitControl(ctx, control.CaughtUp()) {
		return nil
	}
	// Approvals recorded before this start apply from the first frame; a
	// topic that does not catch up in time is reported, not fatal (an
	// approval read late only makes its action wait longer).
	wait := cfg.Clock.NewTicker(10 * time.Second)
	for _, t := range []interface{ CaughtUp() <-chan struct{} }{approvals, once} {
		select {
		case <-t.CaughtUp():
		case <-ctx.Done():
			wait.Stop()
			return nil
		case <-wait.C():
			lr.log.Warn("approvals or actions topic still catching up; starting anyway", "lane", lane)
		}
	}
	wait.Stop()

	var joined sync.Once
	group, err := topics.NewGroup(work, cfg.Brokers, cfg.Group, []string{topics.Name(lane, topics.KindMessages)},
		topics.GroupSessionTimeout(cfg.SessionTimeout),
		topics.GroupHeartbeat(max(cfg.SessionTimeout/10, 100*time.Millisecond)),
		topics.GroupClock(cfg.Clock),
		topics.GroupOnError(lr.reportErr),
		topics.GroupOnGeneration(func(g topics.GenerationInfo) {
			lr.log.Info("generation", "lane", lane, "generation", g.ID, "member", g.MemberID, "partitions", g.Partitions)
			lr.scans.Store(newRestartScans(lr.work, g.ID, g.Partitions[topics.Name(lane, topics.KindMessages)], lr.scanDecisions))
			if cfg.OnGeneration != nil {
				cfg.OnGeneration(g)
			}
			// Joined is said once the broker accepted the member: a join
			// it refuses is retried or stops the lane, never "joined".
			joined.Do(func() {
				lr.ready.set(reasonJoin, "")
				if cfg.Ready != nil {
					cfg.Ready()
				}
			})
		}))
	if err != nil {
		return joinErr(cfg.Lane, err, false)
	}
	lr.ready.set(reasonJoin, fmt.Sprintf("lane %s is joining its consumer group %s", lane, cfg.Group))
	polled := make(chan struct{})
	go func() { defer close(polled); lr.pollWatermarks(runCtx) }()
	defer func() { stop(nil); <-polled }()
	runErr := joinErr(cfg.Lane, group.Run(runCtx, lr.handlePartition), false)
	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		runErr = errors.Join(runErr, cause)
	}
	return errors.Join(runErr, group.Close())
}

// checkPartitions says when the spec's partition count for the lane is not
// the messages topic's: a running lane cannot change it (the topic and the
// group's assignment own it), so the spec's value is reported as not
// applied rather than silently ignored. `matriz deploy` applies it.
func (lr *laneRuntime) checkPartitions(ctx context.Context) {
	want := lr.spec.Partitions
	if want <= 0 {
		return
	}
	topic := topics.Name(string(lr.lane), topics.KindMessages)
	ends, err := topics.PartitionEnds(ctx, lr.cfg.Brokers, topic)
	if err != nil || len(ends) == 0 || len(ends) == want {
		return // a topic that cannot be read is reported when the group joins
	}
	lr.log.Warn(fmt.Sprintf("the spec's partitions (%d) are not applied by run: %s has %d partitions, and a lane's partition count is set by `matriz deploy --pipeline FILE` (it can add partitions, never remove them)",
		want, topic, len(ends)), "lane", lr.lane, "field", "lanes."+string(lr.lane)+".partitions")
}

// countWritten counts each record Kafka acknowledged by its topic kind:
// results are the lane's output, DLQ records are counted by reason.
func countWritten(results, dlq string, obs *observe.Lane) func(topics.Message) {
	return func(m topics.Message) {
		switch m.Topic {
		case results:
			obs.ResultWritten()
		case dlq:
			obs.DLQWritten(string(m.Header(HeaderDLQReason)))
		}
	}
}

// heldBack returns apply, or, with a test's hold, apply delayed until hold
// closes (a topic that cannot be read yet) or ctx ends.
func heldBack(ctx context.Context, hold <-chan struct{}, apply func(topics.Message)) func(topics.Message) {
	if hold == nil {
		return apply
	}
	return func(m topics.Message) {
		select {
		case <-hold:
			apply(m)
		case <-ctx.Done():
		}
	}
}
