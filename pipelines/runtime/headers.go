package runtime

import (
	"strconv"

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

// srcHeaders returns the headers naming m's source coordinates.
func srcHeaders(m topics.Message) []topics.Header {
	return []topics.Header{
		{Key: HeaderSrcTopic, Value: []byte(m.Topic)},
		{Key: HeaderSrcPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		{Key: HeaderSrcOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
	}
}

// dlqMessage wraps the original bytes of m for lane's DLQ, with the reason,
// the stage and the source coordinates in headers.
func dlqMessage(lane string, m topics.Message, stage, reason, detail string) topics.Message {
	h := append(srcHeaders(m),
		topics.Header{Key: HeaderDLQReason, Value: []byte(reason)},
		topics.Header{Key: HeaderDLQStage, Value: []byte(stage)},
		topics.Header{Key: HeaderDLQDetail, Value: []byte(detail)},
	)
	for _, orig := range m.Headers {
		if orig.Key == HeaderTraceparent {
			h = append(h, orig)
		}
	}
	return topics.Message{
		Topic:   topics.Name(lane, topics.KindDLQ),
		Key:     m.Key,
		Value:   m.Value,
		Headers: h,
		Ack:     m.Ack,
	}
}
