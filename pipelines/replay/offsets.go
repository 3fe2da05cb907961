package replay

// Offsets is `matriz offsets`: a lane's consumer group on its messages
// topic, as kafka-consumer-groups shows it — committed offset, log start,
// end and lag per partition, and whether the group has live members.
// ResetOffsets (offsets_reset.go) moves it.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// NoOffset is a partition's Committed when the group committed none there:
// a member then starts at the log start.
const NoOffset int64 = -1

// OffsetsConfig names a lane's consumer group and the cluster it is on.
type OffsetsConfig struct {
	Lane    schemas.Lane
	Group   string // default matriz-<lane>, as `matriz run` joins it
	Brokers []string
}

// GroupName is the group the config names.
func (c OffsetsConfig) GroupName() string { return runtime.GroupName(c.Group, c.Lane) }

func (c OffsetsConfig) validate() error {
	if !c.Lane.Valid() {
		return fmt.Errorf("%w: %q (want experimental, candidate or prod)", topics.ErrUnknownLane, c.Lane)
	}
	return nil
}

// GroupMember is one live member of a consumer group.
type GroupMember struct {
	ID, ClientID, Host string
}

// PartitionOffsets is one partition of the lane's messages topic as the
// group stands on it.
type PartitionOffsets struct {
	Partition int32
	Committed int64 // NoOffset when the group committed none
	Start     int64 // log start offset
	End       int64 // high watermark: the offset the next record gets
	// Lag is what the group has still to read: End minus where it would
	// start, its committed offset or, with none (or one retention passed),
	// the log start.
	Lag int64
}

// GroupOffsets is `matriz offsets show`.
type GroupOffsets struct {
	Lane       schemas.Lane
	Group      string
	Topic      string
	State      string // the coordinator's word: Empty, Stable, PreparingRebalance, … ("Dead" for a group never seen)
	Members    []GroupMember
	Partitions []PartitionOffsets // by partition
}

// Live reports whether the group has members, or is between generations
// (a rebalance in progress has members joining that may not be listed).
func (g *GroupOffsets) Live() bool { return live(g.State, g.Members) }

// TotalLag sums the partitions' lag.
func (g *GroupOffsets) TotalLag() int64 {
	var n int64
	for _, p := range g.Partitions {
		n += p.Lag
	}
	return n
}

// ShowOffsets reads the group's committed offsets, each partition's log
// start and end, and the group's members.
func ShowOffsets(ctx context.Context, cfg OffsetsConfig) (*GroupOffsets, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lc, err := openLog(ctx, cfg.Brokers, topics.Name(string(cfg.Lane), topics.KindMessages))
	if err != nil {
		return nil, err
	}
	defer lc.close()
	return lc.groupOffsets(ctx, cfg)
}

// groupOffsets is ShowOffsets on an open client.
func (lc *logClient) groupOffsets(ctx context.Context, cfg OffsetsConfig) (*GroupOffsets, error) {
	group := cfg.GroupName()
	bounds, err := lc.bounds(ctx)
	if err != nil {
		return nil, err
	}
	state, members, err := lc.describeGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	committed, err := lc.committed(ctx, group)
	if err != nil {
		return nil, err
	}
	g := &GroupOffsets{Lane: cfg.Lane, Group: group, Topic: lc.topic, State: state, Members: members}
	for _, p := range sortedPartitions(bounds) {
		b := bounds[p]
		c, ok := committed[p]
		if !ok {
			c = NoOffset
		}
		g.Partitions = append(g.Partitions, PartitionOffsets{Partition: p, Committed: c, Start: b.Start, End: b.End, Lag: b.End - max(c, b.Start)})
	}
	return g, nil
}

// live is the rule both show and reset use: a group with members, or one
// not at rest, may commit at any moment.
func live(state string, members []GroupMember) bool {
	return len(members) > 0 || (state != "Empty" && state != "Dead" && state != "")
}

// describeGroup returns the group's state and members. A group Kafka has
// never seen is "Dead" with none.
func (lc *logClient) describeGroup(ctx context.Context, group string) (string, []GroupMember, error) {
	res, err := lc.cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return "", nil, fmt.Errorf("describing consumer group %s: %w", group, err)
	}
	for _, g := range res.Groups {
		if g.GroupID != group {
			continue
		}
		switch {
		case errors.Is(g.Error, kafka.GroupIdNotFound):
			return "Dead", nil, nil
		case g.Error != nil:
			// kafka-go drops the member list when it cannot decode it, so
			// an error here must not read as "no members".
			return "", nil, fmt.Errorf("describing consumer group %s: %w", group, g.Error)
		}
		members := make([]GroupMember, 0, len(g.Members))
		for _, m := range g.Members {
			members = append(members, GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost})
		}
		slices.SortFunc(members, func(a, b GroupMember) int { return strings.Compare(a.ID, b.ID) })
		return g.GroupState, members, nil
	}
	return "", nil, fmt.Errorf("describing consumer group %s: the coordinator did not answer for it", group)
}

// committed returns the group's committed offset per partition of the
// topic; partitions without one are absent.
func (lc *logClient) committed(ctx context.Context, group string) (map[int32]int64, error) {
	parts := make([]int, lc.partitions)
	for i := range parts {
		parts[i] = i
	}
	res, err := lc.cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{lc.topic: parts}})
	if err == nil {
		err = res.Error
	}
	out := map[int32]int64{}
	if errors.Is(err, kafka.GroupIdNotFound) { // a group never seen committed nothing
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the committed offsets of group %s: %w", group, err)
	}
	for _, p := range res.Topics[lc.topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("reading the committed offset of group %s on %s partition %d: %w", group, lc.topic, p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[int32(p.Partition)] = p.CommittedOffset
		}
	}
	return out, nil
}

// commit stores offsets for the group outside any generation (generation
// -1, no member id): Kafka takes such a commit only while the group has
// no members, which is when a reset may run.
func (lc *logClient) commit(ctx context.Context, group string, offsets map[int32]int64) error {
	commits := make([]kafka.OffsetCommit, 0, len(offsets))
	for _, p := range sortedPartitions(offsets) {
		commits = append(commits, kafka.OffsetCommit{Partition: int(p), Offset: offsets[p]})
	}
	res, err := lc.cl.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{lc.topic: commits},
	})
	if err != nil {
		return fmt.Errorf("committing offsets for group %s: %w", group, err)
	}
	var errs []error
	for _, p := range res.Topics[lc.topic] {
		if p.Error != nil {
			errs = append(errs, fmt.Errorf("committing %s partition %d for group %s: %w", lc.topic, p.Partition, group, p.Error))
		}
	}
	if len(res.Topics[lc.topic]) != len(commits) && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("committing offsets for group %s: %d of %d partitions answered", group, len(res.Topics[lc.topic]), len(commits)))
	}
	return errors.Join(errs...)
}
