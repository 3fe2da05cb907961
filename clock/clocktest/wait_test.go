package clocktest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB that records Fatalf instead of stopping
// the test, so WaitFor's failure can be asserted.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "three looks", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("looked %d times, want 3", n)
	}
}

func TestWaitForFailsNamingWhatItWaitedFor(t *testing.T) {
	r := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("WaitFor did not fail through Fatalf (recovered %v)", p)
			}
		}()
		WaitFor(r, 3*Step, "never", func() bool { return false })
	}()
	if !strings.HasSuffix(r.msg, ": never") {
		t.Fatalf("failure %q does not say what was awaited", r.msg)
	}
}

func TestWaitForSaysWhatStateItGaveUpIn(t *testing.T) {
	r := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		WaitFor(r, Step, "never", func() bool { return false }, func() string { return "3 of 4" })
	}()
	if !strings.HasSuffix(r.msg, ": never (3 of 4)") {
		t.Fatalf("failure %q does not carry the detail", r.msg)
	}
}

// A nil detail (a caller with nothing to add) still fails through Fatalf
// naming what was awaited, not with a nil call.
func TestWaitForTakesANilDetail(t *testing.T) {
	r := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("WaitFor did not fail through Fatalf (recovered %v)", p)
			}
		}()
		WaitFor(r, Step, "never", func() bool { return false }, nil)
	}()
	if !strings.HasSuffix(r.msg, ": never") {
		t.Fatalf("failure %q does not say what was awaited", r.msg)
	}
}
