package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runToExit runs the matriz binary with args until it exits or within
// passes, and returns its exit code, stderr and how long it ran.
func runToExit(t *testing.T, within time.Duration, args ...string) (code int, stderr string, took time.Duration) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took = time.Since(start)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), errb.String(), took
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, errb.String(), took
	case <-time.After(within):
		cmd.Process.Kill()
		<-done
		t.Fatalf("matriz %s still running after %v; stderr:\n%s", strings.Join(args, " "), within, errb.String())
		return 0, "", 0
	}
}

// TestRunRefusedByBrokerExitsWithOneLine: settings the broker refuses for
// good stop `matriz run` with exit 1 and one line saying what to change,
// instead of a group join retried forever: a session timeout outside the
// embedded broker's allowed range (the range read from the broker), and a
// lane whose topics were never deployed.
func TestRunRefusedByBrokerExitsWithOneLine(t *testing.T) {
	kafka, registry, stop := brokerProcess(t, t.TempDir())
	defer stop()
	if out, err := exec.Command(binary, "deploy", "--brokers", kafka, "--registry", registry, "--lanes", "prod").CombinedOutput(); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"session timeout below the range", []string{"--lane", "prod", "--session-timeout", "3s"},
			"matriz run: --session-timeout 3s is outside the broker's allowed range 6s..5m0s (group.min.session.timeout.ms..group.max.session.timeout.ms); pick a value inside it\n"},
		{"session timeout above the range", []string{"--lane", "prod", "--session-timeout", "10m"},
			"matriz run: --session-timeout 10m0s is outside the broker's allowed range 6s..5m0s (group.min.session.timeout.ms..group.max.session.timeout.ms); pick a value inside it\n"},
		{"lane not deployed", []string{"--lane", "candidate"},
			"matriz run: lane candidate is not deployed: topics matriz.candidate.actions, matriz.candidate.approvals, matriz.candidate.checkpoints and 5 more are missing on the brokers; run `matriz deploy --lanes candidate` first\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--brokers", kafka, "--registry", registry, "--status-every", "0"}, tc.args...)
			code, errOut, took := runToExit(t, 15*time.Second, args...)
			if code != 1 || errOut != tc.want {
				t.Fatalf("exit %d after %v, stderr %q; want exit 1 and %q", code, took, errOut, tc.want)
			}
			t.Logf("matriz %s: exit 1 after %v", strings.Join(tc.args, " "), took.Round(time.Millisecond))
		})
	}
}
