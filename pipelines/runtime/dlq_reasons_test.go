package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestFailureReasonClassifiesStageFailures: the DLQ's reason header is
// what operators filter and alert on, so each kind of failure maps to its
// own reason: a stage's panic or error, a node's panic reported by the
// adapter, a record the tick or decode refused (a contract breach), and
// any other stage failure.
func TestFailureReasonClassifiesStageFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail stages.Failure
		want string
	}{
		{"stage panicked", stages.Failure{Stage: "drift", Err: fmt.Errorf("run: %w", &stages.PanicError{Stage: "drift", Value: "boom"})}, ReasonStagePanic},
		{"stage returned an error", stages.Failure{Stage: "drift", Err: &stages.StageError{Stage: "drift", Err: errors.New("bad")}}, ReasonStageError},
		{"node panicked", stages.Failure{Stage: stages.StageAdapter, Reason: "node router panicked: index out of range"}, ReasonNodePanic},
		{"adapter refused", stages.Failure{Stage: stages.StageAdapter, Reason: "node router returned no result"}, ReasonStage},
		{"tick refused", stages.Failure{Stage: operators.StageTick, Reason: "ts out of range"}, ReasonContract},
		{"decode refused", stages.Failure{Stage: "decode", Reason: "glyph id empty"}, ReasonContract},
		{"a stage's own failure", stages.Failure{Stage: "guardian", Reason: "refused"}, ReasonStage},
	} {
		if got := failureReason(&tc.fail); got != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDecodeReasonSeparatesBadInputFromOutages: a record the registry does
// not know, bytes that are not Avro, a writer schema that does not parse
// or cannot be read as the wanted type, and a contract breach are bad
// input for the DLQ; anything else (the registry not answering, the claim
// ending) is "" — decode waits it out rather than dead-letter good data.
func TestDecodeReasonSeparatesBadInputFromOutages(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown schema id", fmt.Errorf("lookup: %w", schemas.ErrUnknownSchemaID), ReasonUnknownSchemaID},
		{"not wire format", &schemas.WireError{Len: 3, Err: schemas.ErrTruncated}, ReasonUndecodable},
		{"not the schema's bytes", &schemas.DecodeError{Schema: schemas.NameMessage, Err: errors.New("short buffer")}, ReasonUndecodable},
		{"writer schema does not parse", fmt.Errorf("id 9: %w", schemas.ErrSchemaText), ReasonUndecodable},
		{"writer schema incompatible", fmt.Errorf("id 9: %w", schemas.ErrIncompatible), ReasonUndecodable},
		{"contract breach", fmt.Errorf("glyph: %w", schemas.ErrContract), ReasonContract},
		{"registry unreachable", errors.New("dial tcp 127.0.0.1:8081: connection refused"), ""},
		{"claim ended", context.Canceled, ""},
	} {
		if got := DecodeReason(tc.err); got != tc.want {
			t.Errorf("%s: DecodeReason(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}
