package schemas

import (
	"fmt"

	"github.com/twmb/avro"
)

// Record is a Go type with an embedded schema.
type Record interface {
	Glyph | MatrizMessage | MatrizResult | Event | Trace
}

// NameOf returns the schema name of a Record type.
func NameOf[T Record]() Name {
	var zero T
	switch any(zero).(type) {
	case Glyph:
		return NameGlyph
	case MatrizMessage:
		return NameMessage
	case MatrizResult:
		return NameResult
	case Event:
		return NameEvent
	default:
		return NameTrace
	}
}

// AppendEncode appends the Avro binary encoding of v (no wire header) to dst
// and returns the extended buffer, through twmb/avro's AppendEncode on the
// parsed schema. Reuse dst across calls to avoid growing a buffer on the
// hot path. Map entries (glyph tags, payloads) come out in Go's map
// iteration order, so equal values can give different bytes: compare
// decoded values, not encodings. On error dst is returned unextended and
// the error is an *EncodeError wrapping ErrEncode.
func AppendEncode[T Record](dst []byte, v *T) ([]byte, error) {
	name := NameOf[T]()
	s, err := Schema(name)
	if err != nil {
		return dst, err
	}
	w, err := toWire(v)
	if err != nil {
		return dst, encodeError(name, err)
	}
	n := len(dst)
	out, err := s.AppendEncode(dst, w)
	if err != nil {
		return dst[:n], encodeError(name, err)
	}
	return out, nil
}

// Decode decodes an Avro body written with the binary's own schema for T.
// Trailing bytes are an error: a body is exactly one record. v is reset
// first, so a reused v keeps nothing from an earlier message.
func Decode[T Record](src []byte, v *T) error {
	name := NameOf[T]()
	s, err := Schema(name)
	if err != nil {
		return err
	}
	return decodeWith(s, name, src, v)
}

// DecodeResolved decodes an Avro body written with a writer schema into v,
// through resolved, the schema Resolve returned for that writer (defaults
// filled, writer-only fields skipped).
func DecodeResolved[T Record](resolved *avro.Schema, src []byte, v *T) error {
	return decodeWith(resolved, NameOf[T](), src, v)
}

// Resolve returns the schema that reads data written with writer into T.
// It fails with an *avro.CompatibilityError when writer's data cannot be
// read as T. Resolution is not free: SchemaLookup caches it per schema id.
func Resolve[T Record](writer *avro.Schema) (*avro.Schema, error) {
	reader, err := Schema(NameOf[T]())
	if err != nil {
		return nil, err
	}
	return avro.Resolve(writer, reader)
}

func decodeWith[T Record](s *avro.Schema, name Name, src []byte, v *T) error {
	*v = *new(T)
	rest, err := s.Decode(src, v)
	if err != nil {
		return &DecodeError{Schema: name, Err: err}
	}
	if len(rest) != 0 {
		return &DecodeError{Schema: name, Err: fmt.Errorf("%d trailing bytes after the record", len(rest))}
	}
	if err := fromWire(v); err != nil {
		return &DecodeError{Schema: name, Err: err}
	}
	return nil
}
