package bench

// The events phase: how fast `matriz events` reads a lane's event log. It
// writes Config.Events events, mixed as a running lane writes them, to a
// replay namespace of the lane (so the count is exactly what it wrote,
// whatever the chain phases left on the live log) and scans them all with
// replay.ScanEvents, decoding each.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// eventsNamespace is the replay namespace the events phase writes to.
const eventsNamespace = "bench"

// eventsPhase writes n events and scans them; the stats say how many it
// read and how fast.
func eventsPhase(ctx context.Context, brokers []string, codec *serde.Serde, lane schemas.Lane, n, partitions int, cl clock.Clock) (replay.EventScanStats, error) {
	q := replay.EventQuery{Brokers: brokers, Serde: codec, Lane: lane, Replay: eventsNamespace, Clock: cl}
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return replay.EventScanStats{}, err
	}
	if _, err := admin.Ensure(ctx, []topics.Spec{{Name: q.Topic(), Partitions: partitions, ReplicationFactor: topics.ReplicationByCluster,
		Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete}}}, false); err != nil {
		return replay.EventScanStats{}, err
	}
	id, err := codec.ID(serde.ValueSubject(topics.Name(string(lane), topics.KindEvents)))
	if err != nil {
		return replay.EventScanStats{}, err
	}
	sink, err := topics.NewSink(ctx, brokers)
	if err != nil {
		return replay.EventScanStats{}, err
	}
	base := cl.Now().Add(-time.Hour)
	for i := range n {
		m, err := benchEvent(lane, id, i, base.Add(time.Duration(i)*10*time.Microsecond))
		if err != nil {
			close(sink.In())
			sink.AwaitCompletion()
			return replay.EventScanStats{}, err
		}
		m.Topic = q.Topic()
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Failed() > 0 {
		return replay.EventScanStats{}, fmt.Errorf("write events: %d records failed: %w", sink.Failed(), sink.Err())
	}
	return replay.ScanEvents(ctx, q, func(replay.EventRecord) error { return nil })
}

// benchEvent is event i of the mix a running lane writes: mostly routing
// events, some drift alerts, guardian decisions and breakthroughs, and
// frame-level decisions (late, decimation) with the decision header.
func benchEvent(lane schemas.Lane, id uint32, i int, at time.Time) (topics.Message, error) {
	ev := schemas.Event{ID: "bench-" + strconv.Itoa(i), TS: at, Lane: lane, GlyphID: "glyph-" + strconv.Itoa(i%1024), MsgID: "msg-" + strconv.Itoa(i/2)}
	switch i % 20 {
	case 3:
		ev.Kind, ev.Stage = schemas.EventDriftAlert, "drift"
		ev.Payload = schemas.Payload{"level": "warn", "previous": "ok", "ema": 0.23, "drift": 0.31}
	case 7:
		ev.Kind, ev.Stage = schemas.EventGuardianDecision, "guardian"
		ev.Payload = schemas.Payload{"allowed": false, "reason": "no consent", "risk": 0.4, "dry_run": true}
	case 11:
		ev.Kind, ev.Stage = schemas.EventBreakthrough, "breakthrough"
		ev.Payload = schemas.Payload{"z": 3.4, "novelty": 0.9, "value": 0.8}
	case 13:
		ev.Kind, ev.Stage = schemas.EventLate, "tick"
		ev.Payload = schemas.Payload{"offset": int64(i), "lateness_us": int64(1200)}
	case 17:
		ev.Kind, ev.Stage, ev.GlyphID, ev.MsgID = schemas.EventDecimation, "decimate", "", ""
		ev.Payload = schemas.Payload{"partition": int64(i % 6), "first_offset": int64(i), "last_offset": int64(i + 40), "records": int64(41)}
	default:
		ev.Kind, ev.Stage = schemas.EventRouting, "route"
		ev.Payload = schemas.Payload{"topic": "memory", "routed_to": "memory", "dispatched": false, "ok": true}
	}
	val, err := schemas.AppendWire(nil, id, &ev)
	if err != nil {
		return topics.Message{}, err
	}
	key := ev.GlyphID
	h := []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(ev.ID)}}
	switch ev.Kind {
	case schemas.EventDecimation:
		key = "partition:" + strconv.Itoa(i%6)
		fallthrough
	case schemas.EventLate:
		h = append(h, topics.Header{Key: runtime.HeaderDecision, Value: []byte(ev.Kind)})
	}
	return topics.Message{Key: []byte(key), Value: val, Time: at, Headers: h}, nil
}
