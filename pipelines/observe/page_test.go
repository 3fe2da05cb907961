package observe

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
)

var pageT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func laneOf(t *testing.T, s PageSnapshot, lane schemas.Lane) PageLane {
	t.Helper()
	for _, l := range s.Lanes {
		if l.Lane == string(lane) {
			return l
		}
	}
	t.Fatalf("lane %s not on the page: %+v", lane, s.Lanes)
	return PageLane{}
}

func wantFig(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: missing, want %v", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

func wantMissing(t *testing.T, what string, got *float64) {
	t.Helper()
	if got != nil {
		t.Errorf("%s = %v, want missing (the process does not export it)", what, *got)
	}
}

// TestPageFiguresFromTheLaneMetrics: the page reads a lane's totals,
// decisions and DLQ reasons from the registry by name, measures rates over
// the clock between two samples, takes the tick p95 from the status
// counters, and leaves what the registry does not export missing.
func TestPageFiguresFromTheLaneMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var c LaneCounters
	obs := NewLane(schemas.LaneProd, m, &c)
	obs.ApprovalsWaiting(0, []string{"act-old", "act-new"})
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 20 * time.Millisecond} {
		c.p95.add(d)
	}
	m.MessagesIn.WithLabelValues("prod").Add(100)
	m.MessagesOut.WithLabelValues("prod").Add(40)
	m.DriftEMA.WithLabelValues("prod").Set(0.3)
	m.FPS.WithLabelValues("prod", "0").Set(24)
	m.GuardianDecisions.WithLabelValues("prod", "allow").Add(7)
	m.GuardianDecisions.WithLabelValues("prod", "deny").Add(2)
	m.GuardianDecisions.WithLabelValues("candidate", "deny").Add(5)
	m.DLQ.WithLabelValues("prod", "undecodable").Add(3)

	clk := clock.NewFake(pageT0)
	p := NewPage(PageConfig{Lanes: []schemas.Lane{schemas.LaneCandidate, schemas.LaneProd}, Gatherer: reg, Clock: clk,
		Counters: func(l schemas.Lane) *LaneCounters {
			if l == schemas.LaneProd {
				return &c
			}
			return nil
		}})
	p.Sample(clk.Now())
	first := laneOf(t, p.Snapshot(), schemas.LaneProd)
	wantMissing(t, "first in rate", first.InRate)
	m.MessagesIn.WithLabelValues("prod").Add(300)
	m.MessagesOut.WithLabelValues("prod").Add(150)
	clk.Advance(2 * time.Second)
	p.Sample(clk.Now())

	s := p.Snapshot()
	if !s.At.Equal(pageT0.Add(2*time.Second)) || s.DriftWarn != 0.25 || s.DriftBlock != 0.35 {
		t.Errorf("snapshot at %v, drift lines %v/%v", s.At, s.DriftWarn, s.DriftBlock)
	}
	prod := laneOf(t, s, schemas.LaneProd)
	wantFig(t, "in total", prod.InTotal, 400)
	wantFig(t, "out total", prod.OutTotal, 190)
	wantFig(t, "in rate", prod.InRate, 150)
	wantFig(t, "out rate", prod.OutRate, 75)
	wantFig(t, "drift", prod.DriftEMA, 0.3)
	wantFig(t, "fps", prod.FPS, 24)
	wantFig(t, "tick p95 ms", prod.TickP95Ms, 20)
	wantFig(t, "circuit breaks", prod.Breaks, 0)
	if prod.Decisions["allow"] != 7 || prod.Decisions["deny"] != 2 || len(prod.Decisions) != 2 {
		t.Errorf("decisions %v, want allow 7 deny 2", prod.Decisions)
	}
	if prod.DLQ["undecodable"] != 3 || len(prod.DLQ) != 1 {
		t.Errorf("dlq %v, want undecodable 3", prod.DLQ)
	}
	wantFig(t, "approvals waiting", prod.ApprovalsWaiting, 2)
	if !slices.Equal(prod.Waiting, []string{"act-old", "act-new"}) {
		t.Errorf("waiting ids %v, want the partition's, oldest first", prod.Waiting)
	}
	wantMissing(t, "lag", prod.Lag)
	if len(prod.Partitions) != 1 || prod.Partitions[0].Partition != 0 {
		t.Errorf("partitions %+v, want partition 0 alone (the one with an fps series)", prod.Partitions)
	}
	if prod.ApproveCmd != "matriz approve --lane prod ACTION_ID" || prod.ListCmd != "matriz actions --lane prod" {
		t.Errorf("commands %q, %q", prod.ApproveCmd, prod.ListCmd)
	}
	if h := prod.History; len(h.InRate) != 2 || h.InRate[0] != nil || *h.InRate[1] != 150 || len(h.DriftEMA) != 2 {
		t.Errorf("history %+v, want two samples, the first without a rate", h)
	}
	cand := laneOf(t, s, schemas.LaneCandidate)
	if cand.Decisions["deny"] != 5 {
		t.Errorf("candidate decisions %v, want deny 5", cand.Decisions)
	}
	wantMissing(t, "candidate tick p95 (no counters, no observation)", cand.TickP95Ms)
}

// TestPageReadsPerPartitionSeries: with the per-partition gauges of issue
// 11 (partition label, lag, committed offset, oldest uncommitted age,
// approvals waiting) the page lists every partition, sums the lag, shows
// the slowest partition's fps, takes the tick p95 of the last period from
// the histogram when it has no counters, and drops a released partition.
func TestPageReadsPerPartitionSeries(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	lp := []string{"lane", "partition"}
	fps := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lukhas_fps", Help: "h"}, lp)
	backlog := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lukhas_backlog_frames", Help: "h"}, lp)
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lukhas_consumer_lag", Help: "h"}, lp)
	committed := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lukhas_committed_offset", Help: "h"}, lp)
	age := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lukhas_oldest_uncommitted_age_seconds", Help: "h"}, lp)
	waiting := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lukhas_approvals_waiting", Help: "h"}, []string{"lane"})
	tick := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lukhas_tick_duration_seconds", Help: "h",
		Buckets: []float64{.005, .01, .033, .035, .05}}, []string{"lane"})
	reg.MustRegister(fps, backlog, lag, committed, age, waiting, tick)
	for p, v := range map[string]float64{"0": 30, "1": 22, "2": 30} {
		fps.WithLabelValues("prod", p).Set(v)
		lag.WithLabelValues("prod", p).Set(10 * v)
		committed.WithLabelValues("prod", p).Set(1000 + v)
	}
	fps.WithLabelValues("candidate", "0").Set(5)
	backlog.WithLabelValues("prod", "1").Set(4)
	age.WithLabelValues("prod", "2").Set(1.5)
	waiting.WithLabelValues("prod").Set(2)
	for range 100 {
		tick.WithLabelValues("prod").Observe(0.04) // before the page's first sample
	}

	clk := clock.NewFake(pageT0)
	p := NewPage(PageConfig{Lanes: []schemas.Lane{schemas.LaneProd}, Gatherer: reg, Clock: clk})
	p.Sample(clk.Now())
	for i := range 100 {
		d := 0.001
		if i >= 95 {
			d = 0.04
		}
		tick.WithLabelValues("prod").Observe(d)
	}
	clk.Advance(time.Second)
	p.Sample(clk.Now())
	prod := laneOf(t, p.Snapshot(), schemas.LaneProd)
	wantFig(t, "lane fps (slowest partition)", prod.FPS, 22)
	wantFig(t, "lag (sum)", prod.Lag, 820)
	wantFig(t, "approvals waiting", prod.ApprovalsWaiting, 2)
	wantFig(t, "tick p95 ms of the last second", prod.TickP95Ms, 5)
	if len(prod.Partitions) != 3 {
		t.Fatalf("partitions %+v, want 0, 1, 2", prod.Partitions)
	}
	for i, pp := range prod.Partitions {
		if pp.Partition != int32(i) {
			t.Fatalf("partition %d at %d: want them in order", pp.Partition, i)
		}
	}
	p1, p2 := prod.Partitions[1], prod.Partitions[2]
	wantFig(t, "p1 fps", p1.FPS, 22)
	wantFig(t, "p1 backlog", p1.Backlog, 4)
	wantFig(t, "p1 lag", p1.Lag, 220)
	wantFig(t, "p1 committed", p1.Committed, 1022)
	wantMissing(t, "p1 oldest age", p1.OldestAgeSec)
	wantFig(t, "p2 oldest age", p2.OldestAgeSec, 1.5)
	wantMissing(t, "in total (not exported)", prod.InTotal)
	if prod.Decisions != nil || prod.DLQ != nil {
		t.Errorf("decisions %v dlq %v, want missing", prod.Decisions, prod.DLQ)
	}

	// Partition 1 is released: its series are deleted, and it leaves the page.
	for _, v := range []*prometheus.GaugeVec{fps, backlog, lag, committed} {
		v.DeleteLabelValues("prod", "1")
	}
	clk.Advance(time.Second)
	p.Sample(clk.Now())
	prod = laneOf(t, p.Snapshot(), schemas.LaneProd)
	if len(prod.Partitions) != 2 || prod.Partitions[0].Partition != 0 || prod.Partitions[1].Partition != 2 {
		t.Fatalf("after partition 1 was released: %+v", prod.Partitions)
	}
	wantFig(t, "lane fps after release", prod.FPS, 30)
	wantMissing(t, "tick p95 of a second without frames", prod.TickP95Ms)
}

// TestPageRatesAndHistory: a counter that went back counts from zero, and
// the history keeps the last Keep samples.
func TestPageRatesAndHistory(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	in := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lukhas_messages_in_total", Help: "h"}, []string{"lane"})
	reg.MustRegister(in)
	clk := clock.NewFake(pageT0)
	p := NewPage(PageConfig{Lanes: []schemas.Lane{schemas.LaneProd}, Gatherer: reg, Clock: clk, Keep: 3})
	for i := range 5 {
		in.WithLabelValues("prod").Add(float64(10 * (i + 1)))
		p.Sample(clk.Now())
		clk.Advance(time.Second)
	}
	h := laneOf(t, p.Snapshot(), schemas.LaneProd).History.InRate
	if len(h) != 3 || *h[0] != 30 || *h[1] != 40 || *h[2] != 50 {
		t.Fatalf("history %v, want the last 3 rates 30 40 50", h)
	}
	// The series restarts (a new registry behind the same name).
	reg.Unregister(in)
	in = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lukhas_messages_in_total", Help: "h"}, []string{"lane"})
	reg.MustRegister(in)
	in.WithLabelValues("prod").Add(8)
	clk.Advance(time.Second) // two seconds since the last sample
	p.Sample(clk.Now())
	wantFig(t, "rate after a reset", laneOf(t, p.Snapshot(), schemas.LaneProd).InRate, 4)
}

func TestQuantileOfHistogramBuckets(t *testing.T) {
	bs := func(counts ...float64) []bucket {
		uppers := []float64{0.01, 0.02, math.Inf(1)}
		out := make([]bucket, len(counts))
		for i, c := range counts {
			out[i] = bucket{uppers[i], c}
		}
		return out
	}
	for _, c := range []struct {
		name      string
		prev, cur []bucket
		want      float64
		ok        bool
	}{
		{"nothing observed", nil, bs(0, 0, 0), 0, false},
		{"nothing new", bs(5, 5, 5), bs(5, 5, 5), 0, false},
		{"all in the first bucket", nil, bs(10, 10, 10), 0.0095, true},
		{"interpolated in the second", nil, bs(50, 100, 100), 0.019, true},
		{"past the last bound", nil, bs(0, 0, 10), 0.02, true},
		{"the delta only", bs(100, 100, 100), bs(100, 110, 110), 0.0195, true},
	} {
		got, ok := quantile(0.95, c.prev, c.cur)
		if ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestHTTPServesTheLivePage: with WithPage the server answers / with the
// embedded page (no outside assets) and /api/lanes with the snapshot, and
// keeps /metrics; without it, / is not found.
func TestHTTPServesTheLivePage(t *testing.T) {
	reg := NewProcessRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.InitLane("prod")
	m.MessagesOut.WithLabelValues("prod").Add(12)
	p := NewPage(PageConfig{Lanes: []schemas.Lane{schemas.LaneProd}, Gatherer: reg, Clock: clock.NewFake(pageT0)})
	srv, err := StartHTTP("127.0.0.1:0", reg, func() error { return nil }, nil, WithPage(p))
	if err != nil {
		t.Fatal(err)
	}
	get := func(addr, path string) (int, http.Header, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, hdr, body := get(srv.Addr, "/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(body, "MATRIZ · live") || !strings.Contains(body, `"/api/lanes"`) {
		t.Fatalf("/: %d %s %.200s", code, hdr.Get("Content-Type"), body)
	}
	if ext := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|@import|url\(`).FindString(body); ext != "" {
		t.Errorf("the page loads an outside asset (%q): it must work without network", ext)
	}
	code, hdr, body = get(srv.Addr, "/api/lanes")
	var snap PageSnapshot
	if err := json.Unmarshal([]byte(body), &snap); code != 200 || hdr.Get("Content-Type") != "application/json" || err != nil {
		t.Fatalf("/api/lanes: %d %s %v %.300s", code, hdr.Get("Content-Type"), err, body)
	}
	if len(snap.Lanes) != 1 || snap.Lanes[0].Lane != "prod" || snap.Lanes[0].OutTotal == nil || *snap.Lanes[0].OutTotal != 12 {
		t.Fatalf("/api/lanes: %s", body)
	}
	if !strings.Contains(body, `"lag":null`) {
		t.Errorf("a figure the process does not export is not null in the JSON: %s", body)
	}
	if code, _, body := get(srv.Addr, "/metrics"); code != 200 || !strings.Contains(body, "lukhas_messages_out_total") {
		t.Fatalf("/metrics with the page: %d", code)
	}
	if code, _, _ := get(srv.Addr, "/nothing"); code != 404 {
		t.Errorf("/nothing: %d, want 404", code)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	plain, err := StartHTTP("127.0.0.1:0", reg, func() error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if code, _, _ := get(plain.Addr, "/"); code != 404 {
		t.Errorf("/ without WithPage: %d, want 404", code)
	}
}
