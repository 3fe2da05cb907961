package runtime

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

const inputTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// identityFrame is a frame of partition 2 as the chain leaves it: a v2
// message answered by the memory node (with an event, a trace and an
// action about it), a record that did not decode (DLQ), a decision that
// concerns no glyph, and a decimation event.
func identityFrame(t *testing.T, fl *inflight) (*stages.Frame, schemas.MatrizMessage, *topics.Ack) {
	t.Helper()
	msg := laneMessages(schemas.LaneProd, 1, 5, time.Second)[0]
	sid := "subject-7"
	msg.Glyph.SubjectSID = &sid
	ack := topics.NewAck()
	fl.put(7, &pending{schemaID: 41, msg: topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: 7, Key: []byte(msg.Glyph.ID), Value: []byte("v"),
		Ack: ack, Headers: []topics.Header{{Key: HeaderTraceparent, Value: []byte(inputTP)}}}})
	bad := binary.BigEndian.AppendUint32([]byte{0}, 999)
	fl.put(8, &pending{reason: ReasonUnknownSchemaID, msg: topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: 8, Key: []byte("k"), Value: append(bad, 1, 2), Ack: topics.NewAck()}})
	fl.put(5, &pending{msg: topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: 5, Ack: topics.NewAck()}})
	failed := stages.Record{Partition: 2, Offset: 8}
	failed.Fail("decode", "unknown schema id 999")
	f := &stages.Frame{Lane: schemas.LaneProd, Partition: 2, Records: []stages.Record{
		{Partition: 2, Offset: 7, Msg: &msg, Route: &stages.Route{Topic: msg.Topic, Node: "memory"},
			Result: &schemas.MatrizResult{ID: "r1", MsgID: msg.MsgID, Lane: schemas.LaneProd, Node: "memory"}},
		failed,
	},
		Events: []schemas.Event{
			{ID: "e1", Kind: schemas.EventDriftAlert, Lane: schemas.LaneProd, GlyphID: msg.Glyph.ID, MsgID: msg.MsgID, Payload: schemas.Payload{}},
			{ID: "e2", Kind: schemas.EventWatermark, Lane: schemas.LaneProd, Payload: schemas.Payload{}},
			{ID: "e3", Kind: schemas.EventDecimation, Lane: schemas.LaneProd, Payload: schemas.Payload{"partition": int64(2), "seq": int64(1), "fps": int64(30), "records": int64(1), "offsets": []float64{5}}},
		},
		Traces:  []schemas.Trace{{ID: "t1", MsgID: msg.MsgID, Lane: schemas.LaneProd, RiskClass: schemas.RiskMinimal}},
		Actions: []schemas.Event{{ID: "a1", Kind: schemas.EventAction, Lane: schemas.LaneProd, GlyphID: msg.Glyph.ID, MsgID: msg.MsgID, Payload: schemas.Payload{}}},
	}
	return f, msg, ack
}

// wantHeaders checks m's headers: each of want with its value ("" must be
// absent), each exactly once.
func wantHeaders(t *testing.T, what string, m topics.Message, want map[string]string) {
	t.Helper()
	for k, v := range want {
		n := 0
		for _, h := range m.Headers {
			if h.Key == k {
				n++
			}
		}
		got := string(m.Header(k))
		switch {
		case v == "" && n > 0:
			t.Errorf("%s: header %s=%q, want none", what, k, got)
		case v != "" && (n != 1 || got != v):
			t.Errorf("%s: header %s=%q (%d times), want %q once", what, k, got, n, v)
		}
	}
}

// TestOutputsCarryGlyphIdentity: every output kind encode writes carries
// the GLYPH identity headers of what it is about, next to the headers it
// carried before (source coordinates, output id, matriz-msg-id, decision
// headers, DLQ reason), and the fence's claim headers once stamped.
func TestOutputsCarryGlyphIdentity(t *testing.T) {
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{result: 11, event: 12, trace: 13, action: 14}, fl, func(err error) { t.Error(err) })
	f, msg, _ := identityFrame(t, fl)
	out := o.encode(f)
	fence := newFence("matriz-prod", &topics.Claim{Partition: 2, Generation: 3, MemberID: "m-1"}, clock.Real{})
	out = fence.stampAll(out)
	glyph := map[string]string{HeaderGlyphID: msg.Glyph.ID, HeaderSubjectSID: "subject-7", HeaderLane: "prod", HeaderIDMsg: msg.MsgID, HeaderNode: "memory",
		HeaderTraceparent: inputTP, HeaderSrcTopic: "matriz.prod.messages", HeaderSrcPartition: "2", HeaderSrcOffset: "7",
		HeaderGroup: "matriz-prod", HeaderGeneration: "3", HeaderMember: "m-1"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range glyph {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	byID := map[string]topics.Message{}
	for _, m := range out {
		byID[m.Topic+"/"+string(m.Header(HeaderOutputID))] = m
	}
	if len(out) != 7 {
		t.Fatalf("%d outputs, want 7 (result, DLQ, 3 events, trace, action)", len(out))
	}
	wantHeaders(t, "result", byID["matriz.prod.results/r1"], with(map[string]string{HeaderSchemaID: "11", HeaderMsgID: msg.MsgID, HeaderOutputID: "r1"}))
	wantHeaders(t, "event about the message", byID["matriz.prod.events/e1"], with(map[string]string{HeaderSchemaID: "12", HeaderOutputID: "e1"}))
	wantHeaders(t, "trace", byID["matriz.prod.traces/t1"], with(map[string]string{HeaderSchemaID: "13", HeaderOutputID: "t1"}))
	wantHeaders(t, "action", byID["matriz.prod.actions/a1"], with(map[string]string{HeaderSchemaID: "14", HeaderOutputID: "a1"}))
	// A decision about no message: the lane and schema, the owner's source
	// coordinates, no glyph, message or node of another record's.
	wantHeaders(t, "decision event", byID["matriz.prod.events/e2"], map[string]string{HeaderLane: "prod", HeaderSchemaID: "12", HeaderDecision: "watermark",
		HeaderGlyphID: "", HeaderIDMsg: "", HeaderNode: "", HeaderSubjectSID: "", HeaderTraceparent: "", HeaderMember: "m-1"})
	wantHeaders(t, "decimation event", byID["matriz.prod.events/e3"], map[string]string{HeaderLane: "prod", HeaderSchemaID: "12", HeaderDecision: "decimation",
		HeaderSrcPartition: "2", HeaderGlyphID: "", HeaderMember: "m-1"})
	var dlq topics.Message
	for _, m := range out {
		if m.Topic == "matriz.prod.dlq" {
			dlq = m
		}
	}
	// The DLQ record: what the bytes say (the schema id of their wire
	// prefix), no glyph (they did not decode), and the DLQ headers.
	wantHeaders(t, "DLQ record", dlq, map[string]string{HeaderLane: "prod", HeaderSchemaID: "999", HeaderSrcOffset: "8", HeaderDLQReason: ReasonUnknownSchemaID,
		HeaderDLQStage: "decode", HeaderGlyphID: "", HeaderIDMsg: "", HeaderNode: "", HeaderTraceparent: "", HeaderMember: "m-1"})
}

// TestOutputsCarryFrameSpanTraceparent: with tracing on, the outputs of a
// record carry the traceparent of the span that processed its frame, not
// the input's.
func TestOutputsCarryFrameSpanTraceparent(t *testing.T) {
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{result: 11, event: 12, trace: 13, action: 14}, fl, func(err error) { t.Error(err) })
	f, _, _ := identityFrame(t, fl)
	frameTP := []byte("00-11111111111111111111111111111111-2222222222222222-01")
	fl.peek(7).traceparent = frameTP
	fl.peek(8).traceparent = frameTP
	n := 0
	for _, m := range o.encode(f) {
		if string(m.Header(HeaderDecision)) == "decimation" {
			continue // no input stands behind it
		}
		n++
		if got := string(m.Header(HeaderTraceparent)); got != string(frameTP) {
			t.Errorf("%s %s: traceparent %q, want the frame span's", m.Topic, m.Header(HeaderOutputID), got)
		}
	}
	if n != 6 {
		t.Fatalf("%d outputs checked, want 6", n)
	}
}

// TestOversizedOutputDLQCarriesIdentity: the DLQ record that replaces an
// output too big to write names the input's glyph and message.
func TestOversizedOutputDLQCarriesIdentity(t *testing.T) {
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{result: 11, event: 12, trace: 13, action: 14}, fl, func(err error) {})
	o.recordLimit = 16 << 10
	f, msg, _ := identityFrame(t, fl)
	f.Records[0].Result.Payload = schemas.Payload{"blob": strings.Repeat("x", 32<<10)}
	for _, m := range o.encode(f) {
		if m.Header(HeaderDLQOutput) != nil {
			wantHeaders(t, "oversized output's DLQ record", m, map[string]string{HeaderGlyphID: msg.Glyph.ID, HeaderIDMsg: msg.MsgID, HeaderNode: "memory",
				HeaderLane: "prod", HeaderSchemaID: "41", HeaderDLQReason: ReasonOversizedOutput, HeaderTraceparent: inputTP})
			return
		}
	}
	t.Fatal("no oversized_output DLQ record")
}

// TestIdentityHeadersCheap: an input's identity is built once and shared
// by its outputs; building it and one output's header slice takes three
// allocations (the identity's buffer and slice, the output's slice): no
// map, no fmt on the hot path.
func TestIdentityHeadersCheap(t *testing.T) {
	fl := newInflight()
	f, _, _ := identityFrame(t, fl)
	p, r := fl.peek(7), &f.Records[0]
	lane, schema := []byte("prod"), []byte("11")
	allocs := testing.AllocsPerRun(200, func() {
		p.ident = nil
		outputHeaders(p.identity(r), lane, schema, p.outTraceparent(), topics.Header{Key: HeaderOutputID, Value: lane})
	})
	if allocs > 3 {
		t.Fatalf("%.0f allocations for an identity and one output's headers, want at most 3", allocs)
	}
	a, b := p.identity(nil), p.identity(r)
	if &a[0] != &b[0] {
		t.Fatal("the identity was built twice")
	}
}

// TestActionHeaders: an executing record names the action's glyph and
// message, the lane and schema id, and the traceparent of the span its
// context carries (none with tracing off).
func TestActionHeaders(t *testing.T) {
	a := &stages.Action{ID: "act", GlyphID: "g1", MsgID: "m1"}
	h := topics.Message{Headers: actionHeaders(context.Background(), schemas.LaneProd, 14, a, "ev", "w")}
	wantHeaders(t, "executing record", h, map[string]string{HeaderGlyphID: "g1", HeaderIDMsg: "m1", HeaderLane: "prod", HeaderSchemaID: "14",
		HeaderOutputID: "ev", HeaderActionWriter: "w", HeaderTraceparent: ""})

	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.Background(), "guardian")
	defer span.End()
	h = topics.Message{Headers: actionHeaders(ctx, schemas.LaneProd, 14, a, "ev", "w")}
	if got, want := string(h.Header(HeaderTraceparent)), string(observe.AppendTraceparent(nil, span.SpanContext())); got != want {
		t.Fatalf("traceparent %q, want the deciding span's %q", got, want)
	}
}

// TestRefusedAtDecodeDLQNamesGlyph: a message that decoded but broke the
// contract (or the timestamp checks) goes to the DLQ named by its glyph,
// message and subject; bytes that did not decode are named by nothing but
// their coordinates and schema id.
func TestRefusedAtDecodeDLQNamesGlyph(t *testing.T) {
	msg := laneMessages(schemas.LaneProd, 1, 6, time.Second)[0]
	msg.Topic = ""
	p := &pending{reason: ReasonContract, decoded: &msg, schemaID: 41, msg: topics.Message{Topic: "matriz.prod.messages", Partition: 1, Offset: 3, Value: []byte{0, 0, 0, 0, 41}}}
	d := dlqRecord("prod", p, "decode", ReasonContract, "field topic empty")
	wantHeaders(t, "contract violation", d, map[string]string{HeaderGlyphID: msg.Glyph.ID, HeaderIDMsg: msg.MsgID, HeaderSubjectSID: msg.Glyph.Tags["subject_sid"],
		HeaderSchemaID: "41", HeaderLane: "prod", HeaderNode: "", HeaderDLQReason: ReasonContract})
	if msg.Glyph.Tags["subject_sid"] == "" {
		t.Fatal("the synthetic glyph has no subject_sid tag to check")
	}
	raw := dlqRecord("prod", &pending{msg: topics.Message{Topic: "matriz.prod.messages", Offset: 4, Value: []byte("{}")}}, "decode", ReasonUndecodable, "x")
	wantHeaders(t, "undecodable", raw, map[string]string{HeaderGlyphID: "", HeaderIDMsg: "", HeaderSchemaID: "", HeaderLane: "prod", HeaderSrcOffset: "4"})
}
