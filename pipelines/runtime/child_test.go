package runtime

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// laneChild is this test binary started again to run one test as a lane
// process, which the parent kills with SIGKILL: a fault test kills a real
// process, not a context.
type laneChild struct {
	cmd    *exec.Cmd
	killed bool
}

// startLaneChild runs the test named test in a child process with envVar
// set to value (the child's test reads it to know it is the child). A
// child the test has not killed is killed when the test ends.
func startLaneChild(t *testing.T, test, envVar, value string) *laneChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), envVar+"="+value)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &laneChild{cmd: cmd}
	t.Cleanup(func() {
		if !c.killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// kill sends the child SIGKILL and waits until it is gone.
func (c *laneChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	c.killed = true
}

// asLaneChild is the child half of a SIGKILL test: when envVar is set, to
// "<brokers>|<registry url>" as the parent passes it, it runs the lane with
// cfg against them until the parent kills it, and reports true; in the
// parent it reports false.
func asLaneChild(t *testing.T, envVar string, cfg Config) bool {
	arg := os.Getenv(envVar)
	if arg == "" {
		return false
	}
	parts := strings.Split(arg, "|")
	cfg.Brokers, cfg.RegistryURL = strings.Split(parts[0], ","), parts[1]
	t.Fatalf("lane runtime returned: %v", Run(t.Context(), cfg))
	return true
}
