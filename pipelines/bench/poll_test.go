package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
)

// TestPollUntilReturnsOnceDone: done true on the third check ends the poll
// with no error.
func TestPollUntilReturnsOnceDone(t *testing.T) {
	checks := 0
	err := pollUntil(context.Background(), clock.Real{}, time.Millisecond, time.Hour, func() (bool, string) {
		checks++
		return checks == 3, "not yet"
	})
	if err != nil || checks != 3 {
		t.Fatalf("err %v after %d checks; want nil after 3", err, checks)
	}
}

// TestPollUntilNamesWhatIsMissingAtTheDeadline: past within, the error
// carries done's last word on what is missing.
func TestPollUntilNamesWhatIsMissingAtTheDeadline(t *testing.T) {
	err := pollUntil(context.Background(), clock.Real{}, time.Millisecond, 5*time.Millisecond, func() (bool, string) {
		return false, "2 of 3 answered"
	})
	if err == nil || !strings.Contains(err.Error(), "2 of 3 answered after 5ms") {
		t.Fatalf("err %v; want it to name 2 of 3 answered after 5ms", err)
	}
}

// TestPollUntilEndsWithTheContext: a cancelled context ends the poll with
// its error.
func TestPollUntilEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := pollUntil(ctx, clock.Real{}, time.Hour, time.Hour, func() (bool, string) { return false, "never" })
	if err != context.Canceled {
		t.Fatalf("err %v; want context.Canceled", err)
	}
}
