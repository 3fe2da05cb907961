package runtime

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/stages"
)

// A Checkpoint is one partition's consistent cut: the stage state after
// the chain ran the frame the cut was taken at, the tick's window state at
// that frame's emission, and the input offsets that state accounts for.
//
// Frames hold records by event time, so at a cut some records below the
// last one read are still waiting in open frames. Resume is the lowest
// offset not done (what the group commits with the cut); of the offsets in
// [Resume, Next), those in Open are read again and the rest are skipped as
// done. A restart from a checkpoint therefore reprocesses nothing twice and
// misses nothing.
//
// The same value is written to the compacted matriz.<lane>.state (key
// StateKey, the latest cut, for restore) and, every CheckpointEvery of
// event time, to the retained matriz.<lane>.checkpoints (key StateKey too),
// where a replay or an offsets reset can start from any of them.
type Checkpoint struct {
	Lane      string    `json:"lane"`
	Partition int32     `json:"partition"`
	Resume    int64     `json:"resume"`
	Next      int64     `json:"next"`
	Open      []int64   `json:"open,omitempty"`
	FrameEnd  time.Time `json:"frame_end"` // event time of the cut
	// Written is the wall-clock time the cut was taken.
	Written time.Time `json:"written"`
	// DecisionsSince bounds, in wall-clock time, where the decisions any
	// run made about frames past the cut start (decisions_since.go): a
	// restart from the cut scans the event log from there. Zero (a cut an
	// older binary wrote) scans it whole.
	DecisionsSince time.Time       `json:"decisions_since"`
	Tick           json.RawMessage `json:"tick,omitempty"`
	Flags          stages.Flags    `json:"flags"`
	Approved       []string        `json:"approved,omitempty"` // approvals applied in this partition and not yet used
	// Final marks the cut a clean stop took after its last input: the run
	// decided nothing past it, so a restart from it re-decides nothing.
	Final bool              `json:"final,omitempty"`
	State map[string][]byte `json:"state"` // stage snapshots by stage name

	// holds is how many frame holds (frame_hold.go) were registered when
	// the cut was taken: it commits only once they are resolved.
	holds int64
}

// ID names the checkpoint as `matriz replay --from` and `matriz offsets
// reset --to` take it: "<partition>@<next offset>".
func (c *Checkpoint) ID() string { return fmt.Sprintf("%d@%d", c.Partition, c.Next) }

// IsCheckpointID reports whether s has the form of a checkpoint id.
func IsCheckpointID(s string) bool {
	p, o, ok := strings.Cut(s, "@")
	if !ok {
		return false
	}
	_, e1 := strconv.ParseInt(p, 10, 32)
	_, e2 := strconv.ParseInt(o, 10, 64)
	return e1 == nil && e2 == nil
}

// StateKey is the key of partition's checkpoint on the state and
// checkpoints topics.
func StateKey(partition int32) string { return strconv.Itoa(int(partition)) }

// Done reports whether offset is accounted for by the cut: below Resume, or
// below Next and not waiting in an open frame.
func (c *Checkpoint) Done(offset int64) bool {
	if offset < c.Resume {
		return true
	}
	if offset >= c.Next {
		return false
	}
	for _, o := range c.Open {
		if o == offset {
			return false
		}
	}
	return true
}

// EncodeCheckpoint returns c's wire form (JSON: a person reading the topic
// with kcat can follow it).
func EncodeCheckpoint(c *Checkpoint) ([]byte, error) { return json.Marshal(c) }

// DecodeCheckpoint reads a checkpoint back.
func DecodeCheckpoint(b []byte) (*Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if c.Resume < 0 || c.Next < c.Resume {
		return nil, fmt.Errorf("checkpoint %s: resume %d and next %d are not an offset range", c.ID(), c.Resume, c.Next)
	}
	return &c, nil
}

func jsonState(s operators.TickState) (json.RawMessage, error) { return json.Marshal(s) }

// TickState returns the tick's window state the checkpoint holds.
func (c *Checkpoint) TickState() (operators.TickState, bool) {
	var s operators.TickState
	if len(c.Tick) == 0 || json.Unmarshal(c.Tick, &s) != nil {
		return s, false
	}
	return s, true
}
