package observe

// This file exports what one processed frame tells: the tick's own figures
// (duration, frames, fps, backlog) and the stages' domain numbers, read from
// what the frame carries (events, verdicts, routes) and from the stages'
// plain-value stats; and what the runtime knows of each partition's
// offsets. The stages themselves know no Prometheus.

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Lane is one lane's view of the metrics and status counters: the runtime's
// partition workers report every frame through it.
type Lane struct {
	lane     schemas.Lane
	metrics  *Metrics
	counters *LaneCounters

	mu      sync.Mutex
	drift   map[int32]stages.DriftStats // the last figures of each partition this process works
	waiting map[int32][]string          // each partition's actions waiting for an approval, oldest first
	glyphs  partitionSum                // glyphs with a learned centroid, per partition
	goals   partitionSum                // open goals (proposed or active), per partition
	// released are the partitions Forget deleted the series of: a report
	// still coming from their ending work does not bring them back, until
	// the partition is Claimed again.
	released map[int32]bool
}

// NewLane returns the observer of lane, creating its series at zero.
func NewLane(lane schemas.Lane, m *Metrics, c *LaneCounters) *Lane {
	m.InitLane(string(lane))
	return &Lane{lane: lane, metrics: m, counters: c,
		drift: map[int32]stages.DriftStats{}, waiting: map[int32][]string{}, released: map[int32]bool{},
		glyphs: newPartitionSum(m.LearnedGlyphs.WithLabelValues(string(lane))),
		goals:  newPartitionSum(m.GoalsOpen.WithLabelValues(string(lane)))}
}

// partitionSum is a lane gauge that shows the sum of the values the
// partitions this process works last reported; its owner's mutex guards
// it.
type partitionSum struct {
	per   map[int32]int
	gauge prometheus.Gauge
}

func newPartitionSum(g prometheus.Gauge) partitionSum {
	return partitionSum{per: map[int32]int{}, gauge: g}
}

// set records partition's value and shows the sum.
func (p partitionSum) set(partition int32, v int) {
	p.per[partition] = v
	p.show()
}

// forget drops partition's value and shows the sum.
func (p partitionSum) forget(partition int32) {
	delete(p.per, partition)
	p.show()
}

func (p partitionSum) show() {
	n := 0
	for _, v := range p.per {
		n += v
	}
	p.gauge.Set(float64(n))
}

// partitionLabel is a partition's label value.
func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }

// setPartition runs set with the lane's and partition's label values,
// unless the partition was released.
func (o *Lane) setPartition(partition int32, set func(lane, part string)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.released[partition] {
		set(string(o.lane), partitionLabel(partition))
	}
}

// Metrics returns the metrics the lane reports to.
func (o *Lane) Metrics() *Metrics { return o.metrics }

// Counters returns the lane's status counters.
func (o *Lane) Counters() *LaneCounters { return o.counters }

// Frame records one processed frame of partition f.Partition: d is the
// chain's time on it, late whether it is a late record's frame of its own
// (not a tick frame), backlog the frames waiting in the partition's
// decimation ring, fps the partition tick's rate.
func (o *Lane) Frame(f *stages.Frame, d time.Duration, late bool, backlog, fps int) {
	m, lane, c := o.metrics, string(o.lane), o.counters
	if !late {
		m.TickDuration.WithLabelValues(lane).Observe(d.Seconds())
		m.Frames.WithLabelValues(lane).Inc()
		c.p95.add(d)
	}
	o.Tick(f.Partition, backlog, fps)
	c.FPS.Store(int64(fps))
	for i := range f.Records {
		r := &f.Records[i]
		if r.Route != nil {
			m.RouterPublish.WithLabelValues(lane, routeTopic(r.Route)).Inc()
		}
		if r.Verdict != nil {
			m.GuardianDecisions.WithLabelValues(lane, string(r.Verdict.Outcome)).Inc()
			if r.Verdict.Outcome == stages.OutcomeDeny {
				c.Denials.Add(1)
			}
		}
	}
	for _, ev := range f.Events {
		switch ev.Kind {
		case schemas.EventCircuitBreak:
			m.CircuitBreaks.WithLabelValues(lane).Inc()
			c.Breaks.Add(1)
		case schemas.EventBreakthrough:
			m.BreakthroughFlags.WithLabelValues(lane).Inc()
			c.Breakthroughs.Add(1)
		case schemas.EventDecimation:
			// One event per dropped frame; "records" is how many inputs
			// it held.
			m.Decimated.WithLabelValues(lane).Inc()
			if n, ok := ev.Payload.Int("records"); ok {
				m.DecimatedMessages.WithLabelValues(lane).Add(float64(n))
			}
		}
	}
}

// Tick records partition's decimation backlog and tick rate. Frame does,
// and the runtime at every commit interval too, so a partition idle since
// it was claimed shows them.
func (o *Lane) Tick(partition int32, backlog, fps int) {
	m := o.metrics
	o.setPartition(partition, func(lane, part string) {
		m.Backlog.WithLabelValues(lane, part).Set(float64(backlog))
		m.FPS.WithLabelValues(lane, part).Set(float64(fps))
	})
}

// routeTopic is a route's topic label: the message topic when the router
// has a node registered for it (the route names that node), else
// TopicOther. So the label's values are the router's registered topics and
// one more, whatever topics producers write.
func routeTopic(r *stages.Route) string {
	if r.Node == "" {
		return TopicOther
	}
	return r.Topic
}

// Late counts a record that arrived after its frame closed.
func (o *Lane) Late() { o.metrics.Late.WithLabelValues(string(o.lane)).Inc() }

// MessageIn counts a record consumed from the lane's messages topic.
func (o *Lane) MessageIn() {
	o.counters.In.Add(1)
	o.metrics.MessagesIn.WithLabelValues(string(o.lane)).Inc()
}

// ResultWritten counts a result Kafka acknowledged.
func (o *Lane) ResultWritten() {
	o.counters.Out.Add(1)
	o.metrics.MessagesOut.WithLabelValues(string(o.lane)).Inc()
}

// DLQWritten counts a DLQ record Kafka acknowledged, by reason.
func (o *Lane) DLQWritten(reason string) {
	o.counters.DLQ.Add(1)
	o.metrics.DLQ.WithLabelValues(string(o.lane), reason).Inc()
}

// Drift records partition's drift figures and sets the lane's gauges to
// the figures pooled over every partition this process works.
func (o *Lane) Drift(partition int32, s stages.DriftStats) {
	o.mu.Lock()
	if !o.released[partition] {
		o.drift[partition] = s
	}
	parts := make([]stages.DriftStats, 0, len(o.drift))
	for _, d := range o.drift {
		parts = append(parts, d)
	}
	o.mu.Unlock()
	pooled := stages.PoolDriftStats(o.lane, parts)
	o.metrics.DriftEMA.WithLabelValues(string(o.lane)).Set(pooled.EMA)
	o.metrics.Coherence.WithLabelValues(string(o.lane)).Set(pooled.Coherence)
	o.counters.SetDriftEMA(pooled.EMA)
}

// Learn records partition's learning since its last report: learned ideas
// folded into centroids, refused ideas of new glyphs past max_glyphs, and
// glyphs, how many have a centroid now.
func (o *Lane) Learn(partition int32, learned, refused uint64, glyphs int) {
	lane := string(o.lane)
	o.metrics.LearnedIdeas.WithLabelValues(lane).Add(float64(learned))
	o.metrics.LearnRefused.WithLabelValues(lane).Add(float64(refused))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released[partition] {
		return
	}
	o.glyphs.set(partition, glyphs)
}

// Goals records partition's goal figures since its last report: goal
// events made and goals refused past max_goals, and open, how many of its
// goals are proposed or active now.
func (o *Lane) Goals(partition int32, changes, refused uint64, open int) {
	lane := string(o.lane)
	o.metrics.GoalChanges.WithLabelValues(lane).Add(float64(changes))
	o.metrics.GoalsRefused.WithLabelValues(lane).Add(float64(refused))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released[partition] {
		return
	}
	o.goals.set(partition, open)
}

// Offsets records partition's consumer figures: lag, the records between
// its high watermark and the next offset to read (negative: not known yet,
// left unset), and age, how long the oldest record read and not committed
// has waited (0 when none).
func (o *Lane) Offsets(partition int32, lag int64, age time.Duration) {
	m := o.metrics
	o.setPartition(partition, func(lane, part string) {
		if lag >= 0 {
			m.ConsumerLag.WithLabelValues(lane, part).Set(float64(lag))
		}
		m.UncommittedAge.WithLabelValues(lane, part).Set(max(age, 0).Seconds())
	})
}

// Committed records that next (the offset of the next record to read) is
// partition's committed offset for the lane's group.
func (o *Lane) Committed(partition int32, next int64) {
	o.setPartition(partition, func(lane, part string) {
		o.metrics.CommittedOffset.WithLabelValues(lane, part).Set(float64(next))
	})
}

// ApprovalsWaiting records the ids of partition's actions waiting for a
// human approval (ids is the caller's to give away), sets the lane's gauge
// to the sum over the partitions this process works, and hands the ids to
// the status counters, where the live page lists them with the command
// that approves each.
func (o *Lane) ApprovalsWaiting(partition int32, ids []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released[partition] {
		return
	}
	o.waiting[partition] = ids
	o.setWaitingLocked()
}

// setWaitingLocked sets the lane's approvals gauge and the counters' list,
// by partition, each oldest first; o.mu is held.
func (o *Lane) setWaitingLocked() {
	parts := slices.Sorted(maps.Keys(o.waiting))
	var ids []string
	for _, p := range parts {
		ids = append(ids, o.waiting[p]...)
	}
	o.metrics.ApprovalsWaiting.WithLabelValues(string(o.lane)).Set(float64(len(ids)))
	if o.counters != nil {
		o.counters.setWaiting(ids)
	}
}

// Claimed marks partition as worked by this process (again): its reports
// create its series.
func (o *Lane) Claimed(partition int32) {
	o.mu.Lock()
	delete(o.released, partition)
	o.mu.Unlock()
}

// Forget is called when this process releases partition: its figures
// leave the pooled gauges and its per-partition series are deleted, so
// /metrics does not go on showing a partition another member now works;
// reports still coming from its ending work are ignored until it is
// Claimed again.
func (o *Lane) Forget(partition int32) {
	m := o.metrics
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.drift, partition)
	delete(o.waiting, partition)
	o.released[partition] = true
	lane, part := string(o.lane), partitionLabel(partition)
	for _, g := range []*prometheus.GaugeVec{m.Backlog, m.FPS, m.ConsumerLag, m.CommittedOffset, m.UncommittedAge} {
		g.DeleteLabelValues(lane, part)
	}
	o.setWaitingLocked()
	o.glyphs.forget(partition)
	o.goals.forget(partition)
}
