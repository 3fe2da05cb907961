package replay

// ResetOffsets is `matriz offsets reset`: it moves a stopped lane's
// consumer group to a position, and keeps the lane's saved state from
// ever being ahead of the offsets.
//
// The state rule: a partition's state on matriz.<lane>.state accounts for
// the records up to the offset committed with it. State that runs behind
// the offset is what at-least-once delivery lives with anyway (the records
// in between are not applied to it); state ahead of the offset would count
// records twice. So a forward move keeps the state, and a backward move is
// refused unless the state goes with it: deleted (--reset-state) or set
// from a checkpoint taken at an earlier offset (--to P@NEXT).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// ResetConfig is `matriz offsets reset`.
type ResetConfig struct {
	OffsetsConfig
	// To is where the group goes: start, end and a time move every
	// partition, P:OFFSET pairs only those named, a checkpoint id its
	// partition to the checkpoint's Resume with the checkpoint's state.
	To Position
	// ResetState deletes the state of every partition the reset covers
	// (tombstones for its key and any legacy per-stage keys), so the lane
	// starts those partitions with empty state. With a checkpoint it is
	// ignored: the checkpoint sets the state (the CLI refuses the pair).
	ResetState bool
	// DryRun computes and returns the plan and changes nothing.
	DryRun bool
}

// StateAction is what a reset does with a partition's saved state.
type StateAction string

// The state actions.
const (
	StateKept           StateAction = "kept"            // left as it is
	StateReset          StateAction = "reset"           // tombstoned
	StateFromCheckpoint StateAction = "from checkpoint" // set to the checkpoint's
)

// PartitionReset is one partition's line of a reset plan.
type PartitionReset struct {
	Partition int32
	Committed int64 // NoOffset when the group committed none
	Target    int64
	State     StateAction
	// Tombstones are the state keys the reset deletes: the partition's
	// key and legacy "<partition>/<stage>" keys present on the topic.
	Tombstones []string
	// Checkpoint is the checkpoint written as the partition's state, for
	// StateFromCheckpoint.
	Checkpoint *runtime.Checkpoint

	from int64 // where a member would start now: Committed, or the log start
}

// Backwards reports whether the target is before the committed offset.
func (p PartitionReset) Backwards() bool { return p.Committed != NoOffset && p.Target < p.Committed }

// forward reports whether the group moves on: then the commit goes first
// and the state after it, else the other way round, so that a reset
// failing half way leaves state behind its offset, never ahead.
func (p PartitionReset) forward() bool { return p.Target > p.from }

// Describe says in words what happens to the partition's state.
func (p PartitionReset) Describe() string {
	switch p.State {
	case StateReset:
		return "reset: tombstones for " + strings.Join(p.Tombstones, ", ")
	case StateFromCheckpoint:
		s := fmt.Sprintf("set from checkpoint %s (resume %d)", p.Checkpoint.ID(), p.Checkpoint.Resume)
		if len(p.Tombstones) > 0 {
			s += "; tombstones for " + strings.Join(p.Tombstones, ", ")
		}
		return s
	}
	switch {
	case p.Backwards():
		return fmt.Sprintf("kept, ahead of the new offset: refused (it accounts for records up to %d)", p.Committed)
	case p.Target == p.Committed:
		return "kept (offset unchanged)"
	default:
		return "kept: runs behind the new offset, never ahead"
	}
}

// ResetPlan is what a reset does, or did.
type ResetPlan struct {
	Lane       schemas.Lane
	Group      string
	Topic      string
	To         Position
	State      string // the group's, when planned
	Members    []GroupMember
	Partitions []PartitionReset // by partition
	DryRun     bool
	Applied    bool // offsets committed and state written
}

// StateRecords counts the records the reset writes to the state topic.
func (p *ResetPlan) StateRecords() int {
	n := 0
	for _, pr := range p.Partitions {
		n += len(pr.Tombstones)
		if pr.Checkpoint != nil {
			n++
		}
	}
	return n
}

// Errors a reset refuses with; the typed errors below wrap them.
var (
	// ErrGroupLive: the group has members, which would commit over the
	// reset.
	ErrGroupLive = errors.New("consumer group is live")
	// ErrStateAhead: a partition would move back behind its saved state.
	ErrStateAhead = errors.New("state would be ahead of the offset")
)

// GroupLiveError: the reset was refused because the group is live.
type GroupLiveError struct {
	Group   string
	State   string
	Members []GroupMember
}

func (e *GroupLiveError) Error() string {
	if len(e.Members) == 0 {
		return fmt.Sprintf("group %s is %s: wait until its members have left (state Empty), then reset again", e.Group, e.State)
	}
	hosts := make([]string, 0, len(e.Members))
	for _, m := range e.Members {
		hosts = append(hosts, m.ClientID+"@"+strings.TrimPrefix(m.Host, "/"))
	}
	members := fmt.Sprintf("the %d members", len(e.Members))
	if len(e.Members) == 1 {
		members = "the member"
	}
	return fmt.Sprintf("stop %s of group %s first (%s): a live member commits its own offsets over a reset",
		members, e.Group, strings.Join(hosts, ", "))
}

// Unwrap makes errors.Is(err, ErrGroupLive) hold.
func (e *GroupLiveError) Unwrap() error { return ErrGroupLive }

// StateAheadError: partitions would move back while their state stays.
type StateAheadError struct {
	Group      string
	Partitions []PartitionReset
}

func (e *StateAheadError) Error() string {
	p := e.Partitions[0]
	more := ""
	if n := len(e.Partitions) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more partitions)", n)
	}
	return fmt.Sprintf("partition %d of group %s would move back from %d to %d%s while its saved state accounts for records up to %d: "+
		"add --reset-state to delete that state, or pass --to a checkpoint id P@NEXT to restore state saved at an earlier offset",
		p.Partition, e.Group, p.Committed, p.Target, more, p.Committed)
}

// Unwrap makes errors.Is(err, ErrStateAhead) hold.
func (e *StateAheadError) Unwrap() error { return ErrStateAhead }

// ResetOffsets plans the reset and, unless DryRun, applies it: state
// records (acks=all) and offset commits, ordered per partition so that a
// failure half way leaves state behind its offset. It returns the plan
// also when it refuses — a *GroupLiveError while the group is live, a
// *StateAheadError for a backward move without state to go with it — so
// the caller can show what would have happened.
func ResetOffsets(ctx context.Context, cfg ResetConfig) (*ResetPlan, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lane := string(cfg.Lane)
	lc, err := openLog(ctx, cfg.Brokers, topics.Name(lane, topics.KindMessages))
	if err != nil {
		return nil, err
	}
	defer lc.close()
	now, err := lc.groupOffsets(ctx, cfg.OffsetsConfig)
	if err != nil {
		return nil, err
	}
	plan, err := planReset(ctx, lc, cfg, now)
	if err != nil {
		return nil, err
	}
	if live(now.State, now.Members) {
		return plan, &GroupLiveError{Group: plan.Group, State: now.State, Members: now.Members}
	}
	var ahead []PartitionReset
	for _, p := range plan.Partitions {
		if p.Backwards() && p.State == StateKept {
			ahead = append(ahead, p)
		}
	}
	if len(ahead) > 0 {
		return plan, &StateAheadError{Group: plan.Group, Partitions: ahead}
	}
	if cfg.DryRun {
		return plan, nil
	}
	if err := applyReset(ctx, lc, cfg, plan); err != nil {
		return plan, err
	}
	plan.Applied = true
	return plan, nil
}

// planReset computes every partition's target and state action.
func planReset(ctx context.Context, lc *logClient, cfg ResetConfig, now *GroupOffsets) (*ResetPlan, error) {
	lane := string(cfg.Lane)
	plan := &ResetPlan{Lane: cfg.Lane, Group: now.Group, Topic: now.Topic, To: cfg.To, State: now.State, Members: now.Members, DryRun: cfg.DryRun}
	bounds := make(map[int32]bound, len(now.Partitions))
	current := make(map[int32]PartitionOffsets, len(now.Partitions))
	for _, p := range now.Partitions {
		bounds[p.Partition] = bound{Start: p.Start, End: p.End}
		current[p.Partition] = p
	}

	var (
		targets map[int32]int64
		cp      *runtime.Checkpoint
	)
	if cfg.To.Kind == PositionCheckpoint {
		c, err := FindCheckpoint(ctx, cfg.Brokers, lane, cfg.To.CheckpointID)
		if err != nil {
			return nil, err
		}
		if err := lc.check(bounds, c.Partition, c.Resume); err != nil {
			return nil, fmt.Errorf("checkpoint %s resumes at %d: %w", c.ID(), c.Resume, err)
		}
		cp, targets = c, map[int32]int64{c.Partition: c.Resume}
	} else {
		t, err := lc.resolve(ctx, bounds, cfg.To)
		if err != nil {
			return nil, err
		}
		targets = t
	}

	var stored map[int32][]string
	if cfg.ResetState || cp != nil {
		s, err := storedStateKeys(ctx, cfg.Brokers, lane)
		if err != nil {
			return nil, err
		}
		stored = s
	}
	for _, p := range sortedPartitions(targets) {
		cur := current[p]
		pr := PartitionReset{Partition: p, Committed: cur.Committed, Target: targets[p], State: StateKept, from: max(cur.Committed, cur.Start)}
		switch {
		case cp != nil:
			// The checkpoint is the state; legacy per-stage keys would
			// be an older state beside it, so they go.
			pr.State, pr.Checkpoint = StateFromCheckpoint, cp
			pr.Tombstones = slices.DeleteFunc(slices.Clone(stored[p]), func(k string) bool { return k == runtime.StateKey(p) })
		case cfg.ResetState:
			pr.State = StateReset
			pr.Tombstones = []string{runtime.StateKey(p)}
			for _, k := range stored[p] {
				if k != runtime.StateKey(p) {
					pr.Tombstones = append(pr.Tombstones, k)
				}
			}
		}
		plan.Partitions = append(plan.Partitions, pr)
	}
	return plan, nil
}

// storedStateKeys returns, per partition, the keys that hold a value on
// the lane's state topic now (latest record not a tombstone), sorted: the
// partition's key "<p>" and legacy "<p>/<stage>" keys.
func storedStateKeys(ctx context.Context, brokers []string, lane string) (map[int32][]string, error) {
	latest := map[string]bool{} // key → holds a value
	err := readTopic(ctx, brokers, topics.Name(lane, topics.KindState), func(r logRecord) error {
		latest[string(r.Key)] = r.Value != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[int32][]string{}
	for k, held := range latest {
		if !held {
			continue
		}
		ps, _, _ := strings.Cut(k, "/")
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			continue // not a partition's key
		}
		out[int32(p)] = append(out[int32(p)], k)
	}
	for _, ks := range out {
		slices.Sort(ks)
	}
	return out, nil
}

// applyReset writes the plan: state of backward (and unchanged) partitions
// first, then every offset in one commit, then state of forward ones.
func applyReset(ctx context.Context, lc *logClient, cfg ResetConfig, plan *ResetPlan) error {
	// Checked again right before writing: a member that joined since the
	// plan would make the reset fight it. Kafka refuses the commit then
	// too, but state written before it would already be out.
	state, members, err := lc.describeGroup(ctx, plan.Group)
	if err != nil {
		return err
	}
	if live(state, members) {
		return &GroupLiveError{Group: plan.Group, State: state, Members: members}
	}
	var before, after []topics.Message
	offsets := make(map[int32]int64, len(plan.Partitions))
	for _, p := range plan.Partitions {
		offsets[p.Partition] = p.Target
		recs, err := stateRecords(string(cfg.Lane), p)
		if err != nil {
			return err
		}
		if p.forward() {
			after = append(after, recs...)
		} else {
			before = append(before, recs...)
		}
	}
	if err := writeState(ctx, cfg.Brokers, before); err != nil {
		return err
	}
	if err := lc.commit(ctx, plan.Group, offsets); err != nil {
		return err
	}
	if err := writeState(ctx, cfg.Brokers, after); err != nil {
		return fmt.Errorf("offsets committed, but %w (the state runs behind them; run the reset again to finish it)", err)
	}
	return nil
}

// stateRecords are the state-topic records of one partition's reset.
func stateRecords(lane string, p PartitionReset) ([]topics.Message, error) {
	topic := topics.Name(lane, topics.KindState)
	var out []topics.Message
	for _, k := range p.Tombstones {
		out = append(out, topics.Message{Topic: topic, Key: []byte(k)}) // nil value: a tombstone
	}
	if p.Checkpoint != nil {
		b, err := runtime.EncodeCheckpoint(p.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", p.Checkpoint.ID(), err)
		}
		out = append(out, topics.Message{Topic: topic, Key: []byte(runtime.StateKey(p.Partition)), Value: b})
	}
	return out, nil
}

// writeState writes recs with acks=all through a topics.Sink, so each key
// lands on the partition the runtime's own writes of it do (the same
// murmur2 partitioner), where compaction keeps the latest.
func writeState(ctx context.Context, brokers []string, recs []topics.Message) error {
	if len(recs) == 0 {
		return nil
	}
	sink, err := topics.NewSink(ctx, brokers)
	if err != nil {
		return err
	}
	acks := make([]*topics.Ack, len(recs))
	for i, m := range recs {
		acks[i] = topics.NewAck()
		m.Ack = acks[i]
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	var errs []error
	for i, a := range acks {
		if !a.Resolved() {
			errs = append(errs, fmt.Errorf("state key %s: not acknowledged", recs[i].Key))
		} else if a.Err() != nil {
			errs = append(errs, fmt.Errorf("state key %s: %w", recs[i].Key, a.Err()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("writing the state of the reset: %w", errors.Join(errs...))
	}
	return nil
}
