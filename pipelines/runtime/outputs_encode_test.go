package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// encodeOne puts one input at offset 7 of partition 2 and returns it with
// its Ack, on outputs whose reported errors land in reported.
func encodeOne(t *testing.T, reported *[]error) (*outputs, schemas.MatrizMessage, *topics.Ack) {
	t.Helper()
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{1, 2, 3, 4}, fl, func(err error) { *reported = append(*reported, err) })
	msg := laneMessages(schemas.LaneProd, 1, 1, time.Second)[0]
	ack := topics.NewAck()
	fl.put(7, &pending{msg: topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: 7, Key: []byte(msg.Glyph.ID), Value: []byte("original"), Ack: ack}})
	return o, msg, ack
}

// resolveAll acknowledges every output, as the sink does once written.
func resolveAll(out []topics.Message) {
	for _, m := range out {
		if m.Ack != nil {
			m.Ack.Done(nil)
		}
	}
}

// TestEncodeAnswersARecordNoStageAnswered: a live record the chain left
// without a result (a lane whose stages lack route) is not dropped
// silently: it goes to the DLQ saying so, and its offset commits once that
// record is written.
func TestEncodeAnswersARecordNoStageAnswered(t *testing.T) {
	var reported []error
	o, msg, ack := encodeOne(t, &reported)
	out := o.encode(&stages.Frame{Partition: 2, Records: []stages.Record{{Partition: 2, Offset: 7, Msg: &msg}}})
	if len(out) != 1 || out[0].Topic != "matriz.prod.dlq" {
		t.Fatalf("outputs %+v, want one DLQ record", out)
	}
	m := out[0]
	if r, s, d := string(m.Header(HeaderDLQReason)), string(m.Header(HeaderDLQStage)), string(m.Header(HeaderDLQDetail)); r != ReasonStage || s != "chain" || !strings.Contains(d, "is route in the lane's stages?") {
		t.Errorf("DLQ record reason %q stage %q detail %q, want %s from chain naming route", r, s, d, ReasonStage)
	}
	if string(m.Value) != "original" || m.Ack != ack {
		t.Errorf("DLQ record does not carry its input: value %q", m.Value)
	}
	if ack.Resolved() {
		t.Fatal("the input resolved before its DLQ record was written")
	}
	resolveAll(out)
	if !ack.Resolved() || ack.Err() != nil || len(reported) != 0 {
		t.Fatalf("input resolved %v (err %v) after its DLQ record; reported %v", ack.Resolved(), ack.Err(), reported)
	}
}

// TestEncodeSendsAResultItCannotEncodeToTheDLQ: a result whose payload has
// no Avro form (a node's bug) cannot be written; its input goes to the DLQ
// from stage encode with the encoder's error, so the offset still commits
// and the failure is visible where bad input is.
func TestEncodeSendsAResultItCannotEncodeToTheDLQ(t *testing.T) {
	var reported []error
	o, msg, ack := encodeOne(t, &reported)
	res := &schemas.MatrizResult{ID: "r1", MsgID: msg.MsgID, Lane: schemas.LaneProd, Node: "router", Payload: schemas.Payload{"when": time.Time{}}}
	out := o.encode(&stages.Frame{Partition: 2, Records: []stages.Record{{Partition: 2, Offset: 7, Msg: &msg, Result: res}}})
	if len(out) != 1 || out[0].Topic != "matriz.prod.dlq" {
		t.Fatalf("outputs %+v, want one DLQ record", out)
	}
	if s, d := string(out[0].Header(HeaderDLQStage)), string(out[0].Header(HeaderDLQDetail)); s != "encode" || !strings.Contains(d, "when") {
		t.Errorf("DLQ record stage %q detail %q, want stage encode naming the payload key", s, d)
	}
	resolveAll(out)
	if !ack.Resolved() || ack.Err() != nil {
		t.Fatalf("input resolved %v (err %v) after its DLQ record", ack.Resolved(), ack.Err())
	}
}

// TestEncodeReportsAnEventItCannotEncode: an event, trace or action that
// cannot be encoded is a bug in the binary's own records, not bad input:
// it is reported, naming its topic and id, not written, and its input's
// commit does not wait for it.
func TestEncodeReportsAnEventItCannotEncode(t *testing.T) {
	var reported []error
	o, msg, ack := encodeOne(t, &reported)
	f := &stages.Frame{Partition: 2, Records: []stages.Record{{Partition: 2, Offset: 7, Msg: &msg, Dropped: true}},
		Events: []schemas.Event{{ID: "e-bad", Kind: schemas.EventDriftAlert, Lane: schemas.LaneProd, MsgID: msg.MsgID, Payload: schemas.Payload{"when": time.Time{}}}}}
	out := o.encode(f)
	if len(out) != 0 {
		t.Fatalf("%d outputs written, want none", len(out))
	}
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "encode matriz.prod.events output e-bad") {
		t.Fatalf("reported %v, want the event's encode error naming topic and id", reported)
	}
	if !ack.Resolved() || ack.Err() != nil {
		t.Fatalf("the input of a filtered record with an unencodable event: resolved %v err %v, want resolved", ack.Resolved(), ack.Err())
	}
}

// TestEncodeOversizedDecimationFailsTheSkippedRecords: a decimation event
// stands for the records its frame skipped; one too big to write is
// reported and not written, and the skipped records' Acks fail, so their
// offsets do not commit as if the decision were durable.
func TestEncodeOversizedDecimationFailsTheSkippedRecords(t *testing.T) {
	var reported []error
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{1, 2, 3, 4}, fl, func(err error) { reported = append(reported, err) })
	o.recordLimit = 16 << 10
	skipped := topics.NewAck()
	fl.put(5, &pending{msg: topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: 5, Ack: skipped}})
	fl.skip(&stages.Frame{Records: []stages.Record{{Partition: 2, Offset: 5}}})
	dec := schemas.Event{ID: "d1", Kind: schemas.EventDecimation, Lane: schemas.LaneProd, Payload: schemas.Payload{
		"partition": int64(2), "seq": int64(1), "fps": int64(30), "records": int64(1), "offsets": []float64{5},
		"note": strings.Repeat("n", 32<<10)}}
	out := o.encode(&stages.Frame{Partition: 2, Events: []schemas.Event{dec}})
	if len(out) != 0 {
		t.Fatalf("%d outputs written, want the oversized decimation left out", len(out))
	}
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "owed by no input: not written") {
		t.Fatalf("reported %v, want the oversized decimation", reported)
	}
	if !skipped.Resolved() || !errors.Is(skipped.Err(), errOversizedOutput) {
		t.Fatalf("skipped record's Ack: resolved %v err %v, want failed with %v", skipped.Resolved(), skipped.Err(), errOversizedOutput)
	}
}

// TestEncodeReportsADecimationThatDoesNotParse: a decimation event without
// the frame it skipped is reported rather than written silently wrong; it
// still goes out (it is the frame's decision), keyed by partition 0.
func TestEncodeReportsADecimationThatDoesNotParse(t *testing.T) {
	var reported []error
	o := newOutputs("prod", "", laneIDs{1, 2, 3, 4}, newInflight(), func(err error) { reported = append(reported, err) })
	out := o.encode(&stages.Frame{Partition: 2, Events: []schemas.Event{{ID: "d2", Kind: schemas.EventDecimation, Lane: schemas.LaneProd, Payload: schemas.Payload{"seq": int64(1)}}}})
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "decimation event d2") {
		t.Fatalf("reported %v, want the decimation's parse error", reported)
	}
	if len(out) != 1 || string(out[0].Key) != partitionKey(0) || !out[0].Ahead {
		t.Fatalf("outputs %+v, want the decision ahead, keyed %s", out, partitionKey(0))
	}
}

// TestEncodeKeepsLongKeysWhole: keys and identity values longer than a
// KiB are not carved from the output slab but copied whole, so a long
// glyph id reaches its outputs' keys and headers intact.
func TestEncodeKeepsLongKeysWhole(t *testing.T) {
	var reported []error
	o, msg, _ := encodeOne(t, &reported)
	long := strings.Repeat("g", 2<<10)
	msg.Glyph.ID = long
	res := &schemas.MatrizResult{ID: "r1", MsgID: msg.MsgID, Lane: schemas.LaneProd, Node: "router", Payload: schemas.Payload{}}
	f := &stages.Frame{Partition: 2, Records: []stages.Record{{Partition: 2, Offset: 7, Msg: &msg, Result: res}},
		Events: []schemas.Event{{ID: "e1", Kind: schemas.EventDriftAlert, Lane: schemas.LaneProd, GlyphID: long, Payload: schemas.Payload{}}}}
	out := o.encode(f)
	if len(out) != 2 || len(reported) != 0 {
		t.Fatalf("%d outputs, reported %v; want a result and an event", len(out), reported)
	}
	for _, m := range out {
		if got := string(m.Header(HeaderGlyphID)); got != long {
			t.Errorf("%s: glyph id header of %d bytes, want the %d-byte id", m.Topic, len(got), len(long))
		}
	}
	if ev := out[1]; string(ev.Key) != long {
		t.Errorf("event key of %d bytes, want the %d-byte glyph id", len(ev.Key), len(long))
	}
	if headerValue(out[0].Headers, "no-such-header") != nil {
		t.Error("headerValue found a header the output does not carry")
	}
}

// TestEncodeOwesNothingForARecordNoLongerInFlight: a record of the frame
// whose input is not in flight any more (its frame was decimated, or it
// was already answered) gets no output: answering it twice would write a
// second result for one input.
func TestEncodeOwesNothingForARecordNoLongerInFlight(t *testing.T) {
	var reported []error
	o, msg, ack := encodeOne(t, &reported)
	other := laneMessages(schemas.LaneProd, 1, 2, time.Second)[0] // another seed: another message
	res := func(m *schemas.MatrizMessage) *schemas.MatrizResult {
		return &schemas.MatrizResult{ID: "r" + m.MsgID, MsgID: m.MsgID, Lane: schemas.LaneProd, Node: "router", Payload: schemas.Payload{}}
	}
	out := o.encode(&stages.Frame{Partition: 2, Records: []stages.Record{
		{Partition: 2, Offset: 6, Msg: &other, Result: res(&other)}, // not in flight
		{Partition: 2, Offset: 7, Msg: &msg, Result: res(&msg)},
	}})
	if len(out) != 1 || string(out[0].Header(HeaderSrcOffset)) != "7" || out[0].Ack != ack {
		t.Fatalf("%d outputs, want only the result of offset 7", len(out))
	}
}

// TestResolveLaneIDsNeedsEverySubject: a lane whose output subjects hold
// no schema id of this binary cannot start writing: the error names the
// subject (deploy registers it).
func TestResolveLaneIDsNeedsEverySubject(t *testing.T) {
	s := memRegistry(t, schemas.LaneProd)
	if ids, err := resolveLaneIDs(s, string(schemas.LaneProd)); err != nil || ids.result == 0 || ids.event == 0 || ids.trace == 0 || ids.action == 0 {
		t.Fatalf("prod's ids %+v, %v; want all four", ids, err)
	}
	if _, err := resolveLaneIDs(s, string(schemas.LaneCandidate)); err == nil || !strings.Contains(err.Error(), "matriz.candidate.results-value") {
		t.Fatalf("resolveLaneIDs of an undeployed lane = %v, want the results subject named", err)
	}
}
