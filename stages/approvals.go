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

// ApprovalActionKey is the payload key of an approval event (and of the
// guardian's action events) naming the action.
const ApprovalActionKey = "action_id"

// ApprovalFunc adapts a function to Approvals.
type ApprovalFunc func(actionID string) bool

// Approved calls f.
func (f ApprovalFunc) Approved(actionID string) bool { return f(actionID) }

// ApprovalSet is an in-memory Approvals: the ids approved so far. The zero
// value approves nothing and is ready to use.
type ApprovalSet struct {
	mu  sync.RWMutex
	ids map[string]struct{}
}

// NewApprovalSet returns a set holding ids.
func NewApprovalSet(ids ...string) *ApprovalSet {
	s := &ApprovalSet{}
	for _, id := range ids {
		s.Approve(id)
	}
	return s
}

// Approve records a human approval of actionID.
func (s *ApprovalSet) Approve(actionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
