package stages

// The guardian's state, the actions of its partition that wait for a human
// approval, and how it goes into a snapshot and comes back.

import (
	"fmt"
	"math"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// pendingAction is an action waiting for a human approval, with what its
// later decision needs to explain itself.
type pendingAction struct {
	Action
	Deadline   time.Time
	RiskClass  schemas.RiskClass
	DataOrigin string
	Link       string
	Risk       float64
}

// pendingJSON is a pendingAction in a snapshot. Times are Unix ns so they
// round-trip exactly; the parameters keep their payload types.
type pendingJSON struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	Priority   Priority          `json:"priority"`
	MsgID      string            `json:"msg_id"`
	GlyphID    string            `json:"glyph_id"`
	TS         int64             `json:"ts_ns"`
	Params     jsonPayload       `json:"params"`
	Deadline   int64             `json:"deadline_ns"`
	RiskClass  schemas.RiskClass `json:"risk_class"`
	DataOrigin string            `json:"data_origin"`
	Link       string            `json:"link,omitempty"`
	Risk       float64           `json:"risk"`
}

// guardSnapshot is the state in a snapshot:
//
//	{"lane":"prod","pending":[{"id":"...","kind":"wire","priority":"P0", ...}]}
type guardSnapshot struct {
	Lane    schemas.Lane  `json:"lane"`
	Pending []pendingJSON `json:"pending"`
}

// Snapshot returns the partition's waiting actions, or nil when none
// waits: the guardian keeps no other state.
func (g *Guardian) Snapshot() ([]byte, error) {
	if len(g.st.pending) == 0 {
		return nil, nil
	}
	s := guardSnapshot{Lane: g.cfg.lane, Pending: make([]pendingJSON, len(g.st.pending))}
	for i, pa := range g.st.pending {
		s.Pending[i] = pendingJSON{
			ID: pa.ID, Kind: pa.Kind, Priority: pa.Priority, MsgID: pa.MsgID, GlyphID: pa.GlyphID,
			TS: pa.TS.UnixNano(), Params: jsonPayload(pa.Params), Deadline: pa.Deadline.UnixNano(),
			RiskClass: pa.RiskClass, DataOrigin: pa.DataOrigin, Link: pa.Link, Risk: pa.Risk,
		}
	}
	return encodeSnapshot(StageGuardian, s)
}

// Restore replaces the partition's waiting actions with a snapshot (either
// format) of this guardian's lane, or drops them when state is empty. A
// refused snapshot changes nothing.
func (g *Guardian) Restore(state []byte) error {
	if len(state) == 0 {
		g.st = newGuardState()
		return nil
	}
	var s guardSnapshot
	if err := decodeSnapshot(StageGuardian, state, &s); err != nil {
		return err
	}
	if s.Lane != g.cfg.lane {
		return restoreError(StageGuardian, fmt.Sprintf("a snapshot of lane %q", s.Lane), fmt.Sprintf("lane %q, the guardian's", g.cfg.lane))
	}
	p := newGuardState()
	for i, j := range s.Pending {
		_, perr := ParsePriority(string(j.Priority))
		if j.ID == "" || j.MsgID == "" || perr != nil || j.Deadline == 0 || p.ids[j.ID] || j.Risk < 0 || j.Risk > 1 || math.IsNaN(j.Risk) {
			return restoreError(StageGuardian, fmt.Sprintf("pending action %d (%q) incomplete or repeated", i, j.ID),
				"an id, a msg_id, a priority P0..P3, a deadline, a risk in [0, 1], and no id twice")
		}
		p.ids[j.ID] = true
		p.pending = append(p.pending, &pendingAction{
			Action: Action{ID: j.ID, Kind: j.Kind, Priority: j.Priority, Lane: s.Lane, MsgID: j.MsgID, GlyphID: j.GlyphID,
				TS: time.Unix(0, j.TS).UTC(), Params: schemas.Payload(j.Params)},
			Deadline: time.Unix(0, j.Deadline).UTC(), RiskClass: j.RiskClass, DataOrigin: j.DataOrigin, Link: j.Link, Risk: j.Risk,
		})
	}
	g.st = p
	return nil
}

// Waiting returns the ids of the actions waiting for an approval in this
// partition, oldest first: the runtime applies a lane's approvals to the
// partition that holds the action.
func (g *Guardian) Waiting() []string {
	ids := make([]string, len(g.st.pending))
	for i, pa := range g.st.pending {
		ids[i] = pa.ID
	}
	return ids
}
