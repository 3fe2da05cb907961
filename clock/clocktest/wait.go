// Package clocktest holds the one polling helper the project's
// integration tests share: wait on the real clock for a condition, in
// short steps, and fail naming what did not happen.
package clocktest

import (
	"testing"
	"time"
)

// Step is how long WaitFor sleeps between two looks: short enough not to
// slow a test down, long enough not to spin.
const Step = 10 * time.Millisecond

// WaitFor polls cond every Step until it holds, and fails t when it does
// not within the given time, naming what it waited for and, when detail is
// given, what detail says about the state it gave up in. It returns how
// long it waited.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool, detail ...func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			for _, d := range detail {
				if d != nil {
					what += " (" + d() + ")"
				}
			}
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(Step)
	}
	return time.Since(start)
}
