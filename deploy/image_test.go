package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// docker returns the docker CLI. Without a Docker Engine the test skips,
// saying so — or fails where every external tool is required (CI sets
// MATRIZ_REQUIRE_INTEROP=1).
func docker(t *testing.T) string {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("MATRIZ_REQUIRE_INTEROP") == "1" {
		missing = t.Fatalf
	}
	path, err := exec.LookPath("docker")
	if err != nil {
		missing("docker is not installed: the image test needs a Docker Engine")
	}
	if out, err := exec.Command(path, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		missing("docker engine not reachable (%v): %s", err, strings.TrimSpace(string(out)))
	}
	return path
}

func TestImageBuildsFromScratchAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image (skipped with -short)")
	}
	dockerBin := docker(t)
	ctxDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ctxDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "bin", "matriz"), "../cmd/matriz")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	tag := "matriz:image-test"
	if out, err := exec.Command(dockerBin, "build", "-q", "-f", "Dockerfile", "-t", tag, ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(dockerBin, "rmi", "-f", tag).Run() })
	out, err := exec.Command(dockerBin, "run", "--rm", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	for _, want := range []string{"Usage: matriz <command>", "dev", "run", "deploy", "broker"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("image help lacks %q:\n%s", want, out)
		}
	}
	// A bad flag inside the container is a one-line usage error, exit 2.
	cmd := exec.Command(dockerBin, "run", "--rm", tag, "run", "--no-such-flag")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("bad flag in the container: %v, want exit 2\n%s", err, out)
	}
}

func TestComposeFileIsValid(t *testing.T) {
	dockerBin := docker(t)
	cmd := exec.Command(dockerBin, "compose", "-f", "docker-compose.yml", "config", "--services")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if c, lerr := exec.LookPath("docker-compose"); lerr == nil {
			out, err = exec.Command(c, "-f", "docker-compose.yml", "config", "--services").CombinedOutput()
		}
	}
	if err != nil {
		t.Fatalf("compose config: %v\n%s", err, out)
	}
	for _, svc := range []string{"broker", "deploy", "run-experimental", "run-candidate", "run-prod"} {
		if !strings.Contains(string(out), svc) {
			t.Fatalf("compose services %q lack %s", out, svc)
		}
	}
}
