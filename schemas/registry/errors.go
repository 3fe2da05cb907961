package registry

import (
	"errors"
	"fmt"
)

// The registry's error kinds. Each API error wraps one of them, so Go
// callers test with errors.Is; the HTTP API reports the matching Confluent
// error_code.
var (
	ErrSubjectNotFound       = errors.New("registry: subject not found")
	ErrVersionNotFound       = errors.New("registry: version not found")
	ErrSchemaNotFound        = errors.New("registry: schema not found")
	ErrSubjectSoftDeleted    = errors.New("registry: subject was soft deleted")
	ErrSubjectNotSoftDeleted = errors.New("registry: subject was not soft deleted first")
	ErrVersionSoftDeleted    = errors.New("registry: version was soft deleted")
	ErrVersionNotSoftDeleted = errors.New("registry: version was not soft deleted first")
	ErrSubjectLevelNotSet    = errors.New("registry: subject has no compatibility level of its own")
	ErrIncompatible          = errors.New("registry: schema is incompatible")
	ErrInvalidSchema         = errors.New("registry: invalid schema")
	ErrInvalidVersion        = errors.New("registry: invalid version")
	ErrInvalidLevel          = errors.New("registry: invalid compatibility level")
	ErrOperationNotPermitted = errors.New("registry: operation not permitted")
	ErrStorage               = errors.New("registry: storage failure")
	ErrBadRequest            = errors.New("registry: bad request")
	ErrUnsupportedMediaType  = errors.New("registry: unsupported media type")
	ErrNotFound              = errors.New("registry: no such endpoint")
	ErrMethodNotAllowed      = errors.New("registry: method not allowed")
	// ErrLimitExceeded: the subject or the registry holds as much as its
	// Limits allow; it has Confluent's code 42205 (operation not
	// permitted), which every Confluent client knows.
	ErrLimitExceeded = errors.New("registry: limit exceeded")
	// ErrNotWriter: another instance holds the writer claim on the store
	// (fence.go), or this one was started read-only. Sent as HTTP 503:
	// the request may succeed at the writer.
	ErrNotWriter = errors.New("registry: this instance is not the writer")
)

// Confluent's error codes. The first three digits are the HTTP status.
const (
	CodeSubjectNotFound       = 40401
	CodeVersionNotFound       = 40402
	CodeSchemaNotFound        = 40403
	CodeSubjectSoftDeleted    = 40404
	CodeSubjectNotSoftDeleted = 40405
	CodeVersionSoftDeleted    = 40406
	CodeVersionNotSoftDeleted = 40407
	CodeSubjectLevelNotSet    = 40408
	CodeIncompatible          = 409
	CodeInvalidSchema         = 42201
	CodeInvalidVersion        = 42202
	CodeInvalidLevel          = 42203
	CodeOperationNotPermitted = 42205
	CodeStorage               = 50001
	CodeBadRequest            = 400
	CodeNotFound              = 404
	CodeMethodNotAllowed      = 405
	CodeUnsupportedMediaType  = 415
	CodeLimitExceeded         = CodeOperationNotPermitted
	CodeNotWriter             = 50301
)

var codeOf = map[error]int{
	ErrSubjectNotFound:       CodeSubjectNotFound,
	ErrVersionNotFound:       CodeVersionNotFound,
	ErrSchemaNotFound:        CodeSchemaNotFound,
	ErrSubjectSoftDeleted:    CodeSubjectSoftDeleted,
	ErrSubjectNotSoftDeleted: CodeSubjectNotSoftDeleted,
	ErrVersionSoftDeleted:    CodeVersionSoftDeleted,
	ErrVersionNotSoftDeleted: CodeVersionNotSoftDeleted,
	ErrSubjectLevelNotSet:    CodeSubjectLevelNotSet,
	ErrIncompatible:          CodeIncompatible,
	ErrInvalidSchema:         CodeInvalidSchema,
	ErrInvalidVersion:        CodeInvalidVersion,
	ErrInvalidLevel:          CodeInvalidLevel,
	ErrOperationNotPermitted: CodeOperationNotPermitted,
	ErrStorage:               CodeStorage,
	ErrBadRequest:            CodeBadRequest,
	ErrUnsupportedMediaType:  CodeUnsupportedMediaType,
	ErrNotFound:              CodeNotFound,
	ErrMethodNotAllowed:      CodeMethodNotAllowed,
	ErrLimitExceeded:         CodeLimitExceeded,
	ErrNotWriter:             CodeNotWriter,
}

// Error is an API error: a kind (one of the Err… sentinels), the Confluent
// error code for it and a message that says what was asked and what to do.
type Error struct {
	Code    int
	Message string
	Kind    error
}

func (e *Error) Error() string { return fmt.Sprintf("%s (error code %d)", e.Message, e.Code) }

// Unwrap returns the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

// HTTPStatus is the HTTP status Confluent sends with this code: its first
// three digits.
func (e *Error) HTTPStatus() int {
	c := e.Code
	for c >= 1000 {
		c /= 10
	}
	return c
}

// apiErr builds an *Error of the given kind.
func apiErr(kind error, format string, args ...any) *Error {
	code, ok := codeOf[kind]
	if !ok {
		code = CodeStorage
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Kind: kind}
}
