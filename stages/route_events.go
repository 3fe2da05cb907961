package stages

// The router's events are per frame, not per input: one event per kind
// (intention for the records dispatched to their node, routing for those
// only logged) lists the records it decided for, at most routeEventRecords
// in one event. Every input already carries its routing decision in its
// result's "route" crumb (topic, routed_to, dispatched); a record of its
// own on the log for each input cost every input a fourth record and
// ~650 bytes (issue 15's write amplification), where the frame's list
// costs it ~60.

import (
	"slices"

	"github.com/matriz/pipelines/schemas"
)

// Payload keys of a routing or intention event: parallel lists, one entry
// per record in frame order. routed_to is "" for a topic no node answers.
const (
	RouteEventMsgIDs     = "msg_ids"
	RouteEventTopics     = "topics"
	RouteEventRoutedTo   = "routed_to"
	RouteEventDispatched = "dispatched"
	RouteEventRecords    = "records"
)

// routeEventRecords bounds the records one event lists, so an event stays
// far below the Sink's record limit (a 6,000-record frame would list
// ~360 KB in one event): 256 records write ~15 KB.
const routeEventRecords = 256

// routeEvidence collects, while a frame is routed, the positions of the
// records each event kind will list.
type routeEvidence struct {
	dispatched, logged []int
}

func (e *routeEvidence) add(i int, dispatch bool) {
	if dispatch {
		e.dispatched = append(e.dispatched, i)
	} else {
		e.logged = append(e.logged, i)
	}
}

// appendTo appends the frame's routing events: intention first, then
// routing, each split in chunks of routeEventRecords.
func (e *routeEvidence) appendTo(f *Frame) {
	appendRouteEvents(f, schemas.EventIntention, e.dispatched)
	appendRouteEvents(f, schemas.EventRouting, e.logged)
}

func appendRouteEvents(f *Frame, kind schemas.EventKind, records []int) {
	for chunk := range slices.Chunk(records, routeEventRecords) {
		ids := make([]string, len(chunk))
		topics := make([]string, len(chunk))
		nodes := make([]string, len(chunk))
		for j, i := range chunk {
			rec := &f.Records[i]
			ids[j], topics[j], nodes[j] = rec.Msg.MsgID, rec.Route.Topic, rec.Route.Node
		}
		first := f.Records[chunk[0]].Msg
		f.Events = append(f.Events, schemas.Event{
			// The first record's msg_id names the chunk: a record is in one
			// frame and one chunk, so the id is unique and a replay derives
			// the same.
			ID:   DerivedID(first.MsgID, StageRoute, string(kind), "frame"),
			TS:   first.TS,
			Kind: kind,
			Lane: f.Lane,
			// No glyph and no msg_id: the event speaks for many. The
			// runtime keys it by partition and counts it against the
			// frame's last record, whose offset then commits only once
			// the event is durable.
			Stage: StageRoute,
			Payload: schemas.Payload{
				RouteEventMsgIDs: ids, RouteEventTopics: topics, RouteEventRoutedTo: nodes,
				RouteEventDispatched: kind == schemas.EventIntention, RouteEventRecords: int64(len(chunk)),
			},
		})
	}
}

// RouteEventLists reports whether ev is a routing or intention event that
// lists msgID: what `matriz explain` looks for besides an event's own
// msg_id.
func RouteEventLists(ev *schemas.Event, msgID string) bool {
	if ev.Kind != schemas.EventRouting && ev.Kind != schemas.EventIntention {
		return false
	}
	ids, _ := ev.Payload[RouteEventMsgIDs].([]string)
	return slices.Contains(ids, msgID)
}
