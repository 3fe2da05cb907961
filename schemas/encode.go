package schemas

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// This file is the Avro binary writer for the five record types. It writes
// exactly what twmb/avro's encoder writes for the same schema, with one
// difference: map entries (glyph tags, payloads) are written in sorted key
// order. twmb/avro walks Go maps in Go's randomised iteration order, so the
// same message would give different bytes from one run to the next; golden
// files, byte-level replay diffs and log compaction of identical records all
// need one message to have one encoding. Decoding stays with twmb/avro,
// which is hardened against hostile input; encode_test.go checks both
// writers byte for byte wherever map order cannot differ.

// Union branch indexes of the payload value union
// ["null","boolean","long","double","string",array<double>,matriz.StringList].
const (
	branchNull = iota
	branchBoolean
	branchLong
	branchDouble
	branchString
	branchDoubles
	branchStrings
)

// sortScratch is the number of map keys sorted on the stack before sorting
// needs a heap slice; payloads and tag maps are smaller than this.
const sortScratch = 32

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v)<<1^uint64(v>>63))
}

func appendString(dst []byte, s string) []byte {
	dst = appendLong(dst, int64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendDouble(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// maxMicroSeconds is the largest whole number of seconds whose microseconds
// fit in an int64 (about 292,000 years either side of 1970).
const maxMicroSeconds = math.MaxInt64 / 1_000_000

// timestampMicros returns t as microseconds since the Unix epoch, rounded
// towards the past (what time.UnixMicro gives), and false when that does not
// fit in an int64, where time.UnixMicro would silently wrap. Every int64
// fits back: a decoded timestamp always encodes again.
func timestampMicros(t time.Time) (int64, bool) {
	sec, us := t.Unix(), int64(t.Nanosecond()/1000)
	if sec < 0 && us > 0 {
		sec, us = sec+1, us-1_000_000 // same signs, so sec*1e6 cannot overflow early
	}
	if sec > maxMicroSeconds || sec < -maxMicroSeconds {
		return 0, false
	}
	v := sec * 1_000_000
	if (sec >= 0 && us > math.MaxInt64-v) || (sec < 0 && us < math.MinInt64-v) {
		return 0, false
	}
	return v + us, true
}

func appendTimestampMicros(dst []byte, t time.Time, field string) ([]byte, error) {
	us, ok := timestampMicros(t)
	if !ok {
		return dst, &EncodeError{Field: field, Err: fmt.Errorf("time %s is outside timestamp-micros (int64 microseconds since 1970)", t.Format(time.RFC3339Nano))}
	}
	return appendLong(dst, us), nil
}

func appendStringArray(dst []byte, ss []string) []byte {
	if len(ss) == 0 {
		return append(dst, 0)
	}
	dst = appendLong(dst, int64(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return append(dst, 0)
}

func appendDoubleArray(dst []byte, fs []float64) []byte {
	if len(fs) == 0 {
		return append(dst, 0)
	}
	dst = appendLong(dst, int64(len(fs)))
	for _, f := range fs {
		dst = appendDouble(dst, f)
	}
	return append(dst, 0)
}

// sortedKeys returns the keys of m in ascending order, in scratch when they
// fit so that small maps sort without allocating.
func sortedKeys[V any](m map[string]V, scratch *[sortScratch]string) []string {
	keys := scratch[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendStringMap(dst []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return append(dst, 0)
	}
	var scratch [sortScratch]string
	dst = appendLong(dst, int64(len(m)))
	for _, k := range sortedKeys(m, &scratch) {
		dst = appendString(dst, k)
		dst = appendString(dst, m[k])
	}
	return append(dst, 0)
}

// appendPayload writes p as map<union>, keys sorted. A value outside the
// union gives a *PayloadTypeError.
func appendPayload(dst []byte, p Payload, field string) ([]byte, error) {
	if len(p) == 0 {
		return append(dst, 0), nil
	}
	var scratch [sortScratch]string
	dst = appendLong(dst, int64(len(p)))
	for _, k := range sortedKeys(p, &scratch) {
		dst = appendString(dst, k)
		switch x := p[k].(type) {
		case nil:
			dst = appendLong(dst, branchNull)
		case bool:
			dst = appendBool(appendLong(dst, branchBoolean), x)
		case int64:
			dst = appendLong(appendLong(dst, branchLong), x)
		case int:
			dst = appendLong(appendLong(dst, branchLong), int64(x))
		case float64:
			dst = appendDouble(appendLong(dst, branchDouble), x)
		case string:
			dst = appendString(appendLong(dst, branchString), x)
		case []float64:
			dst = appendDoubleArray(appendLong(dst, branchDoubles), x)
		case []string:
			dst = appendStringArray(appendLong(dst, branchStrings), x)
		default:
			return dst, &EncodeError{Field: field, Err: &PayloadTypeError{Key: k, Value: x}}
		}
	}
	return append(dst, 0), nil
}

// enumIndex returns the index of sym in symbols, the position Avro writes.
func enumIndex[S ~string](dst []byte, sym S, symbols []S, field string) ([]byte, error) {
	for i, s := range symbols {
		if s == sym {
			return appendLong(dst, int64(i)), nil
		}
	}
	return dst, &EncodeError{Field: field, Err: &SymbolError{Symbol: string(sym), Allowed: symbolStrings(symbols)}}
}

func symbolStrings[S ~string](symbols []S) []string {
	out := make([]string, len(symbols))
	for i, s := range symbols {
		out[i] = string(s)
	}
	return out
}

func appendGlyph(dst []byte, g *Glyph) []byte {
	dst = appendString(dst, g.ID)
	dst = appendString(dst, g.Kind)
	dst = appendString(dst, g.Version)
	return appendStringMap(dst, g.Tags)
}

func appendMessage(dst []byte, m *MatrizMessage) ([]byte, error) {
	var err error
	dst = appendString(dst, m.MsgID)
	if dst, err = appendTimestampMicros(dst, m.TS, "ts"); err != nil {
		return dst, err
	}
	if dst, err = enumIndex(dst, m.Lane, Lanes, "lane"); err != nil {
		return dst, err
	}
	dst = appendGlyph(dst, &m.Glyph)
	if dst, err = appendPayload(dst, m.Payload, "payload"); err != nil {
		return dst, err
	}
	return appendString(dst, m.Topic), nil
}

func appendCrumbs(dst []byte, cs []Crumb, field string) ([]byte, error) {
	if len(cs) == 0 {
		return append(dst, 0), nil
	}
	dst = appendLong(dst, int64(len(cs)))
	var err error
	for i := range cs {
		c := &cs[i]
		dst = appendString(dst, c.Stage)
		if dst, err = appendTimestampMicros(dst, c.T, fmt.Sprintf("%s[%d].t", field, i)); err != nil {
			return dst, err
		}
		if dst, err = appendPayload(dst, c.Data, fmt.Sprintf("%s[%d].data", field, i)); err != nil {
			return dst, err
		}
	}
	return append(dst, 0), nil
}

func appendResult(dst []byte, r *MatrizResult) ([]byte, error) {
	var err error
	dst = appendString(dst, r.ID)
	dst = appendString(dst, r.MsgID)
	if dst, err = appendTimestampMicros(dst, r.TS, "ts"); err != nil {
		return dst, err
	}
	if dst, err = enumIndex(dst, r.Lane, Lanes, "lane"); err != nil {
		return dst, err
	}
	dst = appendString(dst, r.Node)
	dst = appendString(dst, r.NodeVersion)
	dst = appendBool(dst, r.OK)
	dst = appendStringArray(dst, r.Reasons)
	if dst, err = appendPayload(dst, r.Payload, "payload"); err != nil {
		return dst, err
	}
	return appendCrumbs(dst, r.Trace, "trace")
}

func appendEvent(dst []byte, e *Event) ([]byte, error) {
	var err error
	dst = appendString(dst, e.ID)
	if dst, err = appendTimestampMicros(dst, e.TS, "ts"); err != nil {
		return dst, err
	}
	if dst, err = enumIndex(dst, e.Kind, EventKinds, "kind"); err != nil {
		return dst, err
	}
	if dst, err = enumIndex(dst, e.Lane, Lanes, "lane"); err != nil {
		return dst, err
	}
	dst = appendString(dst, e.GlyphID)
	dst = appendString(dst, e.MsgID)
	dst = appendString(dst, e.Stage)
	return appendPayload(dst, e.Payload, "payload")
}

func appendTrace(dst []byte, t *Trace) ([]byte, error) {
	var err error
	dst = appendString(dst, t.ID)
	if dst, err = appendTimestampMicros(dst, t.TS, "ts"); err != nil {
		return dst, err
	}
	dst = appendString(dst, t.MsgID)
	if dst, err = enumIndex(dst, t.Lane, Lanes, "lane"); err != nil {
		return dst, err
	}
	dst = appendString(dst, t.Stage)
	dst = appendString(dst, t.Decision)
	if dst, err = appendCrumbs(dst, t.Crumbs, "crumbs"); err != nil {
		return dst, err
	}
	if dst, err = appendPayload(dst, t.Inputs, "inputs"); err != nil {
		return dst, err
	}
	if dst, err = appendPayload(dst, t.Outputs, "outputs"); err != nil {
		return dst, err
	}
	dst = appendStringArray(dst, t.Constraints)
	if dst, err = enumIndex(dst, t.RiskClass, RiskClasses, "risk_class"); err != nil {
		return dst, err
	}
	dst = appendString(dst, t.DataOrigin)
	return appendString(dst, t.ExplanationLink), nil
}
