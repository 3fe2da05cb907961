package stages

// A node's result may name the MATRIZ event it makes: the memory node's
// write plan is a memory_write, the orchestration node's plan evaluation a
// reward. The node says so under NodeEventKey in its result payload, and
// the adapter stage turns every OK result that names a kind listed in
// nodeEventKeys into one event on the frame, whose payload is the few
// result payload keys listed for that kind. One rule for every node: a new
// node that makes an event needs an entry here, not a branch in the
// adapter.

import (
	"slices"

	"github.com/matriz/pipelines/schemas"
)

// NodeEventKey is the result payload key under which a node names the
// event kind its OK result makes ("memory_write", "reward").
const NodeEventKey = "event_kind"

// nodeEventKeys lists the event kinds a node may make and, per kind, the
// result payload keys its event carries: what identifies the write or the
// evaluation, no more, since every such result adds a record to the log.
// The glyph and message the event is about are its own fields, so the
// memory node's fold_id (the glyph id) is not repeated.
var nodeEventKeys = map[schemas.EventKind][]string{
	schemas.EventMemoryWrite: {"fanout", "depth"},
	schemas.EventReward:      {"goal", "goal_status", "progress", "expected_value", "reward"},
}

// appendNodeEvent appends to f the event res names, if res is OK and names
// a kind of nodeEventKeys. left is how many records of f, this one
// included, are still to be handled: when f.Events is full it grows once
// by that many, the most this stage can still add, instead of doubling as
// it goes.
func appendNodeEvent(f *Frame, msg *schemas.MatrizMessage, res *schemas.MatrizResult, left int) {
	if !res.OK {
		return
	}
	name, _ := res.Payload[NodeEventKey].(string)
	if name == "" {
		return
	}
	kind := schemas.EventKind(name)
	keys, ok := nodeEventKeys[kind]
	if !ok {
		return
	}
	payload := make(schemas.Payload, len(keys))
	for _, k := range keys {
		if v, ok := res.Payload[k]; ok {
			payload[k] = v
		}
	}
	if len(f.Events) == cap(f.Events) {
		f.Events = slices.Grow(f.Events, left)
	}
	f.Events = append(f.Events, schemas.Event{
		ID:      EventID(msg.MsgID, StageAdapter, kind),
		TS:      msg.TS,
		Kind:    kind,
		Lane:    msg.Lane,
		GlyphID: msg.Glyph.ID,
		MsgID:   msg.MsgID,
		Stage:   StageAdapter,
		Payload: payload,
	})
}
