package runtime

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestJoinErrNamesWhatTheOperatorMustDo: missing topics become a lane to
// deploy (the first three named, the rest counted), a refusal stays the
// broker's authorization error, and anything else is dropped when only
// fatal errors count and kept otherwise.
func TestJoinErrNamesWhatTheOperatorMustDo(t *testing.T) {
	lane := schemas.LaneProd
	var names []string
	for i := range 5 {
		names = append(names, fmt.Sprintf("matriz.prod.t%d", i))
	}
	err := joinErr(lane, fmt.Errorf("join: %w", &topics.MissingTopicsError{Topics: names}), true)
	var nd *NotDeployedError
	if !errors.As(err, &nd) || nd.Lane != lane {
		t.Fatalf("missing topics: %v, want a *NotDeployedError for %s", err, lane)
	}
	want := "lane prod is not deployed: topics matriz.prod.t0, matriz.prod.t1, matriz.prod.t2 and 2 more are missing on the brokers; run `matriz deploy --lanes prod` first"
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if got := joinErr(lane, &topics.MissingTopicsError{Topics: names[:2]}, true).Error(); !strings.Contains(got, "topics matriz.prod.t0, matriz.prod.t1 are missing") {
		t.Errorf("two missing topics: %q names them both", got)
	}

	denied := &topics.AuthorizationError{Resource: "topic", Names: []string{"matriz.prod.results"}, Err: errors.New("TOPIC_AUTHORIZATION_FAILED")}
	if err := joinErr(lane, fmt.Errorf("join: %w", denied), true); !errors.Is(err, denied) {
		t.Errorf("refused: %v, want the authorization error", err)
	}
	other := errors.New("i/o timeout")
	if err := joinErr(lane, other, true); err != nil {
		t.Errorf("a transient error with onlyFatal: %v, want nil", err)
	}
	if err := joinErr(lane, other, false); !errors.Is(err, other) {
		t.Errorf("a transient error without onlyFatal: %v, want it kept", err)
	}
}

// TestIsCheckpointIDTakesPartitionAtOffset: "<partition>@<next offset>",
// both integers, and nothing else.
func TestIsCheckpointIDTakesPartitionAtOffset(t *testing.T) {
	for s, want := range map[string]bool{
		"3@1200": true, "0@0": true, (&Checkpoint{Partition: 5, Next: 77}).ID(): true,
		"3": false, "@12": false, "3@": false, "x@12": false, "3@1e3": false, "3@12@4": false, "99999999999@1": false,
	} {
		if got := IsCheckpointID(s); got != want {
			t.Errorf("IsCheckpointID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestFlagChangeReadsAsNameFromTo: the form the log and errors use.
func TestFlagChangeReadsAsNameFromTo(t *testing.T) {
	if got := (FlagChange{Name: FlagLearning, Old: false, New: true}).String(); got != "LEARNING_ENABLED false → true" {
		t.Fatalf("String() = %q", got)
	}
}
