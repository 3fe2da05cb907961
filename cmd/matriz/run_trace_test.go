package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// frameSpans is an OTLP/HTTP traces endpoint that counts the matriz.frame
// spans it gets, by service name.
type frameSpans struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *frameSpans) count(service string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[service]
}

func startFrameSpans(t *testing.T) (*frameSpans, string) {
	t.Helper()
	f := &frameSpans{n: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var ex coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil || req.URL.Path != "/v1/traces" {
			http.Error(w, "want an ExportTraceServiceRequest on /v1/traces", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		for _, rs := range ex.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					if s.GetName() == "matriz.frame" {
						f.n[service]++
					}
				}
			}
		}
		f.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// TestRunTracesFromEnvironmentAndFlushesAtShutdown: `matriz run` with
// OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME in its environment
// traces its frames under that service; with the batch delay set past the
// test (OTEL_BSP_SCHEDULE_DELAY), no span leaves before SIGTERM, and every
// frame's span has arrived once the process exited 0: shutdown flushed.
func TestRunTracesFromEnvironmentAndFlushesAtShutdown(t *testing.T) {
	e := newLaneEnv(t)
	spans, endpoint := startFrameSpans(t)
	e.produce(t, 30)
	group := "run-traced"
	p := e.startRunWith(t, group, nil, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_SERVICE_NAME=matriz-prod-eu",
		"OTEL_BSP_SCHEDULE_DELAY=600000", "OTEL_TRACES_SAMPLER=always_on"})
	e.waitAnswered(t, group, 60*time.Second)
	if n := spans.count("matriz-prod-eu"); n != 0 {
		t.Fatalf("%d frame spans exported before shutdown with a 10-minute batch delay; the flush test would prove nothing", n)
	}
	if code := p.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.log())
	}
	n := spans.count("matriz-prod-eu")
	if n == 0 || n > len(e.sent) {
		t.Fatalf("%d frame spans under matriz-prod-eu after shutdown, want 1..%d (one per frame with records)\n%s", n, len(e.sent), p.log())
	}
	t.Logf("%d messages, %d frame spans flushed at shutdown", len(e.sent), n)
}

// TestRunRefusesBadTracingVariable: a tracing variable `matriz run`
// cannot use stops it with one line naming the variable and what it
// takes.
func TestRunRefusesBadTracingVariable(t *testing.T) {
	var out, errb strings.Builder
	getenv := func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER": "sometimes"}[k]
	}
	code := run(t.Context(), []string{"run", "--lane", "prod", "--brokers", "127.0.0.1:1", "--registry", "http://127.0.0.1:1"}, &env{stdout: &out, stderr: &errb, getenv: getenv})
	msg := errb.String()
	if code == 0 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, `OTEL_TRACES_SAMPLER="sometimes": want always_on`) {
		t.Fatalf("exit %d, stderr %q; want a failure naming OTEL_TRACES_SAMPLER in one line", code, msg)
	}
}
