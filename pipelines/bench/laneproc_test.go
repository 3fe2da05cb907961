package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
)

// fakeLane is a lane process whose /metrics a test serves: consumed
// counts up by step a scrape until it reaches stop.
func fakeLane(t *testing.T, step, stop int64) laneProcs {
	t.Helper()
	var in atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := in.Load()
		if v < stop {
			v = in.Add(step)
		}
		fmt.Fprintf(w, "lukhas_messages_in_total{lane=\"prod\"} %d\nlukhas_messages_out_total{lane=\"prod\"} 0\n", v)
	}))
	t.Cleanup(srv.Close)
	c := &child{name: "fake lane", cmd: &exec.Cmd{}, exited: make(chan struct{}), outDone: make(chan struct{})}
	return laneProcs{{child: c, metricsURL: srv.URL, http: srv.Client()}}
}

// TestWaitProgressWaitsWhileTheLaneReads: a lane still reading is waited
// for however long it takes; one that stops reading short of n fails the
// wait after the stall, naming how far it got.
func TestWaitProgressWaitsWhileTheLaneReads(t *testing.T) {
	env := PhaseEnv{Clock: clock.Real{}}
	consumed := func(c laneCounts) int64 { return c.In }
	if err := fakeLane(t, 50, 1000).waitProgress(t.Context(), env, "consumed", consumed, 1000, time.Second); err != nil {
		t.Fatalf("a lane reading to the end: %v", err)
	}
	start := time.Now()
	err := fakeLane(t, 10, 300).waitProgress(t.Context(), env, "consumed", consumed, 1000, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "the lane consumed 300 of 1000 messages, none more in 100ms") {
		t.Fatalf("a lane stuck at 300: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("stalled wait took %v", took)
	}
}
