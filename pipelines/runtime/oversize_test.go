package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// writeLarge writes recs to topic as an outside client would: kafka-go's
// own writer, whose requests may carry records up to the broker's
// message.max.bytes (1,048,588), past what the project's Sink writes.
func writeLarge(t *testing.T, env *pipetest.Env, topic string, recs []topics.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(env.Brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchBytes: 2 << 20, BatchTimeout: time.Millisecond}
	defer w.Close()
	for _, r := range recs {
		km := kafka.Message{Key: r.Key, Value: r.Value, Time: r.Time}
		for _, h := range r.Headers {
			km.Headers = append(km.Headers, kafka.Header(h))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.WriteMessages(ctx, km)
		cancel()
		if err != nil {
			t.Fatalf("write %d-byte record to %s: %v", len(r.Value), topic, err)
		}
	}
}

// hugeAvro is a valid wire-format message whose payload holds about size
// bytes.
func hugeAvro(t *testing.T, env *pipetest.Env, lane schemas.Lane, size int) topics.Message {
	t.Helper()
	id, err := env.Serde.ID(serde.ValueSubject(topics.Name(string(lane), topics.KindMessages)))
	if err != nil {
		t.Fatal(err)
	}
	m := laneMessages(lane, 1, 4242, time.Second)[0]
	m.MsgID = "0b5e55ed-0000-4000-8000-000000000001" // synthetic ids repeat across generators
	m.Payload["blob"] = strings.Repeat("x", size)
	v, err := schemas.AppendWire(nil, id, &m)
	if err != nil {
		t.Fatal(err)
	}
	return topics.Message{Key: []byte("huge-avro"), Value: v}
}

// TestOversizedInputGoesToDLQTruncated sends what an outside client may: a
// 1,000,500-byte record of raw bytes and a valid message whose payload
// makes it as big, then 2,000 valid records. The lane must keep running:
// the raw record in the DLQ truncated, with its size, hash and source in
// headers; the huge message answered or dead-lettered as oversized_output;
// every valid record answered.
func TestOversizedInputGoesToDLQTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: 1 MB records through the lane on the embedded broker (skipped with -short)")
	}
	const valid = 2000
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	raw := make([]byte, 1_000_500)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	big := hugeAvro(t, env, lane, 1_000_000)
	in := topics.Name(string(lane), topics.KindMessages)
	writeLarge(t, env, in, []topics.Message{{Key: []byte("huge-raw"), Value: raw}, big})
	msgs := laneMessages(lane, valid, 11, 5*time.Second)
	env.Produce(t, lane, msgs, nil)

	counters := &observe.LaneCounters{}
	// With dispatch on the nodes answer, and a node that echoes its input
	// makes an output as big as the message.
	stop := runLane(t, env, Config{Lane: lane, Counters: counters, Getenv: envMap(map[string]string{FlagDispatch: "true"})})
	waitCounted(t, counters, valid+2, 90*time.Second)
	env.WaitCommitted(t, in, GroupName("", lane), 90*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("the lane stopped with an error: %v", err)
	}

	results := env.ReadAll(t, topics.Name(string(lane), topics.KindResults))
	answered := map[string]int{}
	for _, r := range results {
		answered[pipetest.Header(r, HeaderMsgID)]++
	}
	for _, m := range msgs {
		if answered[m.MsgID] == 0 {
			t.Fatalf("valid msg %s has no result", m.MsgID)
		}
	}
	dlq := env.ReadAll(t, topics.Name(string(lane), topics.KindDLQ))
	byKey := map[string]topics.Message{}
	for _, d := range dlq {
		byKey[string(d.Key)] = d
	}
	d, ok := byKey["huge-raw"]
	if !ok {
		t.Fatalf("the 1,000,500-byte record is not in the DLQ (%d DLQ records)", len(dlq))
	}
	sum := sha256.Sum256(raw)
	if got := pipetest.Header(d, HeaderDLQReason); got != ReasonUndecodable {
		t.Errorf("reason %q, want %q", got, ReasonUndecodable)
	}
	if pipetest.Header(d, HeaderDLQTruncated) != "true" || pipetest.HeaderInt(t, d, HeaderDLQOriginalSize) != int64(len(raw)) ||
		pipetest.Header(d, HeaderDLQOriginalSHA256) != hex.EncodeToString(sum[:]) {
		t.Errorf("truncation headers: truncated=%q size=%q sha256=%q", pipetest.Header(d, HeaderDLQTruncated),
			pipetest.Header(d, HeaderDLQOriginalSize), pipetest.Header(d, HeaderDLQOriginalSHA256))
	}
	if pipetest.Header(d, HeaderSrcTopic) != in || pipetest.Header(d, HeaderSrcOffset) == "" || pipetest.Header(d, HeaderSrcPartition) == "" {
		t.Errorf("source headers missing: %+v", d.Headers)
	}
	if n := len(d.Value); n == 0 || n >= len(raw) || string(d.Value) != string(raw[:n]) {
		t.Errorf("DLQ value is %d bytes, want a non-empty prefix of the original", n)
	}
	if topics.RecordSize(d) > topics.MaxRecordBytes {
		t.Errorf("DLQ record of %d bytes, over %d", topics.RecordSize(d), topics.MaxRecordBytes)
	}
	// The huge valid message is answered, or dead-lettered because an
	// output it owes does not fit: not both, not neither.
	hd, inDLQ := byKey["huge-avro"]
	var bigMsg schemas.MatrizMessage
	if _, err := schemas.DecodeWire(t.Context(), env.Serde.Lookup(), big.Value, &bigMsg); err != nil {
		t.Fatal(err)
	}
	switch {
	case inDLQ && answered[bigMsg.MsgID] == 0:
		if r := pipetest.Header(hd, HeaderDLQReason); r != ReasonOversizedOutput {
			t.Errorf("huge message's DLQ reason %q, want %q", r, ReasonOversizedOutput)
		}
		t.Logf("huge valid message dead-lettered: %s (%s)", pipetest.Header(hd, HeaderDLQOutput), pipetest.Header(hd, HeaderDLQDetail))
	case !inDLQ && answered[bigMsg.MsgID] > 0:
		t.Logf("huge valid message answered with a result")
	default:
		t.Errorf("huge valid message: in DLQ %v, %d results", inDLQ, answered[bigMsg.MsgID])
	}
	t.Logf("%d results, %d DLQ records; raw record's DLQ copy %d of %d bytes", len(results), len(dlq), len(d.Value), len(raw))
}

// TestOversizedOutputReplacedByDLQRecord: an input that decoded but whose
// result and trace are too big is answered by DLQ records of its own
// bytes (reason oversized_output, naming the output), its Ack counting
// them as it counted the outputs they replace; an oversized event owed by
// no input is reported and not written.
func TestOversizedOutputReplacedByDLQRecord(t *testing.T) {
	const limit = 64 << 10
	var reported []error
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{1, 2, 3, 4}, fl, func(err error) { reported = append(reported, err) })
	o.recordLimit = limit
	msg := laneMessages(schemas.LaneProd, 1, 1, time.Second)[0]
	ack := topics.NewAck()
	in := topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("original bytes"), Ack: ack}
	fl.put(7, &pending{msg: in})
	blob := strings.Repeat("y", 2*limit)
	f := &stages.Frame{Partition: 2, Records: []stages.Record{{Partition: 2, Offset: 7, Msg: &msg,
		Result: &schemas.MatrizResult{ID: "r1", MsgID: msg.MsgID, Lane: schemas.LaneProd, Node: "router", Payload: schemas.Payload{"blob": blob}}}},
		Traces: []schemas.Trace{{ID: "t1", MsgID: msg.MsgID, Lane: schemas.LaneProd, RiskClass: schemas.RiskMinimal, Inputs: schemas.Payload{"blob": blob}}},
		Events: []schemas.Event{{ID: "e1", Kind: schemas.EventDriftAlert, Lane: schemas.LaneProd, MsgID: msg.MsgID, Payload: schemas.Payload{}}},
	}
	out := o.encode(f)
	var dlq, events int
	for _, m := range out {
		if size := topics.RecordSize(m); size > limit {
			t.Fatalf("%s record of %d bytes passed, limit %d", m.Topic, size, limit)
		}
		switch m.Topic {
		case o.topics.dlq:
			dlq++
			if r := string(m.Header(HeaderDLQReason)); r != ReasonOversizedOutput {
				t.Errorf("DLQ reason %q, want %q", r, ReasonOversizedOutput)
			}
			if string(m.Value) != "original bytes" || m.Ack != ack || string(m.Header(HeaderSrcOffset)) != "7" {
				t.Errorf("DLQ record does not carry its input: value %q, offset %q", m.Value, m.Header(HeaderSrcOffset))
			}
		case o.topics.events:
			events++
		case o.topics.results, o.topics.traces:
			t.Errorf("oversized %s record written", m.Topic)
		}
	}
	if dlq != 2 || events != 1 {
		t.Fatalf("%d DLQ records and %d events, want 2 (result, trace) and 1; reported %v", dlq, events, reported)
	}
	for _, m := range out {
		m.Ack.Done(nil)
	}
	if !ack.Resolved() || ack.Err() != nil {
		t.Fatalf("input Ack resolved %v err %v after every output was written", ack.Resolved(), ack.Err())
	}

	// An oversized event of an empty frame is owed by no input.
	empty := &stages.Frame{Partition: 2, Events: []schemas.Event{{ID: "e2", Kind: schemas.EventDriftAlert, Lane: schemas.LaneProd, GlyphID: "g", Payload: schemas.Payload{"blob": blob}}}}
	if out := o.encode(empty); len(out) != 0 || len(reported) != 1 {
		t.Fatalf("owner-less oversized event: %d records written, %d reported; want 0 and 1", len(out), len(reported))
	}
}

// TestTruncateDLQKeepsPrefixAndProof: a DLQ record over the limit keeps
// the original's first bytes, its size and hash, short headers and key.
func TestTruncateDLQKeepsPrefixAndProof(t *testing.T) {
	orig := make([]byte, 10_000)
	for i := range orig {
		orig[i] = byte(i)
	}
	in := topics.Message{Topic: "matriz.prod.messages", Offset: 3, Key: []byte(strings.Repeat("k", 9000)), Value: orig,
		Headers: []topics.Header{{Key: HeaderTraceparent, Value: []byte(strings.Repeat("t", 5000))}}}
	m := dlqMessage("prod", in, "decode", ReasonUndecodable, strings.Repeat("d", 9000))
	got := truncateDLQ(m, 20_000)
	if size := topics.RecordSize(got); size > 20_000 {
		t.Fatalf("truncated record is %d bytes, limit 20000", size)
	}
	sum := sha256.Sum256(orig)
	if string(got.Header(HeaderDLQOriginalSHA256)) != hex.EncodeToString(sum[:]) || string(got.Header(HeaderDLQOriginalSize)) != "10000" {
		t.Fatalf("size %q sha %q", got.Header(HeaderDLQOriginalSize), got.Header(HeaderDLQOriginalSHA256))
	}
	if len(got.Value) == 0 || string(got.Value) != string(orig[:len(got.Value)]) {
		t.Fatalf("value is not a prefix of the original (%d bytes)", len(got.Value))
	}
	if got.Header(HeaderTraceparent) != nil || string(got.Header(HeaderDLQReason)) != ReasonUndecodable || string(got.Header(HeaderSrcOffset)) != "3" {
		t.Fatalf("headers: %+v", got.Headers)
	}
	small := dlqMessage("prod", topics.Message{Value: []byte("x")}, "decode", ReasonUndecodable, "d")
	if got := truncateDLQ(small, 4000); got.Header(HeaderDLQTruncated) != nil {
		t.Fatal("a record that fits was marked truncated")
	}
}
