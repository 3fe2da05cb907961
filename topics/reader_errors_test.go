package topics

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
)

// TestRetriedTimeoutIsOnlyTheReadDeadline: a fetch whose read deadline
// passed (what kafka-go logs as "i/o timeout" and retries) is not reported;
// a refused connection or any other error is.
func TestRetriedTimeoutIsOnlyTheReadDeadline(t *testing.T) {
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	if !retriedTimeout([]any{2, "matriz.prod.approvals", 0, deadline}) {
		t.Fatalf("%v is the retried read deadline", deadline)
	}
	if !retriedTimeout([]any{fmt.Errorf("wrapped: %w", deadline)}) {
		t.Fatal("a wrapped read deadline is the retried read deadline")
	}
	for _, err := range []error{
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
		errors.New("unknown topic or partition"),
	} {
		if retriedTimeout([]any{"x", err}) {
			t.Fatalf("%v would go unreported", err)
		}
	}
	if retriedTimeout([]any{"i/o timeout as text only"}) {
		t.Fatal("a string is not an error")
	}
}
