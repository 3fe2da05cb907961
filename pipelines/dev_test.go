package pipelines

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
	"github.com/matriz/pipelines/topics"
)

// syncBuffer is an io.Writer safe for the dev loop and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scrape returns the value of every sample of metric on the /metrics page,
// keyed by its label set as written.
func scrape(t *testing.T, addr, metric string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[len(metric):i]] = v
	}
	return out
}

type devRun struct {
	out    *syncBuffer
	info   DevInfo
	cancel context.CancelFunc
	done   chan error
}

// startDev runs Dev with cfg on free ports until the test stops it.
func startDev(t *testing.T, cfg DevConfig) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &devRun{out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan DevInfo, 1)
	cfg.HTTPAddr, cfg.Out = "127.0.0.1:0", r.out
	cfg.Ready = func(i DevInfo) { ready <- i }
	go func() { r.done <- Dev(ctx, cfg) }()
	select {
	case r.info = <-ready:
	case err := <-r.done:
		t.Fatalf("dev stopped before it was ready: %v\n%s", err, r.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("dev not ready within 30s:\n%s", r.out)
	}
	return r
}

func (r *devRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("dev returned %v after Ctrl-C, want nil (exit 0)\n%s", err, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("dev did not stop within 30s of Ctrl-C:\n%s", r.out)
	}
}

func TestDevFlowsOnEveryLaneAndResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	dir := t.TempDir()
	first := startDev(t, DevConfig{DataDir: dir, Rate: 300, StatusEvery: 200 * time.Millisecond})
	start := time.Now()
	clocktest.WaitFor(t, 10*time.Second, "results on all three lanes", func() bool {
		outs := scrape(t, first.info.HTTPAddr, "lukhas_messages_out_total")
		for _, l := range schemas.Lanes {
			if outs[fmt.Sprintf(`{lane="%s"}`, l)] < 10 {
				return false
			}
		}
		return true
	})
	t.Logf("all lanes flowing %v after ready", time.Since(start).Round(time.Millisecond))
	firstIDs := subjectIDs(t, first.info.RegistryURL)
	first.stop(t)
	if !strings.Contains(first.out.String(), "topics 28 created") {
		t.Fatalf("first start did not create the lane topics:\n%s", first.out)
	}

	second := startDev(t, DevConfig{DataDir: dir, Rate: 300, StatusEvery: 200 * time.Millisecond})
	clocktest.WaitFor(t, 10*time.Second, "results after restart", func() bool {
		return scrape(t, second.info.HTTPAddr, "lukhas_messages_out_total")[`{lane="prod"}`] > 0
	})
	secondIDs := subjectIDs(t, second.info.RegistryURL)
	second.stop(t)
	out := second.out.String()
	if !strings.Contains(out, "deploy: topics 29 exists; subjects 19 exists") {
		t.Fatalf("restart re-created topics or subjects:\n%s", out)
	}
	if fmt.Sprint(firstIDs) != fmt.Sprint(secondIDs) {
		t.Fatalf("schema ids changed across restart:\nfirst  %v\nsecond %v", firstIDs, secondIDs)
	}
}

// subjectIDs returns subject → id of the latest version, through the
// project's registry client.
func subjectIDs(t *testing.T, url string) map[string]int {
	t.Helper()
	cl, err := serde.NewRegistryClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subs, err := cl.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range subs {
		ss, err := cl.SchemaByVersion(ctx, s, -1)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = ss.ID
	}
	if len(out) != len(serde.Subjects(schemas.Lanes)) {
		t.Fatalf("registry has %d subjects, want %d", len(out), len(serde.Subjects(schemas.Lanes)))
	}
	return out
}

// scrapeAll reads every sample on the /metrics page: metric name → label
// set as written → value.
func scrapeAll(t *testing.T, addr string) map[string]map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		if out[name] == nil {
			out[name] = map[string]float64{}
		}
		out[name][labels] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return out
}

// sumWhere adds the samples of a metric whose labels contain every one of
// the given label pairs (e.g. `outcome="deny"`).
func sumWhere(samples map[string]float64, labels ...string) float64 {
	var sum float64
	for ls, v := range samples {
		all := true
		for _, l := range labels {
			all = all && strings.Contains(ls, l)
		}
		if all {
			sum += v
		}
	}
	return sum
}

// issue4Metrics are the metrics issue 4 requires on `matriz dev`'s /metrics.
var issue4Metrics = []string{
	"lukhas_tick_duration_seconds", "lukhas_consciousness_frames_total", "lukhas_backlog_frames",
	"lukhas_drift_ema", "lukhas_coherence", "lukhas_memory_circuit_breaks_total",
	"lukhas_breakthrough_flags_total", "lukhas_router_publish_total", "lukhas_guardian_decisions_total",
	"lukhas_messages_in_total", "lukhas_messages_out_total", "lukhas_dlq_total",
	"lukhas_late_messages_total", "lukhas_decimated_frames_total", "lukhas_fps",
}

func TestDevScenarioShowsEveryStageOnMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	// Dev starts log-only; its scenario turns dispatch and external
	// actions on a second later.
	run := startDev(t, DevConfig{Rate: 200, StatusEvery: time.Second, FlagsOnAfter: time.Second})
	defer run.stop(t)
	start := time.Now()

	// Which nodes answered, read back from the prod lane's results topic.
	client, err := serde.NewRegistryClient(run.info.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := serde.New(client)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	nodes := map[string]int{}
	tailDecoded(t, run.info, codec, topics.Name(string(schemas.LaneProd), topics.KindResults), func(_ topics.Message, res *schemas.MatrizResult) {
		mu.Lock()
		nodes[res.Node]++
		mu.Unlock()
	})

	maxEMA := map[string]float64{}
	var last map[string]map[string]float64
	var missing []string
	held := func() bool {
		m := scrapeAll(t, run.info.HTTPAddr)
		last = m
		for ls, v := range m["lukhas_drift_ema"] {
			maxEMA[ls] = max(maxEMA[ls], v)
		}
		missing = missing[:0]
		for _, name := range issue4Metrics {
			if len(m[name]) == 0 && len(m[name+"_count"]) == 0 {
				missing = append(missing, name)
			}
		}
		emaAboveWarn := false
		for _, v := range maxEMA {
			emaAboveWarn = emaAboveWarn || v > 0.20
		}
		mu.Lock()
		answered := len(nodes)
		if nodes[stages.RouterNode] > 0 { // the log-only start's results
			answered--
		}
		allNodes := answered == len(adapters.All())
		mu.Unlock()
		dlq := m["lukhas_dlq_total"]
		return len(missing) == 0 && emaAboveWarn &&
			sumWhere(m["lukhas_memory_circuit_breaks_total"]) > 0 &&
			sumWhere(m["lukhas_breakthrough_flags_total"]) > 0 &&
			sumWhere(m["lukhas_guardian_decisions_total"], `outcome="deny"`) > 0 &&
			sumWhere(m["lukhas_guardian_decisions_total"], `lane="prod"`, `outcome="pending"`) > 0 &&
			sumWhere(dlq, `reason="undecodable"`) > 0 && sumWhere(dlq, `reason="unknown_schema_id"`) > 0 &&
			sumWhere(dlq, `reason="contract_violation"`) > 0 &&
			sumWhere(m["lukhas_stage_messages_total"], `stage="adapter"`, `dir="out"`) > 0 &&
			allNodes
	}
	clocktest.WaitFor(t, 60*time.Second, "every stage shows on /metrics", held, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("nodes answering on prod: %v; missing metrics %v, drift EMA max %v, breaks %v, breakthroughs %v, guardian %v, dlq %v, late %v, adapter stage %v\n%s",
			nodes, missing, maxEMA, last["lukhas_memory_circuit_breaks_total"], last["lukhas_breakthrough_flags_total"],
			last["lukhas_guardian_decisions_total"], last["lukhas_dlq_total"], last["lukhas_late_messages_total"],
			filterLabels(last["lukhas_stage_messages_total"], `stage="adapter"`), run.out)
	})
	t.Logf("every condition held %v after dev was ready", time.Since(start).Round(time.Millisecond))
	t.Logf("drift EMA max per lane: %v", maxEMA)
	for _, name := range []string{"lukhas_memory_circuit_breaks_total", "lukhas_breakthrough_flags_total", "lukhas_guardian_decisions_total", "lukhas_dlq_total", "lukhas_messages_in_total", "lukhas_messages_out_total", "lukhas_late_messages_total", "lukhas_decimated_frames_total", "lukhas_fps", "lukhas_coherence"} {
		t.Logf("%s: %v", name, last[name])
	}
	t.Logf("adapter stage: %v", filterLabels(last["lukhas_stage_messages_total"], `stage="adapter"`))
	t.Logf("adapter errors: %v", filterLabels(last["lukhas_stage_errors_total"], `stage="adapter"`))
	mu.Lock()
	t.Logf("prod results by node: %v", nodes)
	mu.Unlock()
	if errs := sumWhere(last["lukhas_stage_errors_total"], `stage="adapter"`); errs != 0 {
		t.Errorf("%v records failed in the adapter stage: a node broke its contract on scenario input", errs)
	}
	if late := sumWhere(last["lukhas_late_messages_total"]); late != 0 {
		t.Logf("note: %v late messages", late)
	}
	t.Logf("status line:\n%s", lastLines(run.out.String(), 4))
}

func filterLabels(samples map[string]float64, label string) map[string]float64 {
	out := map[string]float64{}
	for ls, v := range samples {
		if strings.Contains(ls, label) {
			out[ls] = v
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logStart returns the first offset clients can read of partition 0.
func logStart(t *testing.T, broker, topic string) int64 {
	t.Helper()
	conn, err := kafka.DialLeader(context.Background(), "tcp", broker, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first, _, err := conn.ReadOffsets()
	if err != nil {
		t.Fatal(err)
	}
	return first
}

// dev --retention bounds the stream topics, the event log included (kept
// forever by its own config); the status line ends with disk and rss.
func TestDevRetentionDeletesOldRecordsOfEveryStream(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	run := startDev(t, DevConfig{DataDir: t.TempDir(), Rate: 200, Retention: 2 * time.Second, StatusEvery: 200 * time.Millisecond})
	defer run.stop(t)
	broker := run.info.Brokers[0]
	streams := []string{
		topics.Name(topics.LaneProd, topics.KindMessages),
		topics.Name(topics.LaneProd, topics.KindResults),
		topics.Name(topics.LaneProd, topics.KindEvents), // forever by its own config
	}
	clocktest.WaitFor(t, 20*time.Second, "the log start of every stream past 0", func() bool {
		for _, s := range streams {
			if logStart(t, broker, s) == 0 {
				return false
			}
		}
		return true
	}, func() string { return run.out.String() })
	if got := regexp.MustCompile(`\| disk \d+(\.\d)?[kMG]B rss \d+(\.\d)?[kMG]B\n`).FindString(run.out.String()); got == "" {
		t.Fatalf("no disk and rss at the end of the status lines:\n%s", lastLines(run.out.String(), 3))
	}
}

func TestDevCleaningFollowsTheWindow(t *testing.T) {
	for _, c := range []struct {
		window time.Duration
		every  time.Duration
		seg    int
	}{
		{2 * time.Second, time.Second, 1 << 20},
		{2 * time.Minute, 12 * time.Second, 1 << 20},
		{DefaultDevRetention, 30 * time.Second, 15 << 20},
		{48 * time.Hour, 30 * time.Second, 64 << 20},
	} {
		if every, seg := devCleanEvery(c.window), devSegmentBytes(c.window); every != c.every || seg != c.seg {
			t.Errorf("window %v: clean every %v, segments %d; want %v, %d", c.window, every, seg, c.every, c.seg)
		}
	}
}

// matrizEventKinds are the event kinds the MATRIZ plan names (§8), which
// the dev scenario's chain must make.
var matrizEventKinds = []schemas.EventKind{
	schemas.EventIntention, schemas.EventAction, schemas.EventMemoryWrite, schemas.EventReward, schemas.EventFlagChange,
}

// devLaneLog is what a test reads back from one lane's results and events.
type devLaneLog struct {
	mu        sync.Mutex
	kinds     map[schemas.EventKind]int
	dispatch  []bool          // DISPATCH_ENABLED of every flag_change, in log order of partition 0
	byRouter  int             // results the router wrote (log-only)
	byNode    int             // results a node wrote (dispatched)
	backToLog map[int32]int64 // partition → offset of a router result after a node result
	sawNode   map[int32]bool
}

func tailDevLane(t *testing.T, info DevInfo, lane schemas.Lane) *devLaneLog {
	t.Helper()
	client, err := serde.NewRegistryClient(info.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := serde.New(client)
	if err != nil {
		t.Fatal(err)
	}
	l := &devLaneLog{kinds: map[schemas.EventKind]int{}, backToLog: map[int32]int64{}, sawNode: map[int32]bool{}}
	tailDecoded(t, info, codec, topics.Name(string(lane), topics.KindEvents), func(m topics.Message, ev *schemas.Event) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.kinds[ev.Kind]++
		if ev.Kind == schemas.EventFlagChange && string(m.Header(runtime.HeaderSrcPartition)) == "0" {
			on, _ := ev.Payload[runtime.FlagDispatch].(bool)
			l.dispatch = append(l.dispatch, on)
		}
	})
	// Action events (the guardian's previews and outcomes) have a topic of
	// their own, matriz.L.actions; they are the lane's events all the same.
	tailDecoded(t, info, codec, topics.Name(string(lane), topics.KindActions), func(_ topics.Message, ev *schemas.Event) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.kinds[ev.Kind]++
		if status, _ := ev.Payload.String("status"); status != "" {
			l.kinds[schemas.EventKind(string(ev.Kind)+"/"+status)]++
		}
	})
	tailDecoded(t, info, codec, topics.Name(string(lane), topics.KindResults), func(m topics.Message, res *schemas.MatrizResult) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if res.Node == stages.RouterNode {
			l.byRouter++
			if l.sawNode[m.Partition] {
				l.backToLog[m.Partition] = m.Offset
			}
			return
		}
		l.byNode++
		l.sawNode[m.Partition] = true
	})
	return l
}

// tailDecoded follows topic from its start until the test ends, calling fn
// with each record decoded as a T; a record that does not decode fails the
// test.
func tailDecoded[T schemas.Record](t *testing.T, info DevInfo, codec *serde.Serde, topic string, fn func(topics.Message, *T)) {
	t.Helper()
	tail, err := topics.StartTail(t.Context(), info.Brokers, topic, func(m topics.Message) {
		var v T
		if _, err := schemas.DecodeWire(context.Background(), codec.Lookup(), m.Value, &v); err != nil {
			t.Errorf("%s at %d/%d: %v", topic, m.Partition, m.Offset, err)
			return
		}
		fn(m, &v)
	}, func(err error) { t.Logf("%s tail: %v", topic, err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tail.Close() })
}

func (l *devLaneLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("event kinds %v; partition 0 flag_change DISPATCH_ENABLED %v; results by router %d, by nodes %d", l.kinds, l.dispatch, l.byRouter, l.byNode)
}

// TestDevStartsLogOnlyAndTheScenarioSwitchesFlagsOn: matriz dev's lanes
// start with dispatch and external actions off, the scenario turns both on
// through matriz.control, the switch is in the log (the "flag changed"
// line and flag_change decisions on the events topic) and never goes back,
// and the lane's events (matriz.L.events and matriz.L.actions) then hold
// every event kind of the MATRIZ plan, an executed action among them.
func TestDevStartsLogOnlyAndTheScenarioSwitchesFlagsOn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	logs := &syncBuffer{}
	run := startDev(t, DevConfig{
		Rate: 200, Lanes: []schemas.Lane{schemas.LaneProd}, FlagsOnAfter: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	defer run.stop(t)
	prod := tailDevLane(t, run.info, schemas.LaneProd)

	switched := func() bool {
		prod.mu.Lock()
		defer prod.mu.Unlock()
		// The scenario's plans on topic goal also move the Goal Manager's goals.
		for _, k := range append(matrizEventKinds, "action/executed", schemas.EventGoal) {
			if prod.kinds[k] == 0 {
				return false
			}
		}
		return prod.byRouter > 0 && prod.byNode > 0 &&
			slices.Contains(prod.dispatch, false) && slices.Contains(prod.dispatch, true)
	}
	clocktest.WaitFor(t, 90*time.Second, "prod switched from log-only to dispatch, with every MATRIZ event kind and goal events on its events", switched, func() string {
		return prod.String() + "\n" + lastLines(logs.String(), 10)
	})
	t.Logf("prod: %v", prod)

	out := run.out.String()
	if !strings.Contains(out, "log-only: DISPATCH_ENABLED and EXT_ACTIONS_ENABLED off; the scenario turns them on through matriz.control in 2s") {
		t.Errorf("dev did not say it starts log-only:\n%s", out)
	}
	for _, flag := range []string{runtime.FlagDispatch, runtime.FlagExtActions} {
		if !strings.Contains(logs.String(), fmt.Sprintf("msg=\"flag changed\" lane=prod flag=%s from=false to=true", flag)) {
			t.Errorf("the log does not show %s switched on:\n%s", flag, lastLines(logs.String(), 20))
		}
	}
	prod.mu.Lock()
	defer prod.mu.Unlock()
	if first := prod.dispatch[0]; first {
		t.Errorf("partition 0's first flag_change has DISPATCH_ENABLED on: dev did not start log-only (%v)", prod.dispatch)
	}
	if i := slices.Index(prod.dispatch, true); slices.Contains(prod.dispatch[i:], false) {
		t.Errorf("DISPATCH_ENABLED went back off after the switch: %v", prod.dispatch)
	}
	if len(prod.backToLog) > 0 {
		t.Errorf("router results after node results (partition → offset): %v", prod.backToLog)
	}
}
