package schemas

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"time"
)

// This file holds the direct encoders: hand-written Avro binary appenders
// for the records the pipeline writes on its hot path (results, events,
// traces, and messages and glyphs for producers), on the latest version of
// each schema. They write exactly the bytes twmb/avro's reflective codec
// writes, except that map entries come out sorted by key, so equal values
// give equal bytes. They never report why a value does not fit: they say
// only that it does not (false), and AppendEncodeAs then runs the
// reflective codec, which names the field and the cause.

// appendDirect appends v's body written with version ver (concrete, not
// Latest) and reports whether it could: false for a version the direct
// encoders do not write, or a value the schema cannot hold.
func appendDirect[T Record](dst []byte, v *T, ver Version) ([]byte, bool) {
	return appendDirectMemo(dst, v, ver, nil)
}

// appendDirectMemo is appendDirect writing crumbs through memo (nil: none).
func appendDirectMemo[T Record](dst []byte, v *T, ver Version, memo *CrumbMemo) ([]byte, bool) {
	switch x := any(v).(type) {
	case *MatrizResult:
		if ver == V1 {
			return appendResult(dst, x, memo)
		}
	case *Event:
		if ver == V1 {
			return appendEvent(dst, x)
		}
	case *Trace:
		if ver == V1 {
			return appendTrace(dst, x, memo)
		}
	case *MatrizMessage:
		if ver == V1 || ver == V2 {
			return appendMessage(dst, x, ver == V2)
		}
	case *Glyph:
		if ver == V1 || ver == V2 {
			return appendGlyph(dst, x, ver == V2), true
		}
	}
	return dst, false
}

func appendResult(dst []byte, r *MatrizResult, memo *CrumbMemo) ([]byte, bool) {
	dst = appendString(dst, r.ID)
	dst = appendString(dst, r.MsgID)
	dst, ok := appendTime(dst, r.TS)
	if !ok {
		return dst, false
	}
	if dst, ok = appendLane(dst, r.Lane); !ok {
		return dst, false
	}
	dst = appendString(dst, r.Node)
	dst = appendString(dst, r.NodeVersion)
	dst = appendBool(dst, r.OK)
	dst = appendStrings(dst, r.Reasons)
	if dst, ok = appendPayload(dst, r.Payload); !ok {
		return dst, false
	}
	return appendCrumbs(dst, r.Trace, memo)
}

func appendEvent(dst []byte, e *Event) ([]byte, bool) {
	dst = appendString(dst, e.ID)
	dst, ok := appendTime(dst, e.TS)
	if !ok {
		return dst, false
	}
	if dst, ok = appendSymbol(dst, e.Kind, EventKinds); !ok {
		return dst, false
	}
	if dst, ok = appendLane(dst, e.Lane); !ok {
		return dst, false
	}
	dst = appendString(dst, e.GlyphID)
	dst = appendString(dst, e.MsgID)
	dst = appendString(dst, e.Stage)
	return appendPayload(dst, e.Payload)
}

func appendTrace(dst []byte, t *Trace, memo *CrumbMemo) ([]byte, bool) {
	dst = appendString(dst, t.ID)
	dst, ok := appendTime(dst, t.TS)
	if !ok {
		return dst, false
	}
	dst = appendString(dst, t.MsgID)
	if dst, ok = appendLane(dst, t.Lane); !ok {
		return dst, false
	}
	dst = appendString(dst, t.Stage)
	dst = appendString(dst, t.Decision)
	if dst, ok = appendCrumbs(dst, t.Crumbs, memo); !ok {
		return dst, false
	}
	if dst, ok = appendPayload(dst, t.Inputs); !ok {
		return dst, false
	}
	if dst, ok = appendPayload(dst, t.Outputs); !ok {
		return dst, false
	}
	dst = appendStrings(dst, t.Constraints)
	if dst, ok = appendSymbol(dst, t.RiskClass, RiskClasses); !ok {
		return dst, false
	}
	dst = appendString(dst, t.DataOrigin)
	return appendString(dst, t.ExplanationLink), true
}

func appendMessage(dst []byte, m *MatrizMessage, v2 bool) ([]byte, bool) {
	dst = appendString(dst, m.MsgID)
	dst, ok := appendTime(dst, m.TS)
	if !ok {
		return dst, false
	}
	if dst, ok = appendLane(dst, m.Lane); !ok {
		return dst, false
	}
	dst = appendGlyph(dst, &m.Glyph, v2)
	if dst, ok = appendPayload(dst, m.Payload); !ok {
		return dst, false
	}
	return appendString(dst, m.Topic), true
}

// appendGlyph writes GLYPH v1 or, with v2, GLYPH v2.
func appendGlyph(dst []byte, g *Glyph, v2 bool) []byte {
	dst = appendString(dst, g.ID)
	dst = appendString(dst, g.Kind)
	dst = appendString(dst, g.Version)
	dst = appendTags(dst, g.Tags)
	if !v2 {
		return dst
	}
	if g.SubjectSID == nil {
		dst = append(dst, 0)
	} else {
		dst = appendString(append(dst, 2), *g.SubjectSID)
	}
	if g.Consent == nil {
		dst = append(dst, 0)
	} else {
		dst = appendString(appendBool(append(dst, 2), g.Consent.Granted), g.Consent.Purpose)
	}
	return appendStrings(dst, g.Provenance)
}

func appendCrumbs(dst []byte, cs []Crumb, memo *CrumbMemo) ([]byte, bool) {
	if len(cs) > 0 {
		dst = appendLong(dst, int64(len(cs)))
		for i := range cs {
			var ok bool
			if dst, ok = memo.appendCrumb(dst, &cs[i]); !ok {
				return dst, false
			}
		}
	}
	return append(dst, 0), true
}

func appendCrumb(dst []byte, c *Crumb) ([]byte, bool) {
	dst = appendString(dst, c.Stage)
	dst, ok := appendTime(dst, c.T)
	if !ok {
		return dst, false
	}
	return appendPayload(dst, c.Data)
}

// tagEntry and payloadEntry are the entries of a map too large to sort
// on the stack (keyorder.go), collected in a slice and sorted there.
type (
	tagEntry struct {
		key, value string
	}
	payloadEntry struct {
		key   string
		value any
	}
)

// appendTags writes a map<string> with its entries sorted by key. The
// entries of a small map are stored by indexing local arrays, not through
// a slice: stores the compiler sees go to the stack need no GC write
// barrier, and strings would otherwise take one per word stored.
func appendTags(dst []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return append(dst, 0)
	}
	if len(m) > entriesOnStack {
		return appendTagsLarge(dst, m)
	}
	var (
		keys, values [entriesOnStack]string
		order        keyOrder
	)
	n := 0
	for k, v := range m {
		keys[n], values[n], order.prefix[n] = k, v, keyPrefix(k)
		n++
	}
	order.sort(&keys, n)
	dst = appendLong(dst, int64(n))
	for _, i := range order.idx[:n] {
		dst = appendString(appendString(dst, keys[i]), values[i])
	}
	return append(dst, 0)
}

func appendTagsLarge(dst []byte, m map[string]string) []byte {
	es := make([]tagEntry, 0, len(m))
	for k, v := range m {
		es = append(es, tagEntry{k, v})
	}
	slices.SortFunc(es, func(a, b tagEntry) int { return strings.Compare(a.key, b.key) })
	dst = appendLong(dst, int64(len(es)))
	for _, e := range es {
		dst = appendString(appendString(dst, e.key), e.value)
	}
	return append(dst, 0)
}

// appendPayload writes a payload map with its entries sorted by key; false
// for a value of a type the payload union lacks. A small map's entries go
// through local arrays, as in appendTags.
func appendPayload(dst []byte, p Payload) ([]byte, bool) {
	if len(p) == 0 {
		return append(dst, 0), true
	}
	if len(p) <= 2 {
		return appendPayloadPair(dst, p)
	}
	if len(p) > entriesOnStack {
		return appendPayloadLarge(dst, p)
	}
	var (
		keys   [entriesOnStack]string
		values [entriesOnStack]any
		order  keyOrder
	)
	n := 0
	for k, v := range p {
		keys[n], values[n], order.prefix[n] = k, v, keyPrefix(k)
		n++
	}
	order.sort(&keys, n)
	dst = appendLong(dst, int64(n))
	for _, i := range order.idx[:n] {
		var ok bool
		if dst, ok = appendPayloadValue(appendString(dst, keys[i]), values[i]); !ok {
			return dst, false
		}
	}
	return append(dst, 0), true
}

// appendPayloadPair writes a payload of one or two entries, the size of
// most crumbs' data, without the arrays (and their zeroing) a larger one
// sorts in.
func appendPayloadPair(dst []byte, p Payload) ([]byte, bool) {
	var (
		k0, k1 string
		v0, v1 any
		n      int
	)
	for k, v := range p {
		if n == 0 {
			k0, v0 = k, v
		} else {
			k1, v1 = k, v
		}
		n++
	}
	dst = appendLong(dst, int64(n))
	if n == 2 && k1 < k0 {
		k0, v0, k1, v1 = k1, v1, k0, v0
	}
	dst, ok := appendPayloadValue(appendString(dst, k0), v0)
	if ok && n == 2 {
		dst, ok = appendPayloadValue(appendString(dst, k1), v1)
	}
	if !ok {
		return dst, false
	}
	return append(dst, 0), true
}

func appendPayloadLarge(dst []byte, p Payload) ([]byte, bool) {
	es := make([]payloadEntry, 0, len(p))
	for k, v := range p {
		es = append(es, payloadEntry{k, v})
	}
	slices.SortFunc(es, func(a, b payloadEntry) int { return strings.Compare(a.key, b.key) })
	dst = appendLong(dst, int64(len(es)))
	for _, e := range es {
		var ok bool
		if dst, ok = appendPayloadValue(appendString(dst, e.key), e.value); !ok {
			return dst, false
		}
	}
	return append(dst, 0), true
}

// appendPayloadValue writes one value of the union [null, boolean, long,
// double, string, array<double>, matriz.StringList]: the branch index, then
// the value. A Go int is a long; a nil []float64 an empty array, as the
// reflective path writes it (see emptyDoubles).
func appendPayloadValue(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, branchIndexNull), true
	case bool:
		return appendBool(append(dst, branchIndexBoolean), x), true
	case int64:
		return appendLong(append(dst, branchIndexLong), x), true
	case int:
		return appendLong(append(dst, branchIndexLong), int64(x)), true
	case float64:
		return appendDouble(append(dst, branchIndexDouble), x), true
	case string:
		return appendString(append(dst, branchIndexString), x), true
	case []float64:
		dst = append(dst, branchIndexDoubles)
		if len(x) > 0 {
			dst = appendLong(dst, int64(len(x)))
			for _, f := range x {
				dst = appendDouble(dst, f)
			}
		}
		return append(dst, 0), true
	case []string:
		return appendStrings(append(dst, branchIndexStrings), x), true
	}
	return dst, false
}

// The payload union's branch indexes as written: a zigzag varint of 0…6 is
// the single byte 2×index.
const (
	branchIndexNull byte = 2 * iota
	branchIndexBoolean
	branchIndexLong
	branchIndexDouble
	branchIndexString
	branchIndexDoubles
	branchIndexStrings
)

func appendStrings(dst []byte, ss []string) []byte {
	if len(ss) > 0 {
		dst = appendLong(dst, int64(len(ss)))
		for _, s := range ss {
			dst = appendString(dst, s)
		}
	}
	return append(dst, 0)
}

// appendLane writes the Lane enum's index; false for a string that is not
// a lane.
func appendLane(dst []byte, l Lane) ([]byte, bool) {
	switch l {
	case LaneExperimental:
		return append(dst, 0), true
	case LaneCandidate:
		return append(dst, 2), true
	case LaneProd:
		return append(dst, 4), true
	}
	return dst, false
}

// appendSymbol writes s's index in symbols, the enum's symbol order.
func appendSymbol[S ~string](dst []byte, s S, symbols []S) ([]byte, bool) {
	i := slices.Index(symbols, s)
	if i < 0 {
		return dst, false
	}
	return appendLong(dst, int64(i)), true
}

// appendTime writes t as timestamp-micros; false when the microseconds
// since the epoch overflow an int64 (the reflective codec's rule, whose
// arithmetic this repeats).
func appendTime(dst []byte, t time.Time) ([]byte, bool) {
	const scale = 1_000_000
	const maxSec = math.MaxInt64 / scale
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec < 0 && nsec > 0 {
		if sec+1 < -maxSec {
			return dst, false
		}
		scaled := (sec + 1) * scale
		adjust := nsec/1_000 - scale
		if adjust < math.MinInt64-scaled {
			return dst, false
		}
		return appendLong(dst, scaled+adjust), true
	}
	if sec > maxSec || sec < -maxSec {
		return dst, false
	}
	total, sub := sec*scale, nsec/1_000
	if sec == maxSec && sub > math.MaxInt64-total {
		return dst, false
	}
	return appendLong(dst, total+sub), true
}

// appendLong writes an Avro long: a zigzag varint.
func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
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
