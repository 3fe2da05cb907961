package schemas

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/twmb/avro"
)

// This file holds the direct decoder for the record the pipeline reads on
// its hot path, MatrizMessage (and the Glyph inside it), in both versions.
// It accepts exactly what twmb/avro's reflective decoder accepts and gives
// the same value (the fuzz test holds it to that), with the same hardening:
// every length and count is checked against the bytes left before anything
// is allocated for it, so a bogus length costs an error, not memory. It
// allocates little: one string holds the text of every string in the body,
// one array the doubles of every vector, and payload values are boxed in
// batches (box.go).

// decodeDirect decodes src, written with version ver (concrete) of T's
// schema, into v (already reset), and reports whether it handled the
// type and version at all. Trailing bytes are left to the caller, as with
// the reflective decoder: rest is what follows the record.
func decodeDirect[T Record](src []byte, v *T, ver Version) (rest []byte, handled bool, err error) {
	if ver != V1 && ver != V2 {
		return nil, false, nil
	}
	switch x := any(v).(type) {
	case *MatrizMessage:
		r := newReader(src)
		r.message(x, ver == V2)
		return r.src, true, r.err
	case *Glyph:
		r := newReader(src)
		r.glyph(x, ver == V2)
		return r.src, true, r.err
	}
	return nil, false, nil
}

// reader decodes from src with a sticky error: once err is set every read
// returns a zero value, so a record reads as a straight list of fields.
type reader struct {
	src    []byte    // what is left to read
	body   []byte    // the whole body: src is its tail
	text   string    // a copy of body, made for the first non-empty string
	floats []float64 // backing array of the decoded vectors
	err    error
}

func newReader(src []byte) reader { return reader{src: src, body: src} }

func (r *reader) message(m *MatrizMessage, v2 bool) {
	m.MsgID = r.string()
	m.TS = r.time()
	m.Lane = r.lane()
	r.glyph(&m.Glyph, v2)
	m.Payload = r.payload()
	m.Topic = r.string()
}

// glyph reads GLYPH v1 or, with v2, v2. As after the reflective decode
// (fromWire), an empty provenance is nil.
func (r *reader) glyph(g *Glyph, v2 bool) {
	g.ID = r.string()
	g.Kind = r.string()
	g.Version = r.string()
	g.Tags = r.tags()
	if !v2 {
		return
	}
	if r.nullUnion() {
		s := r.string()
		g.SubjectSID = &s
	}
	if r.nullUnion() {
		c := &Consent{Granted: r.bool()}
		c.Purpose = r.string()
		g.Consent = c
	}
	if p := r.strings(); len(p) > 0 {
		g.Provenance = p
	}
}

// Minimum encoded sizes, which bound a block's count by the bytes left: a
// string, a tag entry (key and value), a payload entry (key and union
// index).
const (
	minStringBytes       = 1
	minTagEntryBytes     = 2
	minPayloadEntryBytes = 2
	doubleBytes          = 8
)

// maxMapHint caps the size a map is made with, as twmb/avro does, so a
// count that fits the bytes left still cannot buy a large table up front.
const maxMapHint = 4 << 10

func (r *reader) tags() map[string]string {
	var m map[string]string
	for {
		n := r.block("map", minTagEntryBytes)
		if n == 0 {
			if m == nil && r.err == nil {
				m = map[string]string{}
			}
			return m
		}
		if m == nil {
			m = make(map[string]string, min(n, maxMapHint))
		}
		for range n {
			k := r.key()
			v := r.string()
			if r.err != nil {
				return nil
			}
			m[k] = v
		}
	}
}

func (r *reader) payload() Payload {
	var (
		p   Payload
		box boxer
	)
	for {
		n := r.block("map", minPayloadEntryBytes)
		if n == 0 {
			if r.err != nil {
				return nil
			}
			if p == nil {
				p = Payload{}
			}
			box.flush(p)
			return p
		}
		if p == nil {
			p = make(Payload, min(n, maxMapHint))
		}
		for range n {
			k := r.key()
			r.payloadValue(&box, k)
			if r.err != nil {
				return nil
			}
			if box.full() {
				box.flush(p)
			}
		}
	}
}

// payloadValue reads one value of the payload union into box under key k.
func (r *reader) payloadValue(box *boxer, k string) {
	idx := r.int()
	if r.err != nil {
		return
	}
	switch idx {
	case 0:
		box.addNil(k)
	case 1:
		box.addBool(k, r.bool())
	case 2:
		box.addLong(k, r.long())
	case 3:
		box.addDouble(k, r.double())
	case 4:
		box.addString(k, r.string())
	case 5:
		box.addDoubles(k, r.doubles())
	case 6:
		box.addStrings(k, r.stringList())
	default:
		r.fail(fmt.Errorf("union index %d out of range [0, 7)", idx))
	}
}

// doubles reads an array<double> into the reader's shared backing array,
// capped so that appending to one vector cannot overwrite the next. An
// empty array is an empty, non-nil slice, as the reflective decoder gives.
func (r *reader) doubles() []float64 {
	start := len(r.floats)
	for {
		n := r.block("array", doubleBytes)
		if n == 0 {
			if r.err != nil {
				return nil
			}
			if r.floats == nil {
				return []float64{}
			}
			return r.floats[start:len(r.floats):len(r.floats)]
		}
		if r.floats == nil {
			// Room for this vector and one more like it (payloads carry
			// intent and action), never more than the doubles the bytes
			// left can hold. A vector that does not fit moves to a larger
			// array as append moves it; the earlier vectors stay where
			// they are.
			r.floats = make([]float64, 0, min(max(2*n, 16), len(r.src)/doubleBytes))
		}
		for range n {
			r.floats = append(r.floats, r.double())
		}
	}
}

// stringList reads the record matriz.StringList: an array<string>, empty
// and non-nil when it has no items.
func (r *reader) stringList() []string {
	s := r.strings()
	if s == nil && r.err == nil {
		s = []string{}
	}
	return s
}

// strings reads an array<string>; nil when empty.
func (r *reader) strings() []string {
	var out []string
	for {
		n := r.block("array", minStringBytes)
		if n == 0 {
			if r.err != nil {
				return nil
			}
			return out
		}
		if out == nil {
			out = make([]string, 0, n)
		}
		for range n {
			out = append(out, r.string())
		}
	}
}

// block reads an array or map block header and returns its item count:
// 0 at the end of the blocks or on error. A negative count is followed by
// the block's byte size, which a decoder that reads every item ignores.
// The count is refused when its items could not fit in the bytes left.
func (r *reader) block(kind string, minItemBytes int) int {
	count := r.long()
	if r.err != nil || count == 0 {
		return 0
	}
	if count < 0 {
		count = -count
		if count < 0 {
			r.fail(fmt.Errorf("invalid %s block count", kind))
			return 0
		}
		r.long()
		if r.err != nil {
			return 0
		}
	}
	if count > int64(len(r.src)/minItemBytes) {
		r.fail(fmt.Errorf("%s block count %d exceeds remaining buffer length %d (min %d byte/item)", kind, count, len(r.src), minItemBytes))
		return 0
	}
	return int(count)
}

func (r *reader) lane() Lane {
	i := r.int()
	if r.err != nil {
		return ""
	}
	if i < 0 || int(i) >= len(Lanes) {
		r.fail(fmt.Errorf("enum index %d out of range [0, %d)", i, len(Lanes)))
		return ""
	}
	return Lanes[i]
}

// nullUnion reads the index of a [null, T] union: true when T follows.
func (r *reader) nullUnion() bool {
	i := r.int()
	if r.err != nil {
		return false
	}
	if i != 0 && i != 1 {
		r.fail(fmt.Errorf("union index %d out of range [0,2)", i))
	}
	return i == 1
}

func (r *reader) time() time.Time {
	us := r.long()
	if r.err != nil {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// string reads an Avro string as a substring of the reader's one copy of
// the body, so the strings of a record cost one allocation together and
// never alias the caller's buffer.
func (r *reader) string() string {
	n := r.long()
	if r.err != nil {
		return ""
	}
	if n < 0 {
		r.fail(fmt.Errorf("invalid negative string length %d", n))
		return ""
	}
	if n > int64(len(r.src)) {
		r.fail(&avro.ShortBufferError{Type: "string", Need: int(n), Have: len(r.src)})
		return ""
	}
	return r.take(int(n))
}

// key reads a map key, a string whose bad lengths the reflective decoder
// reports in words of its own.
func (r *reader) key() string {
	n := r.long()
	if r.err != nil {
		return ""
	}
	if n < 0 || n > int64(len(r.src)) {
		r.fail(fmt.Errorf("invalid map key length %d", n))
		return ""
	}
	return r.take(int(n))
}

// take returns the next n bytes, known to be there, as a string.
func (r *reader) take(n int) string {
	if n == 0 {
		return ""
	}
	if r.text == "" {
		r.text = string(r.body)
	}
	at := len(r.body) - len(r.src)
	r.src = r.src[n:]
	return r.text[at : at+n]
}

func (r *reader) bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.src) < 1 {
		r.fail(&avro.ShortBufferError{Type: "boolean"})
		return false
	}
	b := r.src[0] == 1 // as twmb/avro and Java: only 1 is true
	r.src = r.src[1:]
	return b
}

func (r *reader) double() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.src) < doubleBytes {
		r.fail(&avro.ShortBufferError{Type: "uint64", Need: doubleBytes, Have: len(r.src)})
		return 0
	}
	s := r.src
	u := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	r.src = s[doubleBytes:]
	return math.Float64frombits(u)
}

// long reads a zigzag varint of at most 10 bytes.
func (r *reader) long() int64 {
	u := r.uvarint(64)
	return int64(u>>1) ^ -int64(u&1)
}

// int reads a zigzag varint of at most 5 bytes (an Avro int: union and
// enum indexes).
func (r *reader) int() int32 {
	u := uint32(r.uvarint(32))
	return int32(u>>1) ^ -int32(u&1)
}

var (
	errVarint32Overflow = errors.New("uvarint overflows 32 bits")
	errVarint64Overflow = errors.New("uvarlong overflows 64 bits")
)

// uvarint reads an unsigned varint of width bits (32 or 64), refusing the
// spellings twmb/avro refuses: more bytes than the width needs, or high
// bits set in the last byte.
func (r *reader) uvarint(width int) uint64 {
	if r.err != nil {
		return 0
	}
	src := r.src
	if len(src) > 0 && src[0] < 0x80 {
		r.src = src[1:]
		return uint64(src[0])
	}
	last := width / 7
	var u uint64
	for i := range last {
		if i >= len(src) {
			r.fail(&avro.ShortBufferError{Type: varintName(width)})
			return 0
		}
		b := src[i]
		u |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			r.src = src[i+1:]
			return u
		}
	}
	if len(src) <= last {
		r.fail(&avro.ShortBufferError{Type: varintName(width)})
		return 0
	}
	if b := src[last]; uint64(b) > 1<<(width-7*last)-1 {
		if width == 32 {
			r.fail(errVarint32Overflow)
		} else {
			r.fail(errVarint64Overflow)
		}
		return 0
	} else {
		u |= uint64(b) << (7 * last)
	}
	r.src = src[last+1:]
	return u
}

func varintName(width int) string {
	if width == 32 {
		return "uvarint"
	}
	return "uvarlong"
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.src = nil
}
