package schemas

import (
	"errors"
	"fmt"
	"strings"
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
// written.
type EncodeError struct {
	Schema Name
	Field  string // dotted path, e.g. "payload" or "trace[2].t"
	Err    error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("schemas: encode %s: field %s: %v", e.Schema, e.Field, e.Err)
}

// Unwrap returns both ErrEncode and the cause.
func (e *EncodeError) Unwrap() []error { return []error{ErrEncode, e.Err} }

// SymbolError reports an enum value (lane, event kind, risk class) that is
// not one of the schema's symbols.
type SymbolError struct {
	Symbol  string
	Allowed []string
}

func (e *SymbolError) Error() string {
	return fmt.Sprintf("unknown symbol %q (allowed: %s)", e.Symbol, strings.Join(e.Allowed, ", "))
}
