package schemas

import (
	"errors"
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

// ErrDecode is wrapped by every error that Decode returns for bad bytes, so
// callers can route the message to a DLQ with errors.Is.
var ErrDecode = errors.New("schemas: undecodable avro body")

// DecodeError says which schema failed on which input and why.
type DecodeError struct {
	Schema Name
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("schemas: decode %s: %v", e.Schema, e.Err)
}

// Unwrap returns both ErrDecode and the codec's own error.
func (e *DecodeError) Unwrap() []error { return []error{ErrDecode, e.Err} }

// AppendEncode appends the Avro binary encoding of v (no wire header) to dst
// and returns the extended buffer. Reuse dst across calls to avoid
// allocating on the hot path.
func AppendEncode[T Record](dst []byte, v *T) ([]byte, error) {
	name := NameOf[T]()
	s, err := Schema(name)
	if err != nil {
		return dst, err
	}
	w, err := toWire(v)
	if err != nil {
		return dst, fmt.Errorf("schemas: encode %s: %w", name, err)
	}
	out, err := s.AppendEncode(dst, w)
	if err != nil {
		return dst, fmt.Errorf("schemas: encode %s: %w", name, err)
	}
	return out, nil
}

// Decode decodes an Avro body written with the binary's own schema for T.
// Trailing bytes are an error: a body is exactly one record.
func Decode[T Record](src []byte, v *T) error {
	name := NameOf[T]()
	s, err := Schema(name)
	if err != nil {
		return err
	}
	return decodeWith(s, name, src, v)
}

// DecodeResolved decodes an Avro body written with writer into v, resolving
// writer against the binary's schema for T (defaults filled, writer-only
// fields skipped). resolved comes from Resolve.
func DecodeResolved[T Record](resolved *avro.Schema, src []byte, v *T) error {
	return decodeWith(resolved, NameOf[T](), src, v)
}

// Resolve returns the schema that reads data written with writer into T.
// Resolution is not free: cache the result per writer schema id.
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

// toWire returns v, or a shallow copy of it with payloads in wire shape.
func toWire[T Record](v *T) (any, error) {
	switch x := any(v).(type) {
	case *MatrizMessage:
		p, changed, err := x.Payload.toWire()
		if err != nil {
			return nil, err
		}
		if changed {
			c := *x
			c.Payload = p
			return &c, nil
		}
	case *MatrizResult:
		p, changed, err := x.Payload.toWire()
		if err != nil {
			return nil, err
		}
		tr, err := crumbsToWire(x.Trace)
		if err != nil {
			return nil, err
		}
		if changed || tr != nil {
			c := *x
			c.Payload = p
			if tr != nil {
				c.Trace = tr
			}
			return &c, nil
		}
	case *Event:
		p, changed, err := x.Payload.toWire()
		if err != nil {
			return nil, err
		}
		if changed {
			c := *x
			c.Payload = p
			return &c, nil
		}
	case *Trace:
		in, inChanged, err := x.Inputs.toWire()
		if err != nil {
			return nil, err
		}
		out, outChanged, err := x.Outputs.toWire()
		if err != nil {
			return nil, err
		}
		cr, err := crumbsToWire(x.Crumbs)
		if err != nil {
			return nil, err
		}
		if inChanged || outChanged || cr != nil {
			c := *x
			c.Inputs, c.Outputs = in, out
			if cr != nil {
				c.Crumbs = cr
			}
			return &c, nil
		}
	}
	return v, nil
}

// crumbsToWire returns nil when no crumb needs a change.
func crumbsToWire(cs []Crumb) ([]Crumb, error) {
	var out []Crumb
	for i := range cs {
		p, changed, err := cs[i].Data.toWire()
		if err != nil {
			return nil, err
		}
		if changed {
			if out == nil {
				out = append([]Crumb(nil), cs...)
			}
			out[i].Data = p
		}
	}
	return out, nil
}

// fromWire normalises decoded payload values to the documented Go types.
func fromWire[T Record](v *T) error {
	switch x := any(v).(type) {
	case *MatrizMessage:
		return x.Payload.normalize()
	case *MatrizResult:
		if err := x.Payload.normalize(); err != nil {
			return err
		}
		for i := range x.Trace {
			if err := x.Trace[i].Data.normalize(); err != nil {
				return err
			}
		}
	case *Event:
		return x.Payload.normalize()
	case *Trace:
		if err := x.Inputs.normalize(); err != nil {
			return err
		}
		if err := x.Outputs.normalize(); err != nil {
			return err
		}
		for i := range x.Crumbs {
			if err := x.Crumbs[i].Data.normalize(); err != nil {
				return err
			}
		}
	}
	return nil
}
