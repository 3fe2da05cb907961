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
// and returns the extended buffer, written with the latest version of T's
// schema; AppendEncodeAs pins a version. Reuse dst across calls to avoid
// growing a buffer on the hot path. The records' own versions go through
// hand-written encoders (append.go) that write map entries (glyph tags,
// payloads) sorted by key, so equal values give equal bytes; a version
// they do not write goes through twmb/avro's reflective codec, which
// writes maps in Go's iteration order. On error dst is returned
// unextended and the error is an *EncodeError wrapping ErrEncode.
func AppendEncode[T Record](dst []byte, v *T) ([]byte, error) {
	return AppendEncodeAs(dst, v, Latest)
}

// AppendEncodeAs is AppendEncode with the writer schema pinned to version
// ver of T's schema: a producer pinned to V1 writes v1 bytes, leaving out
// the fields v1 does not have (a Glyph's SubjectSID, Consent and
// Provenance). A version T's schema does not have is an error wrapping
// ErrUnknownVersion.
func AppendEncodeAs[T Record](dst []byte, v *T, ver Version) ([]byte, error) {
	return appendEncodeMemo(dst, v, ver, nil)
}

// appendEncodeMemo is AppendEncodeAs writing crumbs through memo (nil: none).
func appendEncodeMemo[T Record](dst []byte, v *T, ver Version, memo *CrumbMemo) ([]byte, error) {
	name := NameOf[T]()
	s, concrete, err := schemaOf(name, ver)
	if err != nil {
		return dst, err
	}
	n, mark := len(dst), memo.mark()
	if out, ok := appendDirectMemo(dst, v, concrete, memo); ok {
		return out, nil
	}
	memo.rollback(mark)
	// Not written directly: a version the direct encoders do not write,
	// or a value that does not fit, whose error the reflective codec
	// names.
	return appendReflective(dst[:n], s, name, v)
}

// appendReflective is AppendEncodeAs through twmb/avro's reflective codec:
// the oracle the direct encoders are tested against.
func appendReflective[T Record](dst []byte, s *avro.Schema, name Name, v *T) ([]byte, error) {
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

// Decode decodes an Avro body written with the latest version of T's
// schema. Trailing bytes are an error: a body is exactly one record. v is
// reset first, so a reused v keeps nothing from an earlier message. Data
// from a topic carries its writer's schema id: read it with DecodeWire,
// which resolves any registered version.
func Decode[T Record](src []byte, v *T) error {
	return DecodeAs(src, v, Latest)
}

// DecodeAs decodes an Avro body written with version ver of T's schema,
// with no resolution: the bytes must be exactly that version's.
func DecodeAs[T Record](src []byte, v *T, ver Version) error {
	name := NameOf[T]()
	s, concrete, err := schemaOf(name, ver)
	if err != nil {
		return err
	}
	return decodeWith(s, concrete, name, src, v)
}

// DecodeResolved decodes an Avro body written with a writer schema into v,
// through resolved, the schema Resolve returned for that writer (defaults
// filled, writer-only fields skipped).
func DecodeResolved[T Record](resolved *avro.Schema, src []byte, v *T) error {
	name := NameOf[T]()
	return decodeWith(resolved, ownVersion(name, resolved), name, src, v)
}

// ownVersion returns the version of name whose schema s is, or 0 when s is
// none of the binary's own (a resolved schema for another writer): a
// writer schema equal to the reader's resolves to the reader itself.
func ownVersion(name Name, s *avro.Schema) Version {
	loadOnce.Do(load)
	e := loaded[name]
	for _, v := range e.versions {
		if e.schemas[v] == s {
			return v
		}
	}
	return 0
}

// Resolve returns the schema that reads data written with writer into the
// latest version of T's schema; ResolveAs picks the reader version. It
// fails with an *avro.CompatibilityError when writer's data cannot be read
// as T. Resolution is not free: SchemaLookup caches it per schema id.
func Resolve[T Record](writer *avro.Schema) (*avro.Schema, error) {
	return ResolveAs[T](writer, Latest)
}

// ResolveAs returns the schema that reads data written with writer as
// version ver of T's schema: the reader a binary "built with" that version
// uses. A V1 reader skips the fields v2 added (FORWARD); a V2 reader fills
// them from their defaults when reading v1 data (BACKWARD).
func ResolveAs[T Record](writer *avro.Schema, ver Version) (*avro.Schema, error) {
	reader, err := SchemaOf(NameOf[T](), ver)
	if err != nil {
		return nil, err
	}
	return avro.Resolve(writer, reader)
}

// decodeWith decodes src into v through the direct decoder (read.go) when
// it reads version ver of T's schema, and otherwise through s, twmb/avro's
// reflective decoder (ver 0: s is a resolved schema).
func decodeWith[T Record](s *avro.Schema, ver Version, name Name, src []byte, v *T) error {
	*v = *new(T)
	rest, handled, err := decodeDirect(src, v, ver)
	if handled {
		if err != nil {
			return &DecodeError{Schema: name, Err: err}
		}
		if len(rest) != 0 {
			return &DecodeError{Schema: name, Err: fmt.Errorf("%d trailing bytes after the record", len(rest))}
		}
		return nil
	}
	return decodeReflective(s, name, src, v)
}

// decodeReflective decodes src into v through s with twmb/avro's
// reflective decoder: the oracle the direct decoder is tested against.
func decodeReflective[T Record](s *avro.Schema, name Name, src []byte, v *T) error {
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
