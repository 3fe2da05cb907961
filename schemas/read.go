package schemas

import (
	"encoding/binary"
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
// one array the doubles of every vector, and payload values are boxed
// many to an allocation (box.go).

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
		return r.rest(), true, r.err
	case *Glyph:
		r := newReader(src)
		r.glyph(x, ver == V2)
		return r.rest(), true, r.err
	}
	return nil, false, nil
}

// reader decodes body from pos with a sticky error: once err is set every
// read returns a zero value, so a record reads as a straight list of
// fields. It keeps an offset rather than re-slicing, and fills the vectors'
// array by index: a reader lives on its caller's stack, but its methods
// see it through a pointer, and storing a slice (a pointer) through one
// costs a GC write barrier while the collector runs, once per field read.
type reader struct {
	body   []byte    // the whole body
	pos    int       // where the next read starts
	text   string    // a copy of body, made for the first non-empty string
	floats []float64 // backing array of the decoded vectors, full length
	nf     int       // how much of floats the vectors hold
	err    error
}

func newReader(src []byte) reader { return reader{body: src} }

// left returns the bytes not yet read.
func (r *reader) left() int { return len(r.body) - r.pos }

// rest returns what follows the record.
func (r *reader) rest() []byte { return r.body[r.pos:] }

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

// payload reads a payload map. Its values are boxed by a boxer on this
// function's own stack (box.go) and go into the map in the order they
// were read, so a duplicate key keeps its last value, as with the
// reflective decoder.
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
			return p
		}
		if p == nil {
			p = make(Payload, min(n, maxMapHint))
		}
		for range n {
			k := r.key()
			v := r.payloadValue(&box)
			if r.err != nil {
				return nil
			}
			p[k] = v
		}
	}
}

// payloadValue reads one value of the payload union, boxed by box.
func (r *reader) payloadValue(box *boxer) any {
	idx := r.int()
	if r.err != nil {
		return nil
	}
	switch idx {
	case 0:
		return nil
	case 1:
		return r.bool()
	case 2:
		if v := r.long(); r.err == nil {
			return box.long(v)
		}
		return nil
	case 3:
		if v := r.double(); r.err == nil {
			return box.double(v)
		}
		return nil
	case 4:
		if v := r.string(); r.err == nil {
			return box.string(v)
		}
		return nil
	case 5:
		if v := r.doubles(); r.err == nil {
			return box.doubles(v)
		}
		return nil
	case 6:
		if v := r.stringList(); r.err == nil {
			return box.strings(v)
		}
		return nil
	}
	r.fail(fmt.Errorf("union index %d out of range [0, 7)", idx))
	return nil
}

// doubles reads an array<double> into the reader's shared backing array,
// capped so that appending to one vector cannot overwrite the next. An
// empty array is an empty, non-nil slice, as the reflective decoder gives.
func (r *reader) doubles() []float64 {
	start := r.nf
	for {
		n := r.block("array", doubleBytes)
		if n == 0 {
			if r.err != nil {
				return nil
			}
			if r.floats == nil {
				return []float64{}
			}
			return r.floats[start:r.nf:r.nf]
		}
		if r.nf+n > len(r.floats) {
			start = r.growFloats(start, n)
		}
		for i := range n {
			r.floats[r.nf+i] = r.double()
		}
		r.nf += n
	}
}

// growFloats makes room for n more doubles. The first array has room for
// the first vector and one more like it (payloads carry intent and
// action), never more than the doubles the bytes left can hold. A vector
// that does not fit moves, with what it has so far (from start), to the
// start of a new array, which growFloats returns; the vectors before it
// stay where they are.
func (r *reader) growFloats(start, n int) (newStart int) {
	have := r.nf - start
	size := min(max(2*(have+n), 16), have+r.left()/doubleBytes)
	fs := make([]float64, size)
	copy(fs, r.floats[start:r.nf])
	r.floats, r.nf = fs, have
	return 0
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
	if count > int64(r.left()/minItemBytes) {
		r.fail(fmt.Errorf("%s block count %d exceeds remaining buffer length %d (min %d byte/item)", kind, count, r.left(), minItemBytes))
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
// never alias the caller's buffer. A string kept after the record (a
// glyph id as a map key) keeps that copy alive, as one kept from
// twmb/avro's decoder keeps the 1 KiB slab its strings share.
func (r *reader) string() string {
	n := r.long()
	if r.err != nil {
		return ""
	}
	if n < 0 {
		r.fail(fmt.Errorf("invalid negative string length %d", n))
		return ""
	}
	if n > int64(r.left()) {
		r.fail(&avro.ShortBufferError{Type: "string", Need: int(n), Have: r.left()})
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
	if n < 0 || n > int64(r.left()) {
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
	at := r.pos
	r.pos += n
	return r.text[at:r.pos]
}

func (r *reader) bool() bool {
	if r.err != nil {
		return false
	}
	if r.left() < 1 {
		r.fail(&avro.ShortBufferError{Type: "boolean"})
		return false
	}
	b := r.body[r.pos] == 1 // as twmb/avro and Java: only 1 is true
	r.pos++
	return b
}

func (r *reader) double() float64 {
	if r.err != nil {
		return 0
	}
	if r.left() < doubleBytes {
		r.fail(&avro.ShortBufferError{Type: "uint64", Need: doubleBytes, Have: r.left()})
		return 0
	}
	u := binary.LittleEndian.Uint64(r.body[r.pos:])
	r.pos += doubleBytes
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
	src := r.body[r.pos:]
	if len(src) > 0 && src[0] < 0x80 {
		r.pos++
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
			r.pos += i + 1
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
	r.pos += last + 1
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
	r.pos = len(r.body)
}
