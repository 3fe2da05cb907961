package observe

// W3C Trace Context's traceparent header, read and written without the
// propagation API: the runtime holds Kafka headers as bytes, and a
// propagator would need a carrier and a string per record.

import (
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// traceparentLen is the length of a version-00 traceparent:
// "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>".
const traceparentLen = 55

// ParseTraceparent reads a W3C traceparent header value. ok is false for
// a malformed value, version ff, or an all-zero trace or span id, which
// the specification says to ignore. A later version's value is read by its
// first four fields, as the specification asks.
func ParseTraceparent(b []byte) (sc trace.SpanContext, ok bool) {
	if len(b) < traceparentLen || b[2] != '-' || b[35] != '-' || b[52] != '-' {
		return sc, false
	}
	var ver [1]byte
	if _, err := hex.Decode(ver[:], b[0:2]); err != nil || ver[0] == 0xff || !lowerHex(b[:traceparentLen]) {
		return sc, false
	}
	if ver[0] == 0 && len(b) != traceparentLen || len(b) > traceparentLen && b[traceparentLen] != '-' {
		return sc, false
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var flags [1]byte
	if _, err := hex.Decode(tid[:], b[3:35]); err != nil {
		return sc, false
	}
	if _, err := hex.Decode(sid[:], b[36:52]); err != nil {
		return sc, false
	}
	if _, err := hex.Decode(flags[:], b[53:55]); err != nil {
		return sc, false
	}
	sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled, Remote: true})
	return sc, sc.IsValid()
}

// lowerHex reports whether b's id fields are lowercase hex (the dashes
// were checked by the caller).
func lowerHex(b []byte) bool {
	for i, c := range b {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// AppendTraceparent appends sc as a version-00 traceparent value.
func AppendTraceparent(dst []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = append(dst, "00-"...)
	dst = hex.AppendEncode(dst, tid[:])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, sid[:])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, []byte{byte(sc.TraceFlags())})
}
