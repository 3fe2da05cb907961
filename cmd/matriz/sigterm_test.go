package main

import (
	"context"
	binenc "encoding/binary"
	"fmt"
	"io"
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
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// Real `matriz run` processes put in each bad state a production lane meets,
// then sent SIGTERM: each exits within signalBound (run_signal_test.go
// covers a registry that holds requests, a broker stopped under a joined
// lane and a restore that keeps failing). Where the state is one a person
// must see, /readyz says so while it lasts.

// readyz returns the process's /readyz status and body.
func (p *runProc) readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitNotReady waits until /readyz answers 503 with a body containing want.
func (p *runProc) waitNotReady(t *testing.T, want string) string {
	t.Helper()
	var body string
	clocktest.WaitFor(t, time.Minute, "/readyz not ready: "+want, func() bool {
		var code int
		code, body = p.readyz(t)
		return code == http.StatusServiceUnavailable && strings.Contains(body, want)
	}, func() string { return body + "\n" + p.log() })
	return body
}

// refusingRegistry is a proxy to the test registry that can be closed: its
// port then refuses connections, a registry that is down.
type refusingRegistry struct {
	url string
	srv *httptest.Server
}

func newRefusingRegistry(t *testing.T, target string) *refusingRegistry {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
	t.Cleanup(srv.Close)
	return &refusingRegistry{url: srv.URL, srv: srv}
}

// TestSigtermWhileRegistryRefuses: the registry's port refuses connections
// and a record with a schema id the process has not resolved arrives;
// decode retries (an outage is not bad input), /readyz says the registry
// does not answer, and SIGTERM still ends the process within the bound,
// the record left uncommitted for the next owner.
func TestSigtermWhileRegistryRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process with its registry down (skipped with -short)")
	}
	e := newLaneEnv(t)
	reg := newRefusingRegistry(t, e.regURL)
	e.regURL = reg.url
	const group = "registry-down"
	p := e.startRun(t, group)
	if code, body := p.readyz(t); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz after joining: %d %q", code, body)
	}
	reg.srv.Close()
	val := append([]byte{0, 0, 0, 0, 0}, 2, 'x')
	binenc.BigEndian.PutUint32(val[1:5], 9998)
	e.Write(t, topics.Name(string(e.lane), topics.KindMessages), []topics.Message{{Key: []byte("g"), Value: val}})
	body := p.waitNotReady(t, "the schema registry does not answer, decode retrying")
	took, code := exitWithin(t, p)
	for part, off := range e.committed(t, group) {
		if off > 0 {
			t.Fatalf("partition %d committed at %d: the undecoded record must stay for the next owner", part, off)
		}
	}
	t.Logf("registry refusing: /readyz %q; SIGTERM: exit %d after %v", strings.TrimSpace(body), code, took.Round(time.Millisecond))
}

// TestSigtermWhileRestoreFails: the state changelog cannot be read, so every
// partition keeps retrying its restore (the chosen behaviour: retry with
// backoff, visibly, rather than give the partition up). /readyz names the
// partitions and why; SIGTERM ends the process within the bound.
func TestSigtermWhileRestoreFails(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process stuck restoring (skipped with -short)")
	}
	e := newLaneEnv(t)
	deleteTopic(t, e.brokers, topics.Name(string(e.lane), topics.KindState))
	p := e.startRun(t, "restore-fails")
	body := p.waitNotReady(t, "restoring its state failed")
	took, code := exitWithin(t, p)
	t.Logf("restore failing: /readyz %.200q; SIGTERM: exit %d after %v", strings.TrimSpace(body), code, took.Round(time.Millisecond))
}

// TestSigtermWhileExecutorHangs: the actions webhook accepts calls and never
// answers; SIGTERM while actions are being executed ends the process within
// the shutdown bound (shutdown.go): exit 1 with a line saying it left
// without finishing, when the hung calls hold the drain past it.
func TestSigtermWhileExecutorHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process whose executor hangs (skipped with -short)")
	}
	e := newLaneEnv(t)
	var calls atomic.Int64
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(release) })
	p := e.startRunWith(t, "executor-hangs", []string{"--actions-webhook", hook.URL}, []string{runtime.FlagExtActions + "=true"})
	base := time.Now().Add(-time.Second)
	msgs := make([]schemas.MatrizMessage, 50)
	for i := range msgs {
		msgs[i] = e.gen.Next(base.Add(time.Duration(i) * time.Millisecond))
		msgs[i].Payload["action_kind"], msgs[i].Payload["priority"] = "notify", "P2" // executes without an approval
	}
	e.Produce(t, e.lane, msgs, nil)
	clocktest.WaitFor(t, time.Minute, "the webhook was called", func() bool { return calls.Load() > 0 },
		func() string { return fmt.Sprintf("%d calls\n%s", calls.Load(), p.log()) })
	start := time.Now()
	code := p.stop(t, syscall.SIGTERM, shutdownBound+5*time.Second)
	took := time.Since(start)
	if code != 0 && (code != 1 || !strings.Contains(p.log(), "exiting without finishing")) {
		t.Fatalf("exit %d; want 0, or 1 with the line saying the process left without finishing\n%s", code, p.log())
	}
	t.Logf("executor hung (%d calls held): SIGTERM: exit %d after %v\n%s", calls.Load(), code, took.Round(time.Millisecond), lastLines(p.log(), 4))
}

// deleteTopic deletes topic from the broker.
func deleteTopic(t *testing.T, brokers, topic string) {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 10 * time.Second}
	resp, err := cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil || resp.Errors[topic] != nil {
		t.Fatalf("deleting %s: %v %v", topic, err, resp)
	}
}
