package observe

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// newLane returns a lane observer on a private registry.
func newLane(t *testing.T) (*Lane, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return NewLane(schemas.LaneProd, m, &LaneCounters{}), reg
}

// documentedMetrics reads the metric names listed in Metrics' doc comment.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "metrics.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.GenDecl); ok && ts.Doc != nil && strings.Contains(ts.Doc.Text(), "Emitted metrics:") {
			names = regexp.MustCompile(`(?m)^\s+(lukhas_\w+)\{`).FindAllString(ts.Doc.Text(), -1)
		}
		return true
	})
	for i, n := range names {
		names[i] = strings.TrimSuffix(strings.TrimSpace(n), "{")
	}
	return names
}

// TestMetricsAreTheDocumentedOnesAndLintClean: once a lane has reported,
// /metrics carries exactly the names Metrics' doc comment lists, and the
// exposition passes Prometheus' lint.
func TestMetricsAreTheDocumentedOnesAndLintClean(t *testing.T) {
	obs, reg := newLane(t)
	st := Wrap(schemas.LaneProd, stageFunc("route"), obs.Metrics(), clock.Real{})
	f := &stages.Frame{Lane: schemas.LaneProd, Records: []stages.Record{{Route: &stages.Route{Topic: "trend", Node: "consciousness"}, Verdict: &stages.Verdict{Outcome: stages.OutcomeAllow}}}}
	if err := st.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	obs.Frame(f, time.Millisecond, false, 0, 30)
	obs.DLQWritten("undecodable")
	obs.Offsets(0, 3, time.Second)
	obs.Committed(0, 10)
	obs.ApprovalsWaiting(0, []string{"act-1"})

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range families {
		got = append(got, mf.GetName())
	}
	want := documentedMetrics(t)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("exposed metrics\n%v\nwant the documented\n%v", got, want)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	for _, mf := range families {
		problems, err := testutil.CollectAndLint(reg, mf.GetName())
		if err != nil || len(problems) > 0 {
			t.Errorf("lint %s: %v %v", mf.GetName(), err, problems)
		}
	}
}

// TestLaneFrameCountsWhatTheFrameCarries: routes, verdicts, circuit
// breaks, breakthroughs and decimated frames (one per decimation event)
// and their messages are read off a frame; a late
// record's frame of its own is not a tick frame.
func TestLaneFrameCountsWhatTheFrameCarries(t *testing.T) {
	obs, _ := newLane(t)
	m, lane := obs.Metrics(), string(schemas.LaneProd)
	f := &stages.Frame{
		Records: []stages.Record{
			{Route: &stages.Route{Topic: "trend", Node: "consciousness"}, Verdict: &stages.Verdict{Outcome: stages.OutcomeDeny}},
			{Route: &stages.Route{Topic: "trend", Node: "consciousness"}, Verdict: &stages.Verdict{Outcome: stages.OutcomeAllow}},
		},
		Events: []schemas.Event{
			{Kind: schemas.EventCircuitBreak},
			{Kind: schemas.EventBreakthrough},
			operators.Decimation{Lane: schemas.LaneProd, Partition: 0, Seq: 7, FPS: 30, Offsets: []int64{4, 5, 6}}.Event(),
			operators.Decimation{Lane: schemas.LaneProd, Partition: 0, Seq: 8, FPS: 30}.Event(), // an empty frame
		},
	}
	obs.Frame(f, 2*time.Millisecond, false, 4, 20)
	obs.Frame(&stages.Frame{}, time.Second, true, 4, 20)
	obs.Late()
	for name, c := range map[string]struct {
		got, want float64
	}{
		"routes":          {testutil.ToFloat64(m.RouterPublish.WithLabelValues(lane, "trend")), 2},
		"denials":         {testutil.ToFloat64(m.GuardianDecisions.WithLabelValues(lane, "deny")), 1},
		"breaks":          {testutil.ToFloat64(m.CircuitBreaks.WithLabelValues(lane)), 1},
		"breakthroughs":   {testutil.ToFloat64(m.BreakthroughFlags.WithLabelValues(lane)), 1},
		"decimated":       {testutil.ToFloat64(m.Decimated.WithLabelValues(lane)), 2},
		"decimated msgs":  {testutil.ToFloat64(m.DecimatedMessages.WithLabelValues(lane)), 3},
		"tick frames":     {testutil.ToFloat64(m.Frames.WithLabelValues(lane)), 1},
		"late":            {testutil.ToFloat64(m.Late.WithLabelValues(lane)), 1},
		"backlog":         {testutil.ToFloat64(m.Backlog.WithLabelValues(lane, "0")), 4},
		"fps":             {testutil.ToFloat64(m.FPS.WithLabelValues(lane, "0")), 20},
		"status denials":  {float64(obs.Counters().Denials.Load()), 1},
		"status breaks":   {float64(obs.Counters().Breaks.Load()), 1},
		"status tick p95": {obs.Counters().TickP95().Seconds(), 0.002},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// TestLaneDriftPoolsThePartitionsItWorks: the lane gauge is the samples-
// weighted EMA over the partitions this process works, and a revoked
// partition leaves the pool.
func TestLaneDriftPoolsThePartitionsItWorks(t *testing.T) {
	obs, _ := newLane(t)
	gauge := obs.Metrics().DriftEMA.WithLabelValues(string(schemas.LaneProd))
	obs.Drift(0, stages.DriftStats{Lane: schemas.LaneProd, EMA: 0.2, Samples: 10})
	obs.Drift(1, stages.DriftStats{Lane: schemas.LaneProd, EMA: 0.4, Samples: 30})
	if got := testutil.ToFloat64(gauge); got < 0.3499 || got > 0.3501 {
		t.Fatalf("pooled EMA %v, want 0.35", got)
	}
	obs.Forget(1)
	obs.Drift(0, stages.DriftStats{Lane: schemas.LaneProd, EMA: 0.2, Samples: 10})
	if got := testutil.ToFloat64(gauge); got != 0.2 || obs.Counters().DriftEMA() != 0.2 {
		t.Fatalf("after partition 1 left: gauge %v, status %v, want 0.2", got, obs.Counters().DriftEMA())
	}
}

// stageFunc is a stage that does nothing, named by its value.
type stageFunc string

func (s stageFunc) Name() string                                       { return string(s) }
func (s stageFunc) Process(ctx context.Context, f *stages.Frame) error { return nil }

// failing is a stage that fails its frame's first live record.
type failing struct{ stageFunc }

func (failing) Process(_ context.Context, f *stages.Frame) error {
	for i := range f.Records {
		if f.Records[i].Live() {
			f.Records[i].Fail("failing", "test")
			return nil
		}
	}
	return nil
}

// TestWrapCountsRecordsAndShowsTheStageBehindIt: the wrapper counts live
// records in and out and the ones the stage failed, and a chain finds the
// stage behind it.
func TestWrapCountsRecordsAndShowsTheStageBehindIt(t *testing.T) {
	obs, _ := newLane(t)
	m, lane := obs.Metrics(), string(schemas.LaneProd)
	inner := failing{"failing"}
	st := Wrap(schemas.LaneProd, inner, m, clock.Real{})
	f := &stages.Frame{Records: []stages.Record{{}, {}, {Dropped: true}}}
	if err := st.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	in := testutil.ToFloat64(m.StageMessages.WithLabelValues(lane, "failing", "in"))
	out := testutil.ToFloat64(m.StageMessages.WithLabelValues(lane, "failing", "out"))
	errs := testutil.ToFloat64(m.StageErrors.WithLabelValues(lane, "failing"))
	if in != 2 || out != 1 || errs != 1 {
		t.Fatalf("in %v out %v errors %v, want 2 1 1", in, out, errs)
	}
	chain, err := stages.NewChain(st)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := stages.As[failing](chain); !ok || got != inner {
		t.Fatalf("As found %v %v behind the wrapper", got, ok)
	}
	if Wrap(schemas.LaneProd, inner, nil, clock.Real{}) != stages.Stage(inner) {
		t.Fatal("Wrap without metrics did not return the stage itself")
	}
}

// TestStatusLineRatesFromMeasuredTime: rates are the counters' deltas over
// the time between two lines.
func TestStatusLineRatesFromMeasuredTime(t *testing.T) {
	var c LaneCounters
	var out bytes.Buffer
	line := NewStatusLine(&out, []schemas.Lane{schemas.LaneCandidate}, func(schemas.Lane) *LaneCounters { return &c }, func(schemas.Lane) string { return "extra" })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	line.Print(t0)
	c.In.Add(300)
	c.Out.Add(150)
	line.Print(t0.Add(2 * time.Second))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "cand in 0/s out 0/s Σ0") ||
		!strings.HasPrefix(lines[1], "cand in 150/s out 75/s Σ150") || !strings.HasSuffix(lines[1], " extra") {
		t.Fatalf("status lines:\n%s", out.String())
	}
}

// TestHTTPServesMetricsAndHealth: /metrics is the registry's exposition,
// /healthz answers 200 while health is nil and 503 with the reason after,
// /readyz 200 "ready" while ready is nil and 503 with the reasons while not.
func TestHTTPServesMetricsAndHealth(t *testing.T) {
	reg := NewProcessRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var unhealthy, notReady error
	srv, err := StartHTTP("127.0.0.1:0", reg, func() error { return unhealthy }, func() error { return notReady })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics: %d %.200s", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz healthy: %d", code)
	}
	unhealthy = errors.New("lane stopped")
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "lane stopped") {
		t.Fatalf("/healthz unhealthy: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz ready: %d %q", code, body)
	}
	notReady = errors.New("lane prod partition 3: restoring its state failed 2 times, retrying: timeout")
	if code, body := get("/readyz"); code != 503 || body != "not ready: "+notReady.Error()+"\n" {
		t.Fatalf("/readyz not ready: %d %q", code, body)
	}
	if _, err := StartHTTP(srv.Addr, reg, nil, nil); err == nil || !strings.Contains(err.Error(), "--http-addr") {
		t.Fatalf("a second server on %s: %v, want an error naming --http-addr", srv.Addr, err)
	}
}
