package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// eventDecoder decodes event log values for one scan worker. Values written
// with exactly the binary's own Event schema (the same Parsing Canonical
// Form, so the same bytes on the wire) take fastEvent, a decoder written
// for that one layout; any other writer schema goes through
// schemas.DecodeWire and Avro schema resolution. The general decoder walks
// the payload map by reflection and costs 2-4 µs a typical event, which
// kept a 2-core scan near 450k events/s; fastEvent costs a third of that
// (BenchmarkDecodeEvent) and the scan reaches 640k-880k/s
// (BenchmarkScanEvents). TestFastEventDecodesAsSchemas holds the two to
// the same result.
type eventDecoder struct {
	lookup *schemas.SchemaLookup
	fast   map[uint32]bool // per writer schema id: its layout is the binary's
	own    []byte          // the binary's Event schema, canonical form
}

// generalOnly sends every value through schemas.DecodeWire, so
// BenchmarkScanEvents can measure what fastEvent saves.
var generalOnly bool

func newEventDecoder(lookup *schemas.SchemaLookup) (*eventDecoder, error) {
	s, err := schemas.SchemaOf(schemas.NameEvent, schemas.Latest)
	if err != nil {
		return nil, err
	}
	return &eventDecoder{lookup: lookup, fast: map[uint32]bool{}, own: s.Canonical()}, nil
}

// decode decodes a wire-format value into ev, with the errors of
// schemas.DecodeWire. keep, when set, sees the event before its payload
// is decoded; if it returns false the payload is left undecoded (and
// unchecked) and decode returns false: a filtered scan pays little for
// the records it drops.
func (d *eventDecoder) decode(ctx context.Context, b []byte, ev *schemas.Event, keep func(*schemas.Event) bool) (bool, error) {
	id, body, err := schemas.ParseWire(b)
	if err != nil {
		return false, err
	}
	fast, ok := d.fast[id]
	if !ok {
		w, err := d.lookup.Writer(ctx, id)
		if err != nil {
			return false, err // not cached here: the lookup caches what is permanent
		}
		fast = !generalOnly && bytes.Equal(w.Canonical(), d.own)
		d.fast[id] = fast
	}
	if !fast {
		if _, err := schemas.DecodeWire(ctx, d.lookup, b, ev); err != nil {
			return false, err
		}
		return keep == nil || keep(ev), nil
	}
	kept, err := fastEventIf(body, ev, keep)
	if err != nil {
		return false, &schemas.DecodeError{Schema: schemas.NameEvent, Err: err}
	}
	return kept, nil
}

// errShort is a value that ends inside a field.
var errShort = errors.New("unexpected end of data")

// avroReader reads Avro binary primitives. Strings are slices of str, one
// string conversion of the whole body, so a decoded event costs one
// allocation for all its strings.
type avroReader struct {
	b   []byte
	str string
	i   int
	err error
}

func (r *avroReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// long reads a zigzag varint of at most 10 bytes. After an error every
// read returns zero values, so a decoder checks once at the end.
func (r *avroReader) long() int64 {
	if r.err != nil {
		return 0
	}
	var u uint64
	for i := range 10 {
		if r.i >= len(r.b) {
			r.fail(errShort)
			return 0
		}
		c := r.b[r.i]
		r.i++
		if i == 9 && c > 1 {
			break // the tenth byte carries bit 63 only
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	r.fail(errors.New("varint overflows 64 bits"))
	return 0
}

// length reads a string, array or map count and checks that at least
// min bytes per item remain, so a hostile count cannot make a huge
// allocation.
func (r *avroReader) length(what string, min int) int {
	n := r.long()
	if r.err != nil {
		return 0
	}
	if n < 0 || n > int64(len(r.b)-r.i)/int64(min) {
		r.fail(fmt.Errorf("%s length %d with %d bytes left", what, n, len(r.b)-r.i))
		return 0
	}
	return int(n)
}

func (r *avroReader) string() string {
	n := r.length("string", 1)
	if r.err != nil {
		return ""
	}
	s := r.str[r.i : r.i+n]
	r.i += n
	return s
}

func (r *avroReader) double() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.i < 8 {
		r.fail(errShort)
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:]))
	r.i += 8
	return f
}

func (r *avroReader) enum(symbols int, what string) int {
	i := r.long()
	if r.err == nil && (i < 0 || i >= int64(symbols)) {
		r.fail(fmt.Errorf("%s index %d out of range 0..%d", what, i, symbols-1))
		return 0
	}
	return int(i)
}

// block reads an array or map block header: the item count, then, for a
// negative count, the block's byte size, which is skipped.
func (r *avroReader) block(what string, min int) int {
	n := r.long()
	if n < 0 {
		if n == math.MinInt64 {
			r.fail(fmt.Errorf("%s block count %d", what, n))
			return 0
		}
		n = -n
		r.long()
	}
	if r.err == nil && n > int64(len(r.b)-r.i)/int64(min) {
		r.fail(fmt.Errorf("%s block of %d items with %d bytes left", what, n, len(r.b)-r.i))
		return 0
	}
	return int(n)
}

// fastEvent decodes an Avro body written with the binary's own Event schema
// into ev, as schemas.Decode would: the payload as the documented Go types,
// an empty array of doubles as an empty []float64.
func fastEvent(body []byte, ev *schemas.Event) error {
	_, err := fastEventIf(body, ev, nil)
	return err
}

// fastEventIf is fastEvent asking keep, when set, before the payload: the
// fields before it are fixed, so a filter on kind or glyph decides there.
func fastEventIf(body []byte, ev *schemas.Event, keep func(*schemas.Event) bool) (bool, error) {
	r := avroReader{b: body, str: string(body)}
	*ev = schemas.Event{}
	ev.ID = r.string()
	ts := r.long()
	ev.Kind = schemas.EventKinds[r.enum(len(schemas.EventKinds), "kind")]
	ev.Lane = schemas.Lanes[r.enum(len(schemas.Lanes), "lane")]
	ev.GlyphID = r.string()
	ev.MsgID = r.string()
	ev.Stage = r.string()
	if r.err != nil {
		return false, r.err
	}
	ev.TS = timeMicros(ts)
	if keep != nil && !keep(ev) {
		return false, nil
	}
	ev.Payload = r.payload()
	if r.err != nil {
		return false, r.err
	}
	if r.i != len(r.b) {
		return false, fmt.Errorf("%d trailing bytes after the record", len(r.b)-r.i)
	}
	return true, nil
}

// payload reads the payload map: per entry a key and a union of null,
// boolean, long, double, string, array<double> and matriz.StringList.
func (r *avroReader) payload() schemas.Payload {
	p := schemas.Payload{}
	for r.err == nil {
		n := r.block("payload", 2)
		if n == 0 {
			break
		}
		for range n {
			k := r.string()
			p[k] = r.union(k)
			if r.err != nil {
				return nil
			}
		}
	}
	return p
}

func (r *avroReader) union(key string) any {
	i := r.long()
	if r.err == nil && (i < 0 || i > 6) {
		r.fail(fmt.Errorf("payload %s: union index %d out of range 0..6", key, i))
	}
	switch i {
	case 0:
		return nil
	case 1:
		if r.err != nil {
			return nil
		}
		if r.i >= len(r.b) {
			r.fail(errShort)
			return nil
		}
		c := r.b[r.i]
		r.i++
		return c == 1 // as twmb/avro and Java read it: only 1 is true
	case 2:
		return r.long()
	case 3:
		return r.double()
	case 4:
		return r.string()
	case 5:
		fs := []float64{}
		for r.err == nil {
			n := r.block("array", 8)
			if n == 0 {
				break
			}
			for range n {
				fs = append(fs, r.double())
			}
		}
		return fs
	case 6:
		ss := []string{}
		for r.err == nil {
			n := r.block("string list", 1)
			if n == 0 {
				break
			}
			for range n {
				ss = append(ss, r.string())
			}
		}
		return ss
	}
	return nil
}

// timeMicros is timestamp-micros as twmb/avro decodes it.
func timeMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
