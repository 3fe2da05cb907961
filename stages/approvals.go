package stages

import (
	"slices"
	"sync"
)

// Approvals tells the guardian whether a human approved an action. The
// runtime fills it from matriz.<lane>.approvals (written by `matriz
// approve`); the guardian asks it for every action waiting for approval at
// the start of each frame. Implementations must be safe for concurrent use:
// frames of different partitions may ask at the same time.
//
// Replays are only as reproducible as the approvals they see: a replay
// that should decide as the original did must feed the approvals in the
// order they were recorded.
type Approvals interface {
	Approved(actionID string) bool
}

// ApprovalConsumer is an Approvals whose approvals are used up: one
// approval lets its action run once. After the guardian executed an
// approved action — or tried to: failed, found it already done, or found
// its outcome uncertain — it calls Consume, and from then on Approved
// reports false and Consumed true for that action, even if the approval is
// recorded again. The guardian then decides a redelivery of the action's
// message as a deny ("approval already used") with the ids of the original
// decision, so readers that drop duplicate ids keep the original.
//
// Consumption lives in memory: a restarted runtime reads every approval
// again, and its at-most-once executor is what keeps a redelivered action
// from running twice.
type ApprovalConsumer interface {
	Approvals
	Consume(actionID string)
	Consumed(actionID string) bool
}

// ApprovalActionKey is the payload key of an approval event (and of the
// guardian's action events) naming the action.
const ApprovalActionKey = "action_id"

// ApprovalFunc adapts a function to Approvals.
type ApprovalFunc func(actionID string) bool

// Approved calls f.
func (f ApprovalFunc) Approved(actionID string) bool { return f(actionID) }

// ApprovalSet is an in-memory ApprovalConsumer: the ids approved and not
// yet used, and the ids whose approval was used. The zero value approves
// nothing and is ready to use.
type ApprovalSet struct {
	mu   sync.RWMutex
	ids  map[string]struct{}
	used map[string]struct{}
}

var _ ApprovalConsumer = (*ApprovalSet)(nil)

// NewApprovalSet returns a set holding ids.
func NewApprovalSet(ids ...string) *ApprovalSet {
	s := &ApprovalSet{}
	for _, id := range ids {
		s.Approve(id)
	}
	return s
}

// Approve records a human approval of actionID. An approval already used
// (Consume) stays used: recording it again approves nothing.
func (s *ApprovalSet) Approve(actionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, used := s.used[actionID]; used {
		return
	}
	if s.ids == nil {
		s.ids = make(map[string]struct{})
	}
	s.ids[actionID] = struct{}{}
}

// Revoke withdraws an approval that has not been acted on yet.
func (s *ApprovalSet) Revoke(actionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, actionID)
}

// Approved reports whether actionID has been approved.
func (s *ApprovalSet) Approved(actionID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.ids[actionID]
	return ok
}

// IDs returns the approved ids, sorted.
func (s *ApprovalSet) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.ids))
	for id := range s.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Consume uses up actionID's approval: Approved is false and Consumed true
// for it from now on.
func (s *ApprovalSet) Consume(actionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, actionID)
	if s.used == nil {
		s.used = make(map[string]struct{})
	}
	s.used[actionID] = struct{}{}
}

// Consumed reports whether actionID's approval was used.
func (s *ApprovalSet) Consumed(actionID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.used[actionID]
	return ok
}
