package topics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Why this file exists: kafka-go's Reader runs the consumer-group protocol
// internally and never tells its caller which partitions it owns. After a
// rebalance, records of a partition that moved to another member may still
// be acked here, and committing them would overwrite the new owner's newer
// offset (a regression: duplicates after the next restart). So after every
// rebalance the Source asks the group coordinator (DescribeGroups) what its
// member owns, recognising itself by a client id unique to the Source, and
// commits only those partitions.

// newClientID returns the Source's unique client id.
func newClientID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "matriz-source-" + hex.EncodeToString(b[:])
}

// assignment returns the partitions the group coordinator lists for this
// Source's member. ok is false while the group is rebalancing or the member
// is not (yet, or any more) listed: commit nothing then, ask again later.
func (s *Source) assignment(ctx context.Context) (assigned map[topicPartition]bool, ok bool, err error) {
	res, err := s.admin.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{s.group}})
	if err != nil {
		return nil, false, fmt.Errorf("describe group %s: %w", s.group, err)
	}
	for _, g := range res.Groups {
		if g.GroupID != s.group {
			continue
		}
		if g.Error != nil {
			return nil, false, fmt.Errorf("describe group %s: %w", s.group, g.Error)
		}
		if g.GroupState != "Stable" {
			return nil, false, nil
		}
		for _, m := range g.Members {
			if m.ClientID != s.clientID {
				continue
			}
			assigned = make(map[topicPartition]bool)
			for _, t := range m.MemberAssignments.Topics {
				for _, p := range t.Partitions {
					assigned[topicPartition{t.Topic, int32(p)}] = true
				}
			}
			return assigned, true, nil
		}
	}
	return nil, false, nil
}
