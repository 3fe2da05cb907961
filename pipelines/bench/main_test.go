package bench

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childModeEnv makes the test binary play a child process for the child
// lifecycle tests (child_test.go) instead of running tests.
const childModeEnv = "BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(playChild(mode))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// playChild is a child's behaviour: "ready" prints its ready line and
// waits for SIGTERM, then exits 0; "ready-then-exit" prints it and exits
// 3 soon after; "exit" exits 4 at once, printing why; "ignore-term"
// prints its ready line and ignores SIGTERM; "silent" prints nothing.
func playChild(mode string) int {
	switch mode {
	case "exit":
		fmt.Println("cannot start: no broker")
		return 4
	case "silent":
		time.Sleep(time.Minute)
		return 0
	}
	// Signals are set up before the ready line, as matriz does first thing.
	term := make(chan os.Signal, 1)
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	fmt.Println("booting")
	fmt.Println("child ready: pid", os.Getpid())
	switch mode {
	case "ready-then-exit":
		time.Sleep(5 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "fatal: lost the broker")
		return 3
	case "ignore-term":
		time.Sleep(time.Minute)
		return 0
	}
	<-term
	fmt.Println("stopping cleanly")
	return 0
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// matrizBinary builds cmd/matriz once for the tests that run lanes as
// `matriz run` processes.
func matrizBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "bench-matriz-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "matriz")
		build := exec.Command("go", "build", "-o", binPath, "github.com/matriz/pipelines/cmd/matriz")
		out, err := build.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build cmd/matriz: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
