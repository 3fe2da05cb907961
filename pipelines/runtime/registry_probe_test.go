package runtime

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/schemas"
)

// probedRegistry is a GET /config endpoint that can be stopped and started
// again on the same address, and made to answer an error.
type probedRegistry struct {
	addr   string
	status atomic.Int32
	hits   atomic.Int64
	srv    *http.Server
}

func (r *probedRegistry) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if req.URL.Path != "/config" {
			http.NotFound(w, req)
			return
		}
		w.WriteHeader(int(r.status.Load()))
		w.Write([]byte(`{"compatibilityLevel":"BACKWARD"}`))
	})}
	go r.srv.Serve(ln)
}

func (r *probedRegistry) stop() { r.srv.Close() }

// TestRegistryProbeFollowsTheRegistry: on the lane's clock, the probe
// keeps the lane not ready, with the registry's URL and the error, while
// the registry is stopped or answers an error, and ready again once it
// answers; the log says when it went away and when it came back, once each.
func TestRegistryProbeFollowsTheRegistry(t *testing.T) {
	reg := &probedRegistry{addr: "127.0.0.1:0"}
	reg.status.Store(http.StatusOK)
	reg.start(t)
	defer func() { reg.stop() }()
	url := "http://" + reg.addr

	fake := clock.NewFake(time.Unix(0, 0))
	var logs syncBuffer
	ready := NewReadiness()
	ready.set(reasonJoin, "")
	lr := &laneRuntime{
		cfg:  Config{RegistryURL: url, RegistryProbeEvery: time.Second},
		lane: schemas.LaneProd, clock: fake, ready: ready,
		log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); lr.probeRegistry(ctx) }()
	defer func() { cancel(); <-done }()

	// until advances the lane's clock a probe period at a time until cond
	// holds: the probe's ticker may not exist yet when the clock first moves.
	until := func(what string, cond func() bool) {
		t.Helper()
		clocktest.WaitFor(t, 10*time.Second, what, func() bool {
			if cond() {
				return true
			}
			fake.Advance(time.Second)
			return false
		}, func() string { return "readiness: " + errString(ready.Err()) })
	}

	hits := reg.hits.Load()
	until("a probe answered", func() bool { return reg.hits.Load() > hits })
	if err := ready.Err(); err != nil {
		t.Fatalf("registry up: not ready: %v", err)
	}

	reg.stop()
	until("not ready while the registry is stopped", func() bool { return ready.Err() != nil })
	want := "schema registry " + url + " unreachable: dial tcp " + reg.addr + ": connect: connection refused"
	if got := errString(ready.Err()); got != want {
		t.Fatalf("stopped: reason %q, want %q", got, want)
	}

	reg.start(t) // the same address
	until("ready once the registry is back", func() bool { return ready.Err() == nil })

	reg.status.Store(http.StatusServiceUnavailable)
	until("not ready while the registry answers 503", func() bool { return ready.Err() != nil })
	want = "schema registry " + url + ` unreachable: GET /config answered 503 Service Unavailable: {"compatibilityLevel":"BACKWARD"}`
	if got := errString(ready.Err()); got != want {
		t.Fatalf("503: reason %q, want %q", got, want)
	}
	reg.status.Store(http.StatusOK)
	until("ready once the registry answers 200", func() bool { return ready.Err() == nil })

	out := logs.String()
	if n := strings.Count(out, "schema registry unreachable"); n != 2 {
		t.Errorf("%d warnings that the registry is unreachable, want 2 (one per outage):\n%s", n, out)
	}
	if n := strings.Count(out, "schema registry answers again"); n != 2 {
		t.Errorf("%d lines that the registry is back, want 2:\n%s", n, out)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
