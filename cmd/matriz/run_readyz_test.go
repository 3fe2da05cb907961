package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/schemas/registry"
	"github.com/matriz/pipelines/topics"
)

// replicaRegistry is a read-only schema registry over a `matriz broker`
// process's _schemas topic, served by the test on an address of its own,
// so it can be stopped and started again on that address while the broker
// (and its own registry) run on.
type replicaRegistry struct {
	brokers []string
	addr    string
	reg     *registry.Registry
	srv     *http.Server
}

func (r *replicaRegistry) start(t *testing.T) {
	t.Helper()
	log, err := topics.NewCompactedLog(context.Background(), r.brokers, topics.SchemasTopic, topics.CompactedLogReplication(1))
	if err != nil {
		t.Fatal(err)
	}
	store, err := registry.NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	if r.reg, err = registry.New(store, registry.WithReadOnly()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: r.reg.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
}

func (r *replicaRegistry) stop() {
	r.srv.Close()
	r.reg.Close()
}

// readyz returns /readyz's status and body; 0 when it does not answer.
func readyz(httpAddr string) (int, string) {
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestRunReadyzFollowsTheRegistry: a `matriz run` process whose schema
// registry is stopped answers /readyz with 503 and the reason (the
// registry's URL, unreachable, the error) while no record needs a schema,
// and 200 again once the registry is back on the same address; the lane
// keeps running throughout and its log says both changes.
func TestRunReadyzFollowsTheRegistry(t *testing.T) {
	kafka, brokerRegistry, stopBroker := brokerProcess(t, t.TempDir())
	defer stopBroker()
	if out, err := exec.Command(binary, "deploy", "--brokers", kafka, "--registry", brokerRegistry, "--lanes", "prod").CombinedOutput(); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	reg := &replicaRegistry{brokers: []string{kafka}, addr: "127.0.0.1:0"}
	reg.start(t)
	defer func() { reg.stop() }()
	regURL := "http://" + reg.addr

	httpAddr := closedPort(t)
	cmd := exec.Command(binary, "run", "--lane", "prod", "--brokers", kafka, "--registry", regURL,
		"--group", "readyz", "--http-addr", httpAddr, "--status-every", "0", "--session-timeout", "6s")
	var mu sync.Mutex
	var logs strings.Builder
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	log := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	state := func() string {
		code, body := readyz(httpAddr)
		return "readyz " + http.StatusText(code) + ": " + body + "\n" + log()
	}
	waitReadyz := func(what string, within time.Duration, want int, body func(string) bool) time.Duration {
		t.Helper()
		return clocktest.WaitFor(t, within, what, func() bool {
			select {
			case err := <-exited:
				t.Fatalf("matriz run exited (%v)\n%s", err, log())
			default:
			}
			code, b := readyz(httpAddr)
			return code == want && body(b)
		}, state)
	}

	waitReadyz("ready after joining", time.Minute, http.StatusOK, func(b string) bool { return b == "ready" })

	reg.stop()
	wantReason := "not ready: schema registry " + regURL + " unreachable: dial tcp " + reg.addr + ": connect: connection refused"
	down := waitReadyz("503 naming the stopped registry", 15*time.Second, http.StatusServiceUnavailable, func(b string) bool { return b == wantReason })

	reg.start(t) // the same address
	up := waitReadyz("200 once the registry is back", 15*time.Second, http.StatusOK, func(b string) bool { return b == "ready" })
	t.Logf("/readyz went 503 %v after the registry stopped and 200 %v after it was back on %s", down.Round(time.Millisecond), up.Round(time.Millisecond), reg.addr)

	for _, want := range []string{"schema registry unreachable; the lane is not ready until it answers", "schema registry answers again"} {
		if n := strings.Count(log(), want); n != 1 {
			t.Errorf("%d log lines %q, want 1\n%s", n, want, log())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("matriz run exited with %v on SIGTERM\n%s", err, log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("matriz run did not exit within 30s of SIGTERM\n%s", log())
	}
}
