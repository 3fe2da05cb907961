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
//
// Each of the two holds at most Limit ids (DefaultApprovalLimit unless
// SetLimit changed it): past it the oldest recorded is forgotten, so
// approvals for actions that never come, or a long run's used ones, do not
// grow without end. Forgetting a used approval is safe: a redelivered
// action approved again still runs at most once, since the executor
// refuses an action some owner already started.
type ApprovalSet struct {
	mu    sync.RWMutex
	ids   map[string]struct{}
	used  map[string]struct{}
	limit int
	// The order ids were recorded in, oldest first; an id that left its
	// map since is skipped when the oldest is forgotten.
	idOrder, usedOrder []string
}

// DefaultApprovalLimit is how many approved, and how many used, ids an
// ApprovalSet holds by default.
const DefaultApprovalLimit = 100_000

// SetLimit bounds how many approved, and how many used, ids s holds (n <
// 1: DefaultApprovalLimit), forgetting the oldest past it.
func (s *ApprovalSet) SetLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
	s.ids, s.idOrder = bounded(s.ids, s.idOrder, s.max())
	s.used, s.usedOrder = bounded(s.used, s.usedOrder, s.max())
}

func (s *ApprovalSet) max() int {
	if s.limit < 1 {
		return DefaultApprovalLimit
	}
	return s.limit
}

// remember records id in m and order, and forgets the oldest ids past
// limit.
func remember(m map[string]struct{}, order []string, id string, limit int) (map[string]struct{}, []string) {
	if m == nil {
		m = make(map[string]struct{})
	}
	if _, ok := m[id]; ok {
		return m, order
	}
	m[id] = struct{}{}
	return bounded(m, append(order, id), limit)
}

// bounded forgets the oldest ids of m past limit; it drops from order the
// ids no longer in m once they are most of it.
func bounded(m map[string]struct{}, order []string, limit int) (map[string]struct{}, []string) {
	for len(m) > limit && len(order) > 0 {
		delete(m, order[0])
		order = order[1:]
	}
	if len(order) > 2*len(m)+64 {
		live := make([]string, 0, len(m))
		for _, id := range order {
			if _, ok := m[id]; ok {
				live = append(live, id)
			}
		}
		order = live
	}
	return m, order
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
	s.ids, s.idOrder = remember(s.ids, s.idOrder, actionID, s.max())
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
	s.used, s.usedOrder = remember(s.used, s.usedOrder, actionID, s.max())
}

// Consumed reports whether actionID's approval was used.
func (s *ApprovalSet) Consumed(actionID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.used[actionID]
	return ok
}
