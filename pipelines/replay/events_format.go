package replay

// How `matriz events` prints an event: one text line a person reads, or one
// JSON object a program reads (jq, a diff tool).

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// textTime is the event time's layout in text lines: fixed width, to the
// microsecond the schema keeps.
const textTime = "2006-01-02T15:04:05.000000Z07:00"

// AppendText appends r as one line (with its newline): event time, kind,
// glyph, stage, message id and the payload as compact JSON with sorted
// keys; "-" stands for an empty field.
func (r EventRecord) AppendText(dst []byte) []byte {
	ev := &r.Event
	dst = ev.TS.UTC().AppendFormat(dst, textTime)
	dst = fmt.Appendf(dst, "  %-17s %s  %s  %s  ", ev.Kind, orDash(ev.GlyphID), orDash(ev.Stage), orDash(ev.MsgID))
	p, err := json.Marshal(PayloadJSON(ev.Payload))
	if err != nil { // cannot happen: payloadJSON leaves only JSON values
		p = fmt.Appendf(nil, "%q", err.Error())
	}
	dst = append(dst, p...)
	return append(dst, '\n')
}

// eventJSON is the --json form of a record: where it is, then the event.
type eventJSON struct {
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       string            `json:"key"`
	Headers   map[string]string `json:"headers,omitempty"`
	ID        string            `json:"id"`
	TS        time.Time         `json:"ts"`
	Kind      schemas.EventKind `json:"kind"`
	Lane      schemas.Lane      `json:"lane"`
	GlyphID   string            `json:"glyph_id"`
	MsgID     string            `json:"msg_id"`
	Stage     string            `json:"stage"`
	Payload   map[string]any    `json:"payload"`
}

// AppendJSON appends r as one JSON object and a newline: partition,
// offset, the record timestamp, key and headers, then the event's fields
// under their Avro names. A NaN or infinite payload number, which JSON
// cannot hold, is written as the string "NaN", "+Inf" or "-Inf".
func (r EventRecord) AppendJSON(dst []byte) []byte {
	ev := &r.Event
	v := eventJSON{
		Partition: r.Partition, Offset: r.Offset, Timestamp: r.Time.UTC(), Key: string(r.Key),
		ID: ev.ID, TS: ev.TS.UTC(), Kind: ev.Kind, Lane: ev.Lane, GlyphID: ev.GlyphID, MsgID: ev.MsgID, Stage: ev.Stage,
		Payload: PayloadJSON(ev.Payload),
	}
	if len(r.Headers) > 0 {
		v.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			v.Headers[h.Key] = string(h.Value)
		}
	}
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: every field is a JSON value
		b = fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	return append(append(dst, b...), '\n')
}

// PayloadJSON returns p with every value JSON can encode: non-finite
// numbers become strings.
func PayloadJSON(p schemas.Payload) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		switch x := v.(type) {
		case float64:
			out[k] = finite(x)
		case []float64:
			vs := make([]any, len(x))
			for i, f := range x {
				vs[i] = finite(f)
			}
			out[k] = vs
		default:
			out[k] = v
		}
	}
	return out
}

func finite(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return f
}
