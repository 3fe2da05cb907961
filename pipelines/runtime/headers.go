package runtime

import (
	"github.com/matriz/pipelines/topics"
)

// Header keys the runtime writes. Source coordinates make every output
// traceable to its input offset; the DLQ headers say why a record is there.
const (
	HeaderSrcTopic     = "matriz-src-topic"
	HeaderSrcPartition = "matriz-src-partition"
	HeaderSrcOffset    = "matriz-src-offset"
	HeaderMsgID        = "matriz-msg-id"
	HeaderOutputID     = "matriz-output-id"
	HeaderDLQReason    = "matriz-dlq-reason"
	HeaderDLQStage     = "matriz-dlq-stage"
	HeaderDLQDetail    = "matriz-dlq-detail"
	HeaderLate         = "matriz-late"
	HeaderTraceparent  = "traceparent"
	// HeaderDecision marks a decision event (its kind) so a replay or a
	// restart can pick the decision log out of the event log without
	// decoding every event; HeaderSrcPartition names the partition whose
	// run made it.
	HeaderDecision = "matriz-decision"
	// HeaderPanicFrame is on a DLQ record a stage panicked on: the
	// function, file and line that panicked.
	HeaderPanicFrame = "matriz-panic-frame"
	// HeaderCanary is on every output of a canary's shadow chain: the
	// lane whose stage config the canary runs. No output of the lane's
	// own chain carries it.
	HeaderCanary = "matriz-canary"
	// HeaderProducer: see topics.HeaderProducer.
	HeaderProducer = topics.HeaderProducer
)

// DLQ reasons: the reason label of lukhas_dlq_total and the
// matriz-dlq-reason header. They are few and stable so alerts can key on
// them; the detail header carries the specifics.
const (
	ReasonUndecodable     = "undecodable"
	ReasonUnknownSchemaID = "unknown_schema_id"
	ReasonContract        = "contract_violation"
	ReasonNodePanic       = "node_panic"
	ReasonStage           = "stage_failure"
	// ReasonStageError: the chain stopped on the record's frame with a
	// stage error before the record went through every stage.
	ReasonStageError = "stage_error"
	// ReasonStagePanic: a stage panicked on the record (alone).
	ReasonStagePanic = "stage_panic"
	// ReasonOversizedOutput: the input decoded, but an output it owes (a
	// result, trace, event or action) is larger than a record may be.
	ReasonOversizedOutput = "oversized_output"
	// ReasonFutureTimestamp: the message's ts is further ahead of its
	// Kafka record timestamp than the lane's MaxFutureSkew allows.
	ReasonFutureTimestamp = "future_timestamp"
	// ReasonInvalidTimestamp: the message's ts is zero or before
	// MinMessageTime, which no producer of this pipeline stamps.
	ReasonInvalidTimestamp = "invalid_timestamp"
)

// Headers of a DLQ record whose original did not fit in one record: its
// value is the original's first bytes, and these say what was cut.
const (
	HeaderDLQTruncated      = "matriz-dlq-truncated"       // "true"
	HeaderDLQOriginalSize   = "matriz-dlq-original-size"   // the original value's length in bytes
	HeaderDLQOriginalSHA256 = "matriz-dlq-original-sha256" // hex SHA-256 of the whole original value
	HeaderDLQOutput         = "matriz-dlq-output"          // oversized_output: "<topic>/<output id>" that did not fit
)

// GLYPH identity headers, on every output record (results, events,
// traces, actions, DLQ) so kcat, Kafka UIs and connectors can filter
// without decoding Avro (identity.go builds them). A header whose value is
// not known for a record is left out: subject-sid for a glyph without one,
// glyph-id, msg-id and node for what no decoded input stands behind.
const (
	HeaderGlyphID    = "glyph-id"    // the glyph the record is about
	HeaderSubjectSID = "subject-sid" // the glyph's data subject: GLYPH v2 subject_sid, else the subject_sid tag
	HeaderLane       = "lane"        // the lane that wrote it
	HeaderIDMsg      = "msg-id"      // the input message's msg_id
	HeaderSchemaID   = "schema-id"   // the registry id of the value's writer schema (a DLQ record: the original's)
	HeaderNode       = "node"        // the MATRIZ node the input was routed to
)

// dlqMessage wraps the original bytes of m for lane's DLQ, with the reason,
// the stage, the source coordinates and what is known of its identity in
// headers.
func dlqMessage(lane string, m topics.Message, stage, reason, detail string) topics.Message {
	return dlqRecord(lane, &pending{msg: m}, stage, reason, detail)
}

// dlqRecord is dlqMessage for an input the worker holds: its identity
// headers say what the decode and the chain learnt of it.
func dlqRecord(lane string, p *pending, stage, reason, detail string) topics.Message {
	m := p.msg
	h := outputHeaders(p.identity(nil), []byte(lane), wireSchemaID(p), p.outTraceparent(),
		topics.Header{Key: HeaderDLQReason, Value: []byte(reason)},
		topics.Header{Key: HeaderDLQStage, Value: []byte(stage)},
		topics.Header{Key: HeaderDLQDetail, Value: []byte(detail)})
	return topics.Message{
		Topic:   topics.Name(lane, topics.KindDLQ),
		Key:     m.Key,
		Value:   m.Value,
		Headers: h,
		Ack:     m.Ack,
	}
}
