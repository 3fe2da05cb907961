package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binary is the matriz binary built once for the subprocess tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "matriz-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "matriz")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building matriz:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCLI runs the command in process and returns exit code, stdout, stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestHelpOnEveryCommandExitsZero(t *testing.T) {
	code, out, _ := runCLI("--help")
	if code != 0 || !strings.Contains(out, "Commands:") {
		t.Fatalf("matriz --help: exit %d, output %q", code, out)
	}
	for _, c := range commands() {
		code, out, errOut := runCLI(c.name, "--help")
		if code != 0 {
			t.Errorf("matriz %s --help: exit %d (stderr %q)", c.name, code, errOut)
		}
		if !strings.Contains(out, "Usage: matriz "+c.name) || !strings.Contains(out, "Flags:") {
			t.Errorf("matriz %s --help output lacks usage and flags:\n%s", c.name, out)
		}
	}
}

func TestBadUsageExitsTwoWithOneLine(t *testing.T) {
	cases := [][]string{
		{},
		{"teleport"},
		{"deploy", "--no-such-flag"},
		{"dev", "--rate", "many"},
		{"dev", "--rate", "0"},
		{"broker", "extra-arg"},
		{"deploy", "--lanes", "staging"},
		{"approve", "--lane", "prod"},
		{"approve", "a", "b", "--lane", "prod"},
		{"actions", "--lane", "staging"},
		{"run", "--lane", "prod", "--schema-version", "v9x"},
		{"bench", "--n", "0"},
	}
	for _, args := range cases {
		code, _, errOut := runCLI(args...)
		if code != 2 {
			t.Errorf("matriz %v: exit %d, want 2", args, code)
		}
		if lines := strings.Count(strings.TrimRight(errOut, "\n"), "\n"); len(args) > 0 && lines != 0 {
			t.Errorf("matriz %v: %d lines on stderr, want one: %q", args, lines+1, errOut)
		}
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// countingListener listens on a free port and counts the connections it
// accepts, for a test that asserts nothing dials it.
func countingListener(t *testing.T) (addr string, dials func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), func() int { return int(n.Load()) }
}

func TestDeployUnreachableBrokerNamesAddressAndWhatToDo(t *testing.T) {
	addr := closedPort(t)
	code, _, errOut := runCLI("deploy", "--brokers", addr, "--registry", "http://"+closedPort(t))
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errOut)
	}
	for _, want := range []string{addr, "matriz broker", "--brokers"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error %q lacks %q", errOut, want)
		}
	}
	if strings.Contains(errOut, "goroutine") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("error is not one line: %q", errOut)
	}
}

// brokerProcess runs `matriz broker` as a separate process on free ports
// and returns its addresses once it printed its ready line.
func brokerProcess(t *testing.T, dataDir string, extra ...string) (kafka, registry string, stop func() int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"broker", "--listen", closedPort(t), "--registry-listen", closedPort(t), "--data-dir", dataDir}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ready := regexp.MustCompile(`^matriz broker ready: kafka (\S+), schema registry (\S+), data `)
	select {
	case line := <-lines:
		m := ready.FindStringSubmatch(line)
		if m == nil {
			cmd.Process.Kill()
			t.Fatalf("unexpected first line %q", line)
		}
		kafka, registry = m[1], m[2]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("matriz broker printed no ready line within 30s")
	}
	stop = func() int {
		cmd.Process.Signal(syscall.SIGTERM)
		go io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	}
	return kafka, registry, stop
}

func TestDeployTwiceAgainstBrokerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs matriz broker as a subprocess (skipped with -short)")
	}
	kafka, registry, stop := brokerProcess(t, t.TempDir())
	defer func() {
		if code := stop(); code != 0 {
			t.Errorf("matriz broker exited %d on SIGTERM, want 0", code)
		}
	}()
	deploy := func() string {
		out, err := exec.Command(binary, "deploy", "--brokers", kafka, "--registry", registry).CombinedOutput()
		if err != nil {
			t.Fatalf("deploy: %v\n%s", err, out)
		}
		return string(out)
	}
	status := func(out, st string) int {
		return len(regexp.MustCompile(`(?m)^(topic|subject)\s+\S+\s+`+st+`\b`).FindAllString(out, -1))
	}
	first := deploy()
	if n := status(first, "created"); n != 28+19 {
		t.Fatalf("first deploy created %d things, want 28 topics (the registry made _schemas) + 19 subjects:\n%s", n, first)
	}
	second := deploy()
	if status(second, "created") != 0 || !strings.Contains(second, "nothing to change") {
		t.Fatalf("second deploy changed something:\n%s", second)
	}
	if n := status(second, "exists"); n != 29+19 {
		t.Fatalf("second deploy reports %d exists, want 48:\n%s", n, second)
	}
	t.Logf("first deploy:\n%s\nsecond deploy:\n%s", first, second)
}
