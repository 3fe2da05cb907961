package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/pipetest"
)

// TestSecuredBrokerAndClients: `matriz broker --users --tls-cert` serves
// SASL SCRAM and TLS; a client without them is refused with a line that
// says what the broker may want; with them deploy, produce, run and tail
// work end to end; no output ever shows a password.
func TestSecuredBrokerAndClients(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a secured broker process and every client against it (skipped with -short)")
	}
	const password = "pw-Z9q-never-printed"
	dir := t.TempDir()
	cert, key := pipetest.SelfSignedCert(t, dir)
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("SCRAM-SHA-256 ops "+password+" super\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kafka, registry, stop := brokerProcess(t, t.TempDir(), "--users", users, "--tls-cert", cert, "--tls-key", key)
	defer stop()
	if !strings.HasPrefix(registry, "https://") {
		t.Fatalf("registry %s: want https with --tls-cert", registry)
	}
	var seen bytes.Buffer
	matriz := func(env []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		seen.Write(out)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	conn := []string{"--brokers", kafka, "--registry", registry}
	secure := []string{"MATRIZ_SASL_MECHANISM=SCRAM-SHA-256", "MATRIZ_SASL_USER=ops", "MATRIZ_SASL_PASSWORD=" + password,
		"MATRIZ_TLS_CA=" + cert, "MATRIZ_REGISTRY_USER=ops", "MATRIZ_REGISTRY_PASSWORD=" + password}

	if code, out := matriz(nil, append([]string{"deploy", "--lanes", "prod"}, conn...)...); code != 1 || !strings.Contains(out, "it may want TLS") {
		t.Fatalf("deploy without credentials: exit %d\n%s", code, out)
	}
	wrong := append(append([]string(nil), secure...), "MATRIZ_SASL_PASSWORD=wrong-one")
	if code, out := matriz(wrong, append([]string{"deploy", "--lanes", "prod"}, conn...)...); code != 1 || !strings.Contains(out, "SASL SCRAM-SHA-256 as ops") {
		t.Fatalf("deploy with a wrong password: exit %d\n%s", code, out)
	}
	if code, out := matriz(secure, append([]string{"deploy", "--lanes", "prod"}, conn...)...); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	if code, out := matriz(secure, append([]string{"produce", "--lane", "prod", "--count", "120", "--rate", "2000"}, conn...)...); code != 0 || !strings.Contains(out, "sent 120") {
		t.Fatalf("produce: exit %d\n%s", code, out)
	}
	run := exec.Command(binary, append([]string{"run", "--lane", "prod", "--status-every", "0"}, conn...)...)
	run.Env = append(os.Environ(), secure...)
	var runOut pipetest.SyncBuffer
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer run.Process.Kill()
	results := 0
	clocktest.WaitFor(t, 90*time.Second, "120 results over SASL and TLS", func() bool {
		_, out := matriz(secure, append([]string{"tail", "--lane", "prod", "--topic", "results"}, conn...)...)
		results = strings.Count(out, "\n")
		return results >= 120
	}, func() string { return runOut.String() })
	run.Process.Signal(os.Interrupt)
	run.Wait()
	seen.WriteString(runOut.String())
	if results != 120 {
		t.Fatalf("%d results over SASL and TLS, want 120; run's log:\n%s", results, runOut.String())
	}
	if strings.Contains(runOut.String(), "level=WARN") {
		t.Fatalf("the lane warned over SASL and TLS:\n%s", runOut.String())
	}
	for _, c := range commands() {
		matriz(secure, c.name, "--help")
	}
	if strings.Contains(seen.String(), password) {
		t.Fatal("a password appears in a command's output")
	}
	t.Logf("%d results through SASL SCRAM-SHA-256 and TLS; %d bytes of output checked for the password", results, seen.Len())
}
