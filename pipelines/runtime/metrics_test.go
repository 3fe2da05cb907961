package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// gateStage holds every frame at the route stage while held is set, until
// release closes.
type gateStage struct {
	stages.Stage
	held    *atomic.Bool
	release chan struct{}
}

func (s gateStage) Unwrap() stages.Stage { return s.Stage }

func (s gateStage) Process(ctx context.Context, f *stages.Frame) error {
	if s.held.Load() {
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	return s.Stage.Process(ctx, f)
}

// partitionGauges returns name's values by partition label, as gathered.
func partitionGauges(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "partition" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// offsetsAre reports whether, for every partition of ends holding records, the committed
// offset gauge is its end, the lag 0 and the oldest uncommitted age 0.
func offsetsAre(t *testing.T, reg prometheus.Gatherer, ends map[int]int64) (bool, string) {
	committed := partitionGauges(t, reg, "lukhas_committed_offset")
	lag := partitionGauges(t, reg, "lukhas_consumer_lag")
	age := partitionGauges(t, reg, "lukhas_oldest_uncommitted_age_seconds")
	detail := fmt.Sprintf("ends %v committed %v lag %v age %v", ends, committed, lag, age)
	for p, end := range ends {
		if end == 0 {
			continue // nothing to commit: a group that never committed shows no offset
		}
		k := fmt.Sprint(p)
		if c, ok := committed[k]; !ok || int64(c) != end || lag[k] != 0 || age[k] != 0 {
			return false, detail
		}
		if _, ok := lag[k]; !ok {
			return false, detail
		}
	}
	return true, detail
}

// laneTraffic makes n messages with event times from base, one per 40 ms:
// each is a frame of its own.
func laneTraffic(lane schemas.Lane, gen *devstack.Synthetic, base time.Time, n int) []schemas.MatrizMessage {
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		out[i] = gen.Next(base.Add(time.Duration(i) * 40 * time.Millisecond))
	}
	return out
}

// TestOffsetGaugesFollowTheGroupsOffsets runs a lane on the embedded
// broker. Once it committed everything, each partition's committed offset
// gauge is the partition's end (the offset the group committed), its lag
// 0 and its oldest uncommitted age 0. Then the chain is held and more
// records arrive: the committed offsets stay, the age of the oldest
// record read and not committed grows, and the lag is what was not read
// yet (more than 0 where the held chain backs the reader up, never more
// than end - committed). Released, every figure returns to the new ends.
func TestOffsetGaugesFollowTheGroupsOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	sp.Lanes[lane].Decimate.Policy = "backpressure" // a held chain backs the reader up instead of dropping frames
	env := pipetest.Start(t, lane)
	messages := topics.Name(string(lane), topics.KindMessages)
	gen := devstack.NewSynthetic(lane, 11, 64)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	env.Produce(t, lane, laneTraffic(lane, gen, base, 300), nil)

	reg := prometheus.NewPedanticRegistry()
	m, err := observe.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	held, release := &atomic.Bool{}, make(chan struct{})
	var released atomic.Bool
	open := func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(open)
	counters := &observe.LaneCounters{}
	runLane(t, env, Config{Lane: lane, Spec: sp, Metrics: m, Counters: counters, CommitInterval: 200 * time.Millisecond,
		wrapStage: func(st stages.Stage) stages.Stage {
			if st.Name() != stages.StageRoute {
				return st
			}
			return gateStage{Stage: st, held: held, release: release}
		}})

	ends := env.Ends(t, messages)
	env.WaitCommitted(t, messages, GroupName("", lane), 2*time.Minute)
	var detail string
	clocktest.WaitFor(t, time.Minute, "every partition's gauges at its end offset, lag 0 and age 0", func() bool {
		ok, d := offsetsAre(t, reg, ends)
		detail = d
		return ok
	}, func() string { return detail })

	held.Store(true)
	in := counters.In.Load()
	env.Produce(t, lane, laneTraffic(lane, gen, base.Add(time.Minute), 3000), nil)
	clocktest.WaitFor(t, time.Minute, "the held lane read some new records", func() bool { return counters.In.Load() > in })
	var firstAge map[string]float64
	clocktest.WaitFor(t, time.Minute, "an oldest uncommitted age above 0", func() bool {
		firstAge = partitionGauges(t, reg, "lukhas_oldest_uncommitted_age_seconds")
		for _, a := range firstAge {
			if a > 0 {
				return true
			}
		}
		return false
	})
	clocktest.WaitFor(t, time.Minute, "the oldest uncommitted age growing while the chain is held", func() bool {
		for p, a := range partitionGauges(t, reg, "lukhas_oldest_uncommitted_age_seconds") {
			if firstAge[p] > 0 && a > firstAge[p] {
				return true
			}
		}
		return false
	})
	// More records while the reader is backed up and fetches nothing:
	// once the lane is still, each partition's lag is its end less the
	// next offset its worker reads, so over the partitions the lags add up
	// to every record written since the first phase's ends less the ones
	// the held lane read (lukhas_messages_in_total's count).
	env.Produce(t, lane, laneTraffic(lane, gen, base.Add(10*time.Minute), 1200), nil)
	newEnds := env.Ends(t, messages)
	var since int64
	for p, end := range newEnds {
		since += end - ends[p]
	}
	var committed, lag map[string]float64
	var lagSum, read int64
	clocktest.WaitFor(t, time.Minute, "the lags adding up to the records written while held less the ones read", func() bool {
		read = counters.In.Load() - in
		committed = partitionGauges(t, reg, "lukhas_committed_offset")
		lag = partitionGauges(t, reg, "lukhas_consumer_lag")
		lagSum = 0
		for _, l := range lag {
			lagSum += int64(l)
		}
		return lagSum == since-read && read == counters.In.Load()-in
	}, func() string {
		return fmt.Sprintf("lags %v add up to %d; %d written since, %d read", lag, lagSum, since, read)
	})
	t.Logf("held: ends %v → %v, committed %v, lag %v (Σ %d = %d written - %d read), oldest uncommitted age %v",
		ends, newEnds, committed, lag, lagSum, since, read, partitionGauges(t, reg, "lukhas_oldest_uncommitted_age_seconds"))
	for p, end := range newEnds {
		k := fmt.Sprint(p)
		if int64(committed[k]) != ends[p] {
			t.Errorf("partition %d: committed offset %v while held, want the earlier end %d", p, committed[k], ends[p])
		}
		if l := int64(lag[k]); l <= 0 || l > end-ends[p] {
			t.Errorf("partition %d: lag %d while held, want within 1..%d (end %d - committed %d)", p, l, end-ends[p], end, ends[p])
		}
	}
	if t.Failed() {
		return
	}

	open()
	env.WaitCommitted(t, messages, GroupName("", lane), 2*time.Minute)
	clocktest.WaitFor(t, time.Minute, "every partition's gauges at its new end, lag 0 and age 0", func() bool {
		ok, d := offsetsAre(t, reg, newEnds)
		detail = d
		return ok
	}, func() string { return detail })
}

// TestMetricsExpositionPassesPromtool runs a lane with traffic, scrapes
// its /metrics over HTTP and pipes it to `promtool check metrics`, which
// must print nothing; the registry passes client_golang's lint too.
func TestMetricsExpositionPassesPromtool(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane on the embedded broker (skipped with -short)")
	}
	promtool := pipetest.RequireTool(t, "promtool", "prometheus")
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	msgs := laneMessages(lane, 500, 3, 5*time.Second)
	env.Produce(t, lane, msgs, corruptValues(t, env, lane, 8))

	reg := observe.NewProcessRegistry()
	m, err := observe.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := observe.StartHTTP("127.0.0.1:0", reg, func() error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	counters := &observe.LaneCounters{}
	runLane(t, env, Config{Lane: lane, Metrics: m, Counters: counters, CommitInterval: 200 * time.Millisecond})
	env.WaitCommitted(t, topics.Name(string(lane), topics.KindMessages), GroupName("", lane), 2*time.Minute)
	clocktest.WaitFor(t, time.Minute, "the committed offset gauges", func() bool {
		return len(partitionGauges(t, reg, "lukhas_committed_offset")) > 0
	})

	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	for _, name := range []string{"lukhas_tick_duration_seconds_bucket", "lukhas_backlog_frames", "lukhas_fps", "lukhas_consumer_lag",
		"lukhas_committed_offset", "lukhas_oldest_uncommitted_age_seconds", "lukhas_approvals_waiting", "lukhas_router_publish_total", "lukhas_dlq_total"} {
		if !bytes.Contains(body, []byte("\n"+name+"{")) {
			t.Errorf("/metrics has no %s series", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}

// TestApprovalsWaitingGaugeCountsTheGuardiansWaitingActions: P0 actions
// wait on prod; the lane's approvals_waiting is the number of actions
// `matriz actions` lists as waiting, summed over the partitions, and falls
// to 0 once every one is approved and applied.
func TestApprovalsWaitingGaugeCountsTheGuardiansWaitingActions(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: P0 actions waiting on prod, then approved (skipped with -short)")
	}
	s := newReplayScenario(t, schemas.LaneProd)
	s.produce(0, 1000)
	m, err := observe.NewMetrics(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var counters observe.LaneCounters
	runLane(t, s.env, Config{Lane: s.lane, Spec: s.spec, Group: s.group, Getenv: s.getenv, Metrics: m, Counters: &counters, IdleAfter: 50 * time.Millisecond, CommitInterval: 200 * time.Millisecond})
	s.waitCommitted()
	acts, err := ops.ListActions(context.Background(), ops.ActionsConfig{Lane: s.lane, Brokers: s.env.Brokers, RegistryURL: s.env.RegistryURL})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, a := range acts {
		if a.Waiting() {
			listed = append(listed, a.ID)
		}
	}
	waiting := len(listed)
	if waiting == 0 {
		t.Fatal("no P0 action waits: the scenario does not exercise approvals")
	}
	gauge := m.ApprovalsWaiting.WithLabelValues(string(s.lane))
	clocktest.WaitFor(t, 30*time.Second, fmt.Sprintf("approvals_waiting at the %d waiting actions", waiting), func() bool {
		return testutil.ToFloat64(gauge) == float64(waiting)
	}, func() string { return fmt.Sprint(testutil.ToFloat64(gauge)) })
	// The live page lists the same actions by id, from the status counters.
	if ids := slices.Sorted(slices.Values(counters.Waiting())); !slices.Equal(ids, slices.Sorted(slices.Values(listed))) {
		t.Fatalf("the counters' waiting ids %v, want the ones matriz actions lists %v", ids, listed)
	}
	if n := s.approveWaiting(); n != waiting {
		t.Fatalf("approved %d, want %d", n, waiting)
	}
	clocktest.WaitFor(t, 30*time.Second, "approvals_waiting at 0 once all are approved", func() bool {
		return testutil.ToFloat64(gauge) == 0
	}, func() string { return fmt.Sprint(testutil.ToFloat64(gauge)) })
	if ids := counters.Waiting(); len(ids) != 0 {
		t.Fatalf("waiting ids %v after every approval", ids)
	}
	t.Logf("approvals_waiting went %d → 0 as the %d waiting P0 actions were approved", waiting, waiting)
}

// TestReleasedPartitionsSeriesAreDeleted: a lane alone in its group shows
// every partition's series; when a second member joins and takes some of
// them, the first member's /metrics keeps the series of exactly the
// partitions it still works, the others deleted rather than left stale.
func TestReleasedPartitionsSeriesAreDeleted(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: two members of a lane's group on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	messages := topics.Name(string(lane), topics.KindMessages)
	env.Produce(t, lane, laneMessages(lane, 600, 9, 2*time.Second), nil)
	reg := prometheus.NewPedanticRegistry()
	m, err := observe.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var gens []topics.GenerationInfo
	runLane(t, env, Config{Lane: lane, Metrics: m, CommitInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second,
		OnGeneration: func(g topics.GenerationInfo) {
			mu.Lock()
			gens = append(gens, g)
			mu.Unlock()
		}})
	env.WaitCommitted(t, messages, GroupName("", lane), 2*time.Minute)
	ends := env.Ends(t, messages)
	// partitionsShown are the partitions with a series of every
	// per-partition gauge.
	partitionsShown := func() []string {
		var common []string
		for i, name := range []string{"lukhas_backlog_frames", "lukhas_fps", "lukhas_consumer_lag", "lukhas_committed_offset", "lukhas_oldest_uncommitted_age_seconds"} {
			var ps []string
			for p := range partitionGauges(t, reg, name) {
				ps = append(ps, p)
			}
			slices.Sort(ps)
			if i > 0 && !slices.Equal(ps, common) {
				return append(ps, "(differs by gauge)")
			}
			common = ps
		}
		return common
	}
	owned := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ps []string
		if len(gens) > 0 {
			for _, p := range gens[len(gens)-1].Partitions[messages] {
				ps = append(ps, fmt.Sprint(p))
			}
		}
		slices.Sort(ps)
		return ps
	}
	clocktest.WaitFor(t, time.Minute, fmt.Sprintf("series of all %d partitions", len(ends)), func() bool {
		return len(partitionsShown()) == len(ends) && slices.Equal(partitionsShown(), owned())
	}, func() string { return fmt.Sprintf("shown %v, owned %v", partitionsShown(), owned()) })

	runLane(t, env, Config{Lane: lane, CommitInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second})
	clocktest.WaitFor(t, time.Minute, "the first member's series limited to the partitions it kept", func() bool {
		own := owned()
		return len(own) > 0 && len(own) < len(ends) && slices.Equal(partitionsShown(), own)
	}, func() string { return fmt.Sprintf("shown %v, owned %v", partitionsShown(), owned()) })
	t.Logf("after the second member joined, the first shows partitions %v of %d", partitionsShown(), len(ends))
}
