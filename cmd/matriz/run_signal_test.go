package main

import (
	"context"
	binenc "encoding/binary"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/topics"
)

// signalBound is how long `matriz run` may take to exit after SIGTERM, in
// every state: the promise.
const signalBound = 10 * time.Second

// stallingRegistry is a proxy to the test registry that, once stalled,
// accepts requests and never answers them: a registry that does not
// answer, the case a plain connection refusal does not cover.
type stallingRegistry struct {
	url     string
	stalled atomic.Bool
	waiting atomic.Int64 // requests held unanswered
}

func newStallingRegistry(t *testing.T, target string) *stallingRegistry {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &stallingRegistry{}
	release := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stalled.Load() {
			s.waiting.Add(1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets srv.Close finish
	s.url = srv.URL
	return s
}

// exitWithin sends SIGTERM to p and fails unless it exits within
// signalBound; it returns how long it took and the exit code.
func exitWithin(t *testing.T, p *runProc) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	code := p.stop(t, syscall.SIGTERM, signalBound)
	return time.Since(start), code
}

// TestRunSignalStopsWhileRegistryDoesNotAnswer: a record whose writer
// schema the process has not seen needs the registry, which no longer
// answers; decode waits it out (bad input would be the DLQ, an outage is
// not), and SIGTERM still stops the process within the bound, leaving the
// record uncommitted for the next owner.
func TestRunSignalStopsWhileRegistryDoesNotAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process against a stalled registry (skipped with -short)")
	}
	e := newLaneEnv(t)
	reg := newStallingRegistry(t, e.regURL)
	e.regURL = reg.url
	const group = "registry-stall"
	p := e.startRun(t, group)
	reg.stalled.Store(true)
	// A wire-format record with a schema id nobody resolved yet.
	val := append([]byte{0, 0, 0, 0, 0}, 2, 'x')
	binenc.BigEndian.PutUint32(val[1:5], 9999)
	e.Write(t, topics.Name(string(e.lane), topics.KindMessages), []topics.Message{{Key: []byte("g"), Value: val}})
	clocktest.WaitFor(t, 30*time.Second, "the process asked the stalled registry", func() bool { return reg.waiting.Load() > 0 },
		func() string { return p.log() })
	took, code := exitWithin(t, p)
	for part, off := range e.committed(t, group) {
		if off > 0 {
			t.Fatalf("partition %d committed at %d: the undecoded record must stay for the next owner", part, off)
		}
	}
	t.Logf("SIGTERM while the registry did not answer: exit %d after %v", code, took.Round(time.Millisecond))
}

// TestRunSignalStopsWhileBrokerDown: the broker stops under a joined
// process; SIGTERM still stops it within the bound.
func TestRunSignalStopsWhileBrokerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process with its broker stopped (skipped with -short)")
	}
	e := newLaneEnv(t)
	e.produce(t, 2_000)
	p := e.startRun(t, "broker-down")
	p.waitOut(t, 1, time.Minute)
	if err := e.Stack.Broker.Close(); err != nil {
		t.Fatal(err)
	}
	took, code := exitWithin(t, p)
	t.Logf("SIGTERM with the broker stopped: exit %d after %v", code, took.Round(time.Millisecond))
}

// TestRunSignalStopsDuringRestore: the lane's state changelog cannot be
// read (its topic is gone), so every assigned partition keeps retrying its
// restore; SIGTERM stops the process within the bound all the same.
func TestRunSignalStopsDuringRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process stuck restoring (skipped with -short)")
	}
	e := newLaneEnv(t)
	cl := &kafka.Client{Addr: kafka.TCP(e.brokers), Timeout: 10 * time.Second}
	state := topics.Name(string(e.lane), topics.KindState)
	resp, err := cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{state}})
	if err != nil || resp.Errors[state] != nil {
		t.Fatalf("deleting %s: %v %v", state, err, resp)
	}
	p := e.startRun(t, "restore-stuck")
	// The first attempt gives up after its read timeout; the second, under
	// way when the signal comes, waits twice as long.
	clocktest.WaitFor(t, 60*time.Second, "a partition retrying its restore", func() bool {
		return strings.Contains(p.log(), "partition not ready; retrying")
	}, func() string { return p.log() })
	took, code := exitWithin(t, p)
	t.Logf("SIGTERM during restore: exit %d after %v\n%s", code, took.Round(time.Millisecond), lastLines(p.log(), 5))
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
