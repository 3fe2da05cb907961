package schemas

import (
	"errors"
	"fmt"

	"github.com/twmb/avro"
)

// ErrDecode is wrapped by every error that Decode and DecodeResolved return
// for bad bytes, so the runtime can route the message to the DLQ with
// errors.Is instead of matching codec messages.
var ErrDecode = errors.New("schemas: undecodable avro body")

// ErrEncode is wrapped by every error AppendEncode returns: the value does
// not fit its schema (an unknown enum symbol, a payload value of a type the
// union lacks, a time out of range). It is a bug in the producing code, not
// in the data on a topic.
var ErrEncode = errors.New("schemas: value does not fit its schema")

// DecodeError says which schema failed on which input and why.
type DecodeError struct {
	Schema Name
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("schemas: decode %s: %v", e.Schema, e.Err)
}

// Unwrap returns both ErrDecode and the codec's own error, so errors.As
// still reaches avro's *ShortBufferError or a *PayloadTypeError.
func (e *DecodeError) Unwrap() []error { return []error{ErrDecode, e.Err} }

// EncodeError names the schema and the field whose value could not be
// written. Err is a *PayloadTypeError for a payload value of a type the
// union lacks, and otherwise twmb/avro's error (an *avro.SemanticError for
// an unknown enum symbol or a time outside timestamp-micros), reachable
// with errors.As.
type EncodeError struct {
	Schema Name
	Field  string // dotted path, e.g. "lane", "glyph.tags" or "trace[2].data"; empty when unknown
	Err    error
}

func (e *EncodeError) Error() string {
	if se, ok := errors.AsType[*avro.SemanticError](e.Err); e.Field == "" || ok && se.Field == e.Field {
		// twmb/avro's message already says "field <path>".
		return fmt.Sprintf("schemas: encode %s: %v", e.Schema, e.Err)
	}
	return fmt.Sprintf("schemas: encode %s: field %s: %v", e.Schema, e.Field, e.Err)
}

// Unwrap returns both ErrEncode and the cause.
func (e *EncodeError) Unwrap() []error { return []error{ErrEncode, e.Err} }

// encodeError wraps an error from toWire or twmb/avro's encoder as an
// *EncodeError for schema name, taking the field path from twmb/avro's
// *SemanticError when it gives one.
func encodeError(name Name, err error) error {
	if e, ok := err.(*EncodeError); ok {
		e.Schema = name
		return e
	}
	e := &EncodeError{Schema: name, Err: err}
	if se, ok := errors.AsType[*avro.SemanticError](err); ok {
		e.Field = se.Field
	}
	return e
}
