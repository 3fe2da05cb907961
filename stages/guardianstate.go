package stages

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

type guardSnapshot struct {
	V       int           `json:"v"`
	Lane    schemas.Lane  `json:"lane"`
	Pending []pendingJSON `json:"pending"`
}

// Snapshot returns partition's waiting actions as JSON, or nil when the
// partition has no state.
func (g *Guardian) Snapshot(partition int32) ([]byte, error) {
	g.mu.Lock()
	p, ok := g.parts[partition]
	g.mu.Unlock()
	if !ok {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := guardSnapshot{V: guardSnapshotV, Lane: p.lane, Pending: make([]pendingJSON, len(p.pending))}
	for i, pa := range p.pending {
		s.Pending[i] = pendingJSON{
			ID: pa.ID, Kind: pa.Kind, Priority: pa.Priority, MsgID: pa.MsgID, GlyphID: pa.GlyphID,
			TS: pa.TS.UnixNano(), Params: jsonPayload(pa.Params), Deadline: pa.Deadline.UnixNano(),
			RiskClass: pa.RiskClass, DataOrigin: pa.DataOrigin, Link: pa.Link, Risk: pa.Risk,
		}
	}
	return marshalSnapshot(StageGuardian, partition, s)
}

// Restore replaces partition's waiting actions with a snapshot; empty
// state resets the partition.
func (g *Guardian) Restore(partition int32, state []byte) error {
	if len(state) == 0 {
		g.Forget(partition)
		return nil
	}
	var s guardSnapshot
	if err := unmarshalSnapshot(StageGuardian, partition, state, &s); err != nil {
		return err
	}
	if s.V != guardSnapshotV {
		return snapshotError(StageGuardian, partition, fmt.Sprintf("version = %d", s.V))
	}
	if !s.Lane.Valid() {
		return snapshotError(StageGuardian, partition, fmt.Sprintf("lane = %q", s.Lane))
	}
	p := &guardPart{lane: s.Lane, ids: make(map[string]bool, len(s.Pending))}
	for i, j := range s.Pending {
		_, perr := ParsePriority(string(j.Priority))
		if j.ID == "" || j.MsgID == "" || perr != nil || j.Deadline == 0 || p.ids[j.ID] || j.Risk < 0 || j.Risk > 1 || math.IsNaN(j.Risk) {
			return snapshotError(StageGuardian, partition, fmt.Sprintf("pending action %d (%q) is incomplete or repeated", i, j.ID))
		}
		p.ids[j.ID] = true
		p.pending = append(p.pending, &pendingAction{
			Action: Action{ID: j.ID, Kind: j.Kind, Priority: j.Priority, Lane: s.Lane, MsgID: j.MsgID, GlyphID: j.GlyphID,
				TS: time.Unix(0, j.TS).UTC(), Params: schemas.Payload(j.Params)},
			Deadline: time.Unix(0, j.Deadline).UTC(), RiskClass: j.RiskClass, DataOrigin: j.DataOrigin, Link: j.Link, Risk: j.Risk,
		})
	}
	g.mu.Lock()
	g.parts[partition] = p
	g.mu.Unlock()
	return nil
}

// Forget drops partition's waiting actions. They are not lost: the worker
// that takes the partition over restores them from the changelog.
func (g *Guardian) Forget(partition int32) {
	g.mu.Lock()
	delete(g.parts, partition)
	g.mu.Unlock()
}
