package rehearsal

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// docker checks for a Docker Engine. Without one the test skips, saying
// so — or fails where every external tool is required (CI sets
// MATRIZ_REQUIRE_INTEROP=1).
func docker(t *testing.T) {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("MATRIZ_REQUIRE_INTEROP") == "1" {
		missing = t.Fatalf
	}
	path, err := exec.LookPath("docker")
	if err != nil {
		missing("docker is not installed: the rehearsal needs a Docker Engine")
		return
	}
	if out, err := exec.Command(path, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		missing("docker engine not reachable (%v): %s", err, strings.TrimSpace(string(out)))
	}
}

// logWriter sends the rehearsal's progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestRehearsal(t *testing.T) {
	if testing.Short() {
		t.Skip("rehearses the lanes in containers for a few minutes (skipped with -short)")
	}
	docker(t)
	cfg := Config{Root: "../..", Log: logWriter{t}}
	if err := cfg.FromEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	// Stop before go test's own deadline would kill the process: the
	// cleanup of the containers needs it alive.
	deadline := time.Now().Add(15 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-time.Minute).Before(deadline) {
		deadline = d.Add(-time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	rep, err := Run(ctx, cfg)
	var out strings.Builder
	rep.Write(&out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("rehearsal could not run: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("rehearsal failed %d checks (report above)", len(rep.Failures))
	}
	lanes := len(cfg.Lanes)
	if lanes == 0 {
		lanes = 3
	}
	if len(rep.Lanes) != lanes || len(rep.Faults) != 3 {
		t.Fatalf("report covers %d lanes and %d faults, want %d lanes and 3 faults", len(rep.Lanes), len(rep.Faults), lanes)
	}
}
