package observe

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

// TestTickBucketsReadTheLaneBudgetsExactly: 33, 35 and 50 ms are bucket
// bounds, so a frame of 34 ms counts under le="0.035" and not under
// le="0.033", and "the share under 35 ms" needs no interpolation.
func TestTickBucketsReadTheLaneBudgetsExactly(t *testing.T) {
	obs, reg := newLane(t)
	for _, d := range []time.Duration{20 * time.Millisecond, 34 * time.Millisecond, 34 * time.Millisecond, 45 * time.Millisecond, 60 * time.Millisecond} {
		obs.Frame(&stages.Frame{}, d, false, 0, 30)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	cumulative := map[float64]uint64{}
	for _, mf := range families {
		if mf.GetName() != "lukhas_tick_duration_seconds" {
			continue
		}
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			cumulative[b.GetUpperBound()] = b.GetCumulativeCount()
		}
	}
	for bound, want := range map[float64]uint64{0.033: 1, 0.035: 3, 0.05: 4} {
		got, ok := cumulative[bound]
		if !ok {
			t.Errorf("no bucket le=%v; buckets %v", bound, cumulative)
			continue
		}
		if got != want {
			t.Errorf("le=%v holds %d frames, want %d", bound, got, want)
		}
	}
}

// TestPartitionGaugesKeepEachPartitionsValue: two partitions reporting
// different backlogs and rates each keep their own series; the second
// report does not overwrite the first.
func TestPartitionGaugesKeepEachPartitionsValue(t *testing.T) {
	obs, _ := newLane(t)
	m := obs.Metrics()
	obs.Frame(&stages.Frame{Partition: 0}, time.Millisecond, false, 7, 30)
	obs.Frame(&stages.Frame{Partition: 1}, time.Millisecond, false, 2, 15)
	want := `
# HELP lukhas_backlog_frames Frames waiting in the partition's decimation ring.
# TYPE lukhas_backlog_frames gauge
lukhas_backlog_frames{lane="prod",partition="0"} 7
lukhas_backlog_frames{lane="prod",partition="1"} 2
# HELP lukhas_fps The partition's consciousness tick's current frames per second.
# TYPE lukhas_fps gauge
lukhas_fps{lane="prod",partition="0"} 30
lukhas_fps{lane="prod",partition="1"} 15
`
	if err := testutil.CollectAndCompare(multi{m.Backlog, m.FPS}, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestForgetDeletesTheReleasedPartitionsSeries: a released partition's
// series are deleted, the other partition's stay, its waiting approvals
// leave the lane's sum, and a report its ending work still makes does not
// bring them back until it is claimed again.
func TestForgetDeletesTheReleasedPartitionsSeries(t *testing.T) {
	obs, _ := newLane(t)
	m := obs.Metrics()
	perPartition := []*prometheus.GaugeVec{m.Backlog, m.FPS, m.ConsumerLag, m.CommittedOffset, m.UncommittedAge}
	report := func(p int32) {
		obs.Frame(&stages.Frame{Partition: p}, time.Millisecond, false, 1, 30)
		obs.Offsets(p, 5, time.Second)
		obs.Committed(p, 100)
		obs.ApprovalsWaiting(p, []string{"a" + partitionLabel(p), "b" + partitionLabel(p)})
	}
	count := func() (n int) {
		for _, g := range perPartition {
			n += testutil.CollectAndCount(g)
		}
		return n
	}
	waiting := m.ApprovalsWaiting.WithLabelValues("prod")
	report(0)
	report(1)
	if n, w := count(), testutil.ToFloat64(waiting); n != 10 || w != 4 {
		t.Fatalf("two partitions: %d per-partition series, %v waiting; want 10 and 4", n, w)
	}
	obs.Forget(1)
	if n, w := count(), testutil.ToFloat64(waiting); n != 5 || w != 2 {
		t.Fatalf("after Forget(1): %d series, %v waiting; want 5 and 2", n, w)
	}
	for i, g := range perPartition {
		// Counted before WithLabelValues, which would create a missing series.
		if testutil.CollectAndCount(g) != 1 || testutil.ToFloat64(g.WithLabelValues("prod", "0")) == 0 {
			t.Fatalf("per-partition gauge %d: partition 0's series went with partition 1's", i)
		}
	}
	report(0)
	report(1) // the released partition's ending work
	if n, w := count(), testutil.ToFloat64(waiting); n != 5 || w != 2 {
		t.Fatalf("a released partition's late report: %d series, %v waiting; want 5 and 2", n, w)
	}
	obs.Claimed(1)
	report(1)
	if n, w := count(), testutil.ToFloat64(waiting); n != 10 || w != 4 {
		t.Fatalf("partition 1 claimed again: %d series, %v waiting; want 10 and 4", n, w)
	}
}

// TestRouterPublishTopicsAreBounded runs the lanes' router over a
// producer's 1,000 distinct topics: router_publish_total gets at most one
// series per registered topic and one "other", and counts every decision.
func TestRouterPublishTopicsAreBounded(t *testing.T) {
	// The lane's routes, registered as the spec's chain does.
	router, err := stages.NewRouter()
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]stages.Node{}
	for _, n := range adapters.All() {
		nodes[n.Name()] = n
	}
	for topic, node := range adapters.DefaultRoutes() {
		if err := router.Register(topic, nodes[node]); err != nil {
			t.Fatal(err)
		}
	}
	registered := router.Topics()
	if len(registered) == 0 {
		t.Fatal("the lane's router has no registered topic")
	}
	var recs []stages.Record
	for i := range 1000 {
		recs = append(recs, stages.Record{Msg: &schemas.MatrizMessage{MsgID: fmt.Sprintf("m%d", i), Lane: schemas.LaneProd, Topic: fmt.Sprintf("made-up-%d", i)}})
	}
	for i, topic := range registered {
		recs = append(recs, stages.Record{Msg: &schemas.MatrizMessage{MsgID: fmt.Sprintf("r%d", i), Lane: schemas.LaneProd, Topic: topic}})
	}
	f := &stages.Frame{Lane: schemas.LaneProd, Records: recs}
	if err := router.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	obs, _ := newLane(t)
	obs.Frame(f, time.Millisecond, false, 0, 30)
	m := obs.Metrics()
	if n := testutil.CollectAndCount(m.RouterPublish); n > len(registered)+1 {
		t.Fatalf("%d router_publish_total series for %d registered topics and 1,000 made-up ones; want at most %d", n, len(registered), len(registered)+1)
	}
	if got := testutil.ToFloat64(m.RouterPublish.WithLabelValues("prod", TopicOther)); got != 1000 {
		t.Fatalf("other = %v, want 1000", got)
	}
	for _, topic := range registered {
		if got := testutil.ToFloat64(m.RouterPublish.WithLabelValues("prod", topic)); got != 1 {
			t.Fatalf("registered topic %q = %v, want 1", topic, got)
		}
	}
	if n := testutil.CollectAndCount(m.RouterPublish); n != len(registered)+1 {
		t.Fatalf("%d series after reading every registered topic, want %d", n, len(registered)+1)
	}
}

// TestOffsetGaugesTakeTheReportedFigures: lag, committed offset and age
// are what the runtime reports; a lag not known yet (-1) is not shown as
// a figure, and a negative age reads 0.
func TestOffsetGaugesTakeTheReportedFigures(t *testing.T) {
	obs, _ := newLane(t)
	m := obs.Metrics()
	obs.Offsets(3, -1, -time.Second)
	if n := testutil.CollectAndCount(m.ConsumerLag); n != 0 {
		t.Fatalf("an unknown lag made %d series", n)
	}
	if got := testutil.ToFloat64(m.UncommittedAge.WithLabelValues("prod", "3")); got != 0 {
		t.Fatalf("age %v, want 0", got)
	}
	obs.Offsets(3, 42, 1500*time.Millisecond)
	obs.Committed(3, 1234)
	for name, c := range map[string]struct{ got, want float64 }{
		"lag":       {testutil.ToFloat64(m.ConsumerLag.WithLabelValues("prod", "3")), 42},
		"age":       {testutil.ToFloat64(m.UncommittedAge.WithLabelValues("prod", "3")), 1.5},
		"committed": {testutil.ToFloat64(m.CommittedOffset.WithLabelValues("prod", "3")), 1234},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// multi collects several collectors as one.
type multi []prometheus.Collector

func (ms multi) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range ms {
		m.Describe(ch)
	}
}

func (ms multi) Collect(ch chan<- prometheus.Metric) {
	for _, m := range ms {
		m.Collect(ch)
	}
}

// TestLearnCountsWhatEachReportAddsAndSumsGlyphs: the counters add each
// report's learned and refused ideas; the glyphs gauge is the sum of each
// worked partition's last figure, and a released partition leaves it
// (a late report from its ending work does not bring it back).
func TestLearnCountsWhatEachReportAddsAndSumsGlyphs(t *testing.T) {
	obs, _ := newLane(t)
	m, lane := obs.Metrics(), "prod"
	obs.Learn(0, 5, 0, 3)
	obs.Learn(1, 2, 1, 4)
	obs.Learn(0, 1, 0, 3)
	check := func(when string, learned, refused, glyphs float64) {
		t.Helper()
		if got := testutil.ToFloat64(m.LearnedIdeas.WithLabelValues(lane)); got != learned {
			t.Errorf("%s: learned ideas %v, want %v", when, got, learned)
		}
		if got := testutil.ToFloat64(m.LearnRefused.WithLabelValues(lane)); got != refused {
			t.Errorf("%s: refused %v, want %v", when, got, refused)
		}
		if got := testutil.ToFloat64(m.LearnedGlyphs.WithLabelValues(lane)); got != glyphs {
			t.Errorf("%s: learned glyphs %v, want %v", when, got, glyphs)
		}
	}
	check("two partitions", 8, 1, 7)
	obs.Forget(1)
	check("partition 1 released", 8, 1, 3)
	obs.Learn(1, 0, 0, 4)
	check("a late report of the released partition", 8, 1, 3)
	obs.Claimed(1)
	obs.Learn(1, 0, 0, 4)
	check("partition 1 claimed again", 8, 1, 7)
}

// TestGoalsCountsWhatEachReportAddsAndSumsOpenGoals: the counters add each
// report's goal events and refused goals; the open-goals gauge is the sum
// of each worked partition's last figure, and a released partition leaves
// it until it is claimed again.
func TestGoalsCountsWhatEachReportAddsAndSumsOpenGoals(t *testing.T) {
	obs, _ := newLane(t)
	m, lane := obs.Metrics(), "prod"
	obs.Goals(0, 4, 0, 3)
	obs.Goals(1, 2, 1, 2)
	obs.Goals(0, 1, 0, 2)
	check := func(when string, changes, refused, open float64) {
		t.Helper()
		if got := testutil.ToFloat64(m.GoalChanges.WithLabelValues(lane)); got != changes {
			t.Errorf("%s: goal changes %v, want %v", when, got, changes)
		}
		if got := testutil.ToFloat64(m.GoalsRefused.WithLabelValues(lane)); got != refused {
			t.Errorf("%s: refused %v, want %v", when, got, refused)
		}
		if got := testutil.ToFloat64(m.GoalsOpen.WithLabelValues(lane)); got != open {
			t.Errorf("%s: open goals %v, want %v", when, got, open)
		}
	}
	check("two partitions", 7, 1, 4)
	obs.Forget(1)
	check("partition 1 released", 7, 1, 2)
	obs.Goals(1, 0, 0, 2)
	check("a late report of the released partition", 7, 1, 2)
	obs.Claimed(1)
	obs.Goals(1, 0, 0, 5)
	check("partition 1 claimed again", 7, 1, 7)
}
