package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/pipetest"
)

// python is Debian's interpreter, where the apt packages install; a
// `python3` earlier on PATH may be another one without them.
const python = "/usr/bin/python3"

var (
	binary string // the matriz binary, built once in TestMain
	tmpDir string

	devOnce sync.Once
	dev     *devProcess
	devErr  error
)

func TestMain(m *testing.M) {
	var err error
	tmpDir, err = os.MkdirTemp("", "matriz-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(tmpDir, "matriz")
	build := exec.Command("go", "build", "-o", binary, "github.com/matriz/pipelines/cmd/matriz")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building matriz:", err)
		os.Exit(1)
	}
	code := m.Run()
	if dev != nil {
		if err := dev.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping matriz dev:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.RemoveAll(tmpDir)
	os.Exit(code)
}

// requireTool skips (or, with MATRIZ_REQUIRE_INTEROP=1, fails) when an
// external tool is missing, naming the Debian package that provides it.
func requireTool(t *testing.T, path, pkg string) string {
	t.Helper()
	full, err := exec.LookPath(path)
	if err == nil {
		return full
	}
	missing(t, fmt.Sprintf("%s is not installed (%v): apt-get install -y --no-install-recommends %s", path, err, pkg))
	return ""
}

// requirePython checks that Debian's Python imports each module, naming the
// package of the first one missing.
func requirePython(t *testing.T, modules map[string]string) {
	t.Helper()
	requireTool(t, python, "python3")
	for mod, pkg := range modules {
		if out, err := exec.Command(python, "-c", "import "+mod).CombinedOutput(); err != nil {
			missing(t, fmt.Sprintf("%s cannot import %s (%v: %s): apt-get install -y --no-install-recommends %s", python, mod, err, strings.TrimSpace(string(out)), pkg))
		}
	}
}

func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MATRIZ_REQUIRE_INTEROP") == "1" {
		t.Fatalf("MATRIZ_REQUIRE_INTEROP=1 and %s", why)
	}
	t.Skip(why)
}

// run runs a command and returns its stdout; a non-zero exit fails the test
// with stderr.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// runFor runs a command that may not end by itself (kcat -e chasing a
// topic that keeps growing) for at most d, and returns what it printed by
// then. Only a failure other than the deadline fails the test.
func runFor(t *testing.T, d time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && ctx.Err() == nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// runPython runs testdata/script with Debian's Python and decodes its JSON
// output into v.
func runPython(t *testing.T, v any, script string, args ...string) {
	t.Helper()
	out := run(t, python, append([]string{filepath.Join("testdata", script)}, args...)...)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s printed no JSON: %v\n%s", script, err, out)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// devProcess is `matriz dev` running as a subprocess.
type devProcess struct {
	cmd      *exec.Cmd
	broker   string
	registry string
	out      *pipetest.SyncBuffer
	done     chan error
}

var devReady = regexp.MustCompile(`^matriz dev: kafka (\S+), schema registry (\S+), `)

// startDev runs `matriz dev` once for the package's tests and returns it
// when it printed its ready line.
func startDev(t *testing.T) *devProcess {
	t.Helper()
	devOnce.Do(func() { dev, devErr = launchDev(t) })
	if devErr != nil {
		t.Fatal(devErr)
	}
	return dev
}

func launchDev(t *testing.T) (*devProcess, error) {
	cmd := exec.Command(binary, "dev",
		"--data-dir", filepath.Join(tmpDir, "dev"),
		"--listen", freeAddr(t), "--registry-listen", freeAddr(t), "--http-addr", freeAddr(t),
		"--rate", "100")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &devProcess{cmd: cmd, out: &pipetest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = d.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.out, line)
			if m := devReady.FindStringSubmatch(line); m != nil {
				ready <- m
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { d.done <- cmd.Wait() }()
	select {
	case m := <-ready:
		d.broker, d.registry = m[1], m[2]
		return d, nil
	case err := <-d.done:
		return nil, fmt.Errorf("matriz dev exited before it was ready (%v):\n%s", err, d.out)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("matriz dev printed no ready line within 60s:\n%s", d.out)
	}
}

// stop sends SIGINT, as Ctrl-C would, and waits for a clean exit.
func (d *devProcess) stop() error {
	d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-d.done:
		if err != nil {
			return fmt.Errorf("matriz dev exited with %v:\n%s", err, d.out)
		}
		return nil
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		return fmt.Errorf("matriz dev did not stop within 60s of SIGINT:\n%s", d.out)
	}
}
