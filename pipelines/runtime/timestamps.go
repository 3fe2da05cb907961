package runtime

import (
	"fmt"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// DefaultMaxFutureSkew is how far a message's ts may run ahead of its
// Kafka record timestamp by default (Config.MaxFutureSkew).
const DefaultMaxFutureSkew = 5 * time.Minute

// MinMessageTime is the earliest ts a message may carry. Avro's zero
// timestamp-micros (1970) and anything before 2000 come from a producer
// that did not set the field, not from this pipeline's past; let through,
// such a record would sit in the frame of 1970 and make every frame after
// it a jump of decades.
var MinMessageTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkTimestamp judges a decoded message's ts against its Kafka record
// timestamp and returns a DLQ reason and detail, or "" when it is
// plausible:
//
//   - before MinMessageTime: invalid_timestamp;
//   - more than skew ahead of the record timestamp: future_timestamp. One
//     far-future ts would otherwise jump the partition's watermark, make
//     every later record late, expire every waiting action and sweep every
//     glyph's drift state as idle.
//
// It depends on the record alone (its ts and the timestamp the broker
// holds for it), so a replay of the log decides the same. A record with no
// record timestamp (zero) is judged on MinMessageTime only.
func checkTimestamp(msg *schemas.MatrizMessage, recordTime time.Time, skew time.Duration) (reason, detail string) {
	ts := msg.TS
	if ts.Before(MinMessageTime) {
		return ReasonInvalidTimestamp, fmt.Sprintf("ts %s is before %s: not a time this pipeline's producers stamp", ts.UTC().Format(time.RFC3339Nano), MinMessageTime.Format(time.RFC3339))
	}
	if !recordTime.IsZero() && ts.Sub(recordTime) > skew {
		return ReasonFutureTimestamp, fmt.Sprintf("ts %s is %v ahead of the record's Kafka timestamp %s (at most %v allowed)",
			ts.UTC().Format(time.RFC3339Nano), ts.Sub(recordTime).Round(time.Millisecond), recordTime.UTC().Format(time.RFC3339Nano), skew)
	}
	return "", ""
}
