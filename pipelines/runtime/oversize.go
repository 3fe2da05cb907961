package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/matriz/pipelines/topics"
)

// A record larger than the lane sink writes (its MaxRecord, 1,000,000
// bytes) would fail its write, and a failed write stops the lane; on
// restart the same input fails again: a crash loop. So encode checks every
// output's size before the sink sees it, and the sink's fatal path is left
// to real broker failures:
//
//   - a DLQ record too big for one record (an input near 1 MB, plus the
//     DLQ's headers) goes out truncated: its value is the original's first
//     bytes, and headers carry the original's size and SHA-256 next to its
//     source topic, partition and offset;
//   - any other output too big (a result, trace, event or action owed by an
//     input that decoded) is replaced by a DLQ record of that input, reason
//     oversized_output, naming the output that did not fit;
//   - an oversized output owed by no input (derived from state alone) is
//     not written, and reported.
//
// The decision depends on the bytes alone, so a replay makes it the same.

// Bounds on what a truncated DLQ record copies besides the value.
const (
	maxDLQDetail = 4 << 10 // the detail header (an error text)
	maxDLQKey    = 4 << 10 // the original's key
	maxDLQHeader = 1 << 10 // any other header (a copied traceparent)
)

// errOversizedOutput fails the Ack of an output owed by no input that is
// too big to write.
var errOversizedOutput = errors.New("output larger than the largest record the sink writes")

// stampRoom is what an output keeps free under the record limit for the
// headers stamped on it after fit: the fence's group, generation and member
// (fence.go), a few hundred bytes. Without it a DLQ record truncated to the
// limit exactly is refused by the broker once stamped, and the lane stops.
const stampRoom = 1024

// maxRecord is the size bound outputs are held to.
func (o *outputs) maxRecord() int {
	if o.recordLimit > 0 {
		return o.recordLimit - stampRoom
	}
	return topics.MaxRecordBytes - stampRoom
}

// fit returns out with every record within maxRecord (see above); owners
// are the frame's inputs, whose Acks the outputs carry.
func (o *outputs) fit(out []topics.Message, owners []owner) []topics.Message {
	limit := o.maxRecord()
	keep := out[:0]
	for _, m := range out {
		size := topics.RecordSize(m)
		switch {
		case size <= limit:
			keep = append(keep, m)
		case m.Topic == o.topics.dlq:
			keep = append(keep, truncateDLQ(m, limit))
		default:
			p := ownerOf(owners, m.Ack)
			if p == nil {
				o.onErr(fmt.Errorf("%s record %s of about %d bytes (at most %d) owed by no input: not written", m.Topic, m.Header(HeaderOutputID), size, limit))
				if m.Ack != nil {
					m.Ack.Done(errOversizedOutput)
				}
				continue
			}
			what := m.Topic + "/" + string(m.Header(HeaderOutputID))
			d := dlqRecord(o.lane, p, "outputs", ReasonOversizedOutput,
				fmt.Sprintf("output %s of about %d bytes is larger than the %d a record may be", what, size, limit))
			d.Topic = o.topics.dlq
			d.Headers = append(d.Headers, topics.Header{Key: HeaderDLQOutput, Value: []byte(what)})
			keep = append(keep, truncateDLQ(d, limit))
		}
	}
	return keep
}

// ownerOf returns the input whose Ack is a, or nil.
func ownerOf(owners []owner, a *topics.Ack) *pending {
	if a == nil {
		return nil
	}
	for i := range owners {
		if p := owners[i].p; p != nil && p.msg.Ack == a {
			return p
		}
	}
	return nil
}

// truncateDLQ returns m cut to fit limit: long headers and key shortened,
// the value cut to what room is left, and the original's size and SHA-256
// in headers. A record that fits is returned as it is.
func truncateDLQ(m topics.Message, limit int) topics.Message {
	if topics.RecordSize(m) <= limit {
		return m
	}
	orig := m.Value
	sum := sha256.Sum256(orig)
	hs := make([]topics.Header, 0, len(m.Headers)+3)
	for _, h := range m.Headers {
		switch {
		case h.Key == HeaderDLQDetail:
			if len(h.Value) > maxDLQDetail {
				h.Value = h.Value[:maxDLQDetail]
			}
		case len(h.Value) > maxDLQHeader:
			continue
		}
		hs = append(hs, h)
	}
	hs = append(hs,
		topics.Header{Key: HeaderDLQTruncated, Value: []byte("true")},
		topics.Header{Key: HeaderDLQOriginalSize, Value: strconv.AppendInt(nil, int64(len(orig)), 10)},
		topics.Header{Key: HeaderDLQOriginalSHA256, Value: []byte(hex.EncodeToString(sum[:]))})
	m.Headers = hs
	if len(m.Key) > maxDLQKey {
		m.Key = m.Key[:maxDLQKey]
	}
	m.Value = nil
	room := max(0, limit-topics.RecordSize(m))
	m.Value = orig[:min(room, len(orig))]
	return m
}
