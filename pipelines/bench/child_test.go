package bench

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
)

// startTestChild starts this test binary playing mode (main_test.go).
func startTestChild(ctx context.Context, t *testing.T, mode string, within time.Duration) (*child, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := startChild(ctx, clock.Real{}, "test child "+mode, self, []string{"-test.run=^$"}, append(os.Environ(), childModeEnv+"="+mode), "child ready", within)
	if c != nil {
		t.Cleanup(c.kill)
	}
	return c, err
}

// gone reports whether no process pid exists any more (it was reaped).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestChildStopsCleanly: a child is ready once it printed its ready line;
// its resident memory is read from its own /proc status (not this
// process's); SIGTERM stops it cleanly, and then it is gone.
func TestChildStopsCleanly(t *testing.T) {
	c, err := startTestChild(t.Context(), t, "ready", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.pid() == os.Getpid() || c.err() != nil {
		t.Fatalf("child %v: err %v", c, c.err())
	}
	rss, err := readVmRSS(c.pid())
	if err != nil || rss < 1<<20 || rss > 4<<30 {
		t.Fatalf("child's VmRSS %d, %v: not a small test process's", rss, err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(c.pid()) + "/status"); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(clock.Real{}, 30*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !gone(c.pid()) || c.err() != nil {
		t.Fatalf("after stop: gone %v, err %v", gone(c.pid()), c.err())
	}
	if _, err := readVmRSS(c.pid()); err == nil {
		t.Fatal("VmRSS of a stopped child: want an error")
	}
}

// TestChildExitingEarlyIsAnErrorNamingIt: a child that exits on its own
// after it was ready makes err (and stop) an error naming it, its exit
// status and its last output.
func TestChildExitingEarlyIsAnErrorNamingIt(t *testing.T) {
	c, err := startTestChild(t.Context(), t, "ready-then-exit", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var early error
	if err := pollUntil(t.Context(), clock.Real{}, 5*time.Millisecond, 30*time.Second, func() (bool, string) {
		early = c.err()
		return early != nil, "the child still runs"
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"test child ready-then-exit (pid " + strconv.Itoa(c.pid()) + ")", "exited early", "exit status 3", "fatal: lost the broker"} {
		if !strings.Contains(early.Error(), want) {
			t.Errorf("early exit %q lacks %q", early, want)
		}
	}
	if err := c.stop(clock.Real{}, time.Second); err == nil || !strings.Contains(err.Error(), "exited early") {
		t.Fatalf("stop of a child that exited early: %v", err)
	}
}

// TestChildExitingBeforeReadyIsNamed: a child that exits before its ready
// line fails the start with its name, status and output.
func TestChildExitingBeforeReadyIsNamed(t *testing.T) {
	_, err := startTestChild(t.Context(), t, "exit", 30*time.Second)
	if err == nil {
		t.Fatal("start of a child that exits at once: no error")
	}
	for _, want := range []string{"test child exit (pid ", "exited before it was ready", "exit status 4", "cannot start: no broker"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestChildKilledWhenTheContextEnds: the bench's context ends on SIGINT
// and SIGTERM; a running child is killed then, without anyone stopping it.
func TestChildKilledWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c, err := startTestChild(ctx, t, "ready", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-c.exited:
	case <-t.Context().Done():
	}
	if !gone(c.pid()) {
		t.Fatalf("child %v still runs after its context ended", c)
	}
}

// TestChildNotReadyInTimeIsKilled: a child that never prints its ready
// line fails the start after within, and is killed.
func TestChildNotReadyInTimeIsKilled(t *testing.T) {
	self, _ := os.Executable()
	_, err := startChild(t.Context(), clock.Real{}, "silent child", self, []string{"-test.run=^$"}, append(os.Environ(), childModeEnv+"=silent"), "child ready", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "silent child (pid ") || !strings.Contains(err.Error(), "not ready within 200ms") || !strings.Contains(err.Error(), "it printed nothing") {
		t.Fatalf("start of a silent child: %v", err)
	}
	pid, perr := strconv.Atoi(strings.SplitN(strings.SplitN(err.Error(), "(pid ", 2)[1], ")", 2)[0])
	if perr != nil || !gone(pid) {
		t.Fatalf("silent child pid %d (%v) still runs", pid, perr)
	}
}

// TestChildIgnoringSIGTERMIsKilled: stop kills a child that does not
// stop within its grace, and says so.
func TestChildIgnoringSIGTERMIsKilled(t *testing.T) {
	c, err := startTestChild(t.Context(), t, "ignore-term", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = c.stop(clock.Real{}, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not stop within 200ms of SIGTERM: killed") {
		t.Fatalf("stop of a child ignoring SIGTERM: %v", err)
	}
	if !gone(c.pid()) {
		t.Fatalf("child %v still runs", c)
	}
}

// TestParseLaneCounts sums a lane's counters over their labels (the DLQ by
// reason) and ignores other metrics; an exposition without them is an
// error, not zeros.
func TestParseLaneCounts(t *testing.T) {
	text := `# HELP lukhas_messages_in_total Messages consumed.
# TYPE lukhas_messages_in_total counter
lukhas_messages_in_total{lane="prod"} 1.2345e+06
lukhas_messages_out_total{lane="prod"} 1000
lukhas_dlq_total{lane="prod",reason="bad_schema"} 7
lukhas_dlq_total{lane="prod",reason="future_timestamp"} 5
lukhas_messages_in_total_other 99
lukhas_late_messages_total{lane="prod"} 3
`
	c, err := parseLaneCounts(strings.NewReader(text))
	if err != nil || c != (laneCounts{In: 1_234_500, Out: 1000, DLQ: 12}) || c.Answered() != 1012 {
		t.Fatalf("counts %+v, %v", c, err)
	}
	if _, err := parseLaneCounts(strings.NewReader("go_goroutines 12\n")); err == nil {
		t.Fatal("no lane counters: want an error")
	}
	if _, err := parseLaneCounts(strings.NewReader(`lukhas_messages_out_total{lane="prod"} many` + "\n")); err == nil {
		t.Fatal("a value that is no number: want an error")
	}
}

// TestLaneEnv: a lane process runs without the dispatch flag and tracing
// the bench's environment may hold, with the rest kept.
func TestLaneEnv(t *testing.T) {
	got := strings.Join(laneEnv([]string{"PATH=/bin", "DISPATCH_ENABLED=true", "OTEL_EXPORTER_OTLP_ENDPOINT=http://x", "GOGC=200"}), " ")
	if got != "PATH=/bin GOGC=200" {
		t.Fatalf("lane env %q", got)
	}
}
