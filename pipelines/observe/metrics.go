package observe

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the lane runtime's Prometheus metrics, with the names of the
// MATRIZ plan. Every metric has a lane label; what differs by partition has
// a partition label too, and a partition's series are deleted when this
// process releases it (Lane.Forget), so no released partition's last value
// lingers. Every label takes its values from a bounded set. They register
// on the Registerer given to NewMetrics (no global registry: two pipelines
// in one test process never collide).
//
// Emitted metrics:
//
//	lukhas_messages_in_total{lane}                          messages consumed from matriz.<lane>.messages
//	lukhas_messages_out_total{lane}                         results acknowledged by Kafka
//	lukhas_dlq_total{lane,reason}                           records sent to matriz.<lane>.dlq
//	lukhas_tick_duration_seconds{lane}                      histogram of one frame's processing time; buckets at the lane budgets 0.033, 0.035, 0.05
//	lukhas_consciousness_frames_total{lane}                 frames processed
//	lukhas_backlog_frames{lane,partition}                   frames waiting in the partition's decimation ring
//	lukhas_fps{lane,partition}                              the partition tick's current frames per second
//	lukhas_late_messages_total{lane}                        messages that arrived after their frame closed
//	lukhas_decimated_frames_total{lane}                     frames dropped by decimation (still in the log)
//	lukhas_decimated_messages_total{lane}                   messages in the frames decimation dropped
//	lukhas_drift_ema{lane}                                  drift EMA across the lane's glyphs
//	lukhas_coherence{lane}                                  mean of cos(I,A)·c over the last W frames
//	lukhas_memory_circuit_breaks_total{lane}                fold-guard breaker trips
//	lukhas_breakthrough_flags_total{lane}                   breakthrough flags
//	lukhas_learned_ideas_total{lane}                        ideas folded into a glyph's learned centroid (LEARNING_ENABLED on)
//	lukhas_learn_refused_total{lane}                        ideas of new glyphs not learned: the partition held learn.max_glyphs
//	lukhas_learned_glyphs{lane}                             glyphs with a learned centroid, over the partitions this process works
//	lukhas_goal_changes_total{lane}                         goal events: goals the goals stage made or whose status, priority or parent changed
//	lukhas_goals_refused_total{lane}                        goals and subgoals not planned: the partition held goals.max_goals
//	lukhas_goals_open{lane}                                 goals proposed or active, over the partitions this process works
//	lukhas_router_publish_total{lane,topic}                 routing decisions by message topic: a registered topic, else "other"
//	lukhas_guardian_decisions_total{lane,outcome}           guardian decisions by outcome
//	lukhas_approvals_waiting{lane}                          actions waiting for a human approval
//	lukhas_consumer_lag{lane,partition}                     records between the high watermark and the next offset to read
//	lukhas_committed_offset{lane,partition}                 the offset last committed for the lane's group (the next to read)
//	lukhas_oldest_uncommitted_age_seconds{lane,partition}   age of the oldest record read and not committed (0 when none)
//	lukhas_stage_messages_total{lane,stage,dir}             per-stage received/sent (dir=in|out)
//	lukhas_stage_errors_total{lane,stage}                   per-stage failed records
//	lukhas_stage_duration_seconds{lane,stage}               per-stage latency per frame
type Metrics struct {
	MessagesIn        *prometheus.CounterVec
	MessagesOut       *prometheus.CounterVec
	DLQ               *prometheus.CounterVec
	TickDuration      *prometheus.HistogramVec
	Frames            *prometheus.CounterVec
	Backlog           *prometheus.GaugeVec
	FPS               *prometheus.GaugeVec
	Late              *prometheus.CounterVec
	Decimated         *prometheus.CounterVec
	DecimatedMessages *prometheus.CounterVec
	DriftEMA          *prometheus.GaugeVec
	Coherence         *prometheus.GaugeVec
	CircuitBreaks     *prometheus.CounterVec
	BreakthroughFlags *prometheus.CounterVec
	LearnedIdeas      *prometheus.CounterVec
	LearnRefused      *prometheus.CounterVec
	LearnedGlyphs     *prometheus.GaugeVec
	GoalChanges       *prometheus.CounterVec
	GoalsRefused      *prometheus.CounterVec
	GoalsOpen         *prometheus.GaugeVec
	RouterPublish     *prometheus.CounterVec
	GuardianDecisions *prometheus.CounterVec
	ApprovalsWaiting  *prometheus.GaugeVec
	ConsumerLag       *prometheus.GaugeVec
	CommittedOffset   *prometheus.GaugeVec
	UncommittedAge    *prometheus.GaugeVec
	StageMessages     *prometheus.CounterVec
	StageErrors       *prometheus.CounterVec
	StageDuration     *prometheus.HistogramVec
}

// Namespace prefixes every metric name: lukhas_<name>.
const Namespace = "lukhas"

// TopicOther is the router_publish_total topic label of every message
// topic no node is registered for: a producer writing arbitrary topics
// adds one series, not one per topic.
const TopicOther = "other"

// TickBuckets are lukhas_tick_duration_seconds' bucket bounds. The lane
// budgets are bounds of their own — 33 ms (one frame at 30 fps), 35 ms
// (the candidate lane's tick budget), 50 ms (experimental and prod) — so
// the share of frames within a budget is read exactly off its le bucket,
// not interpolated between neighbours.
var TickBuckets = []float64{.0005, .001, .0025, .005, .01, .02, .025, .03, .033, .035, .04, .05, .075, .1, .25, .5, 1}

func counter(name, help string, labels []string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

func gauge(name, help string, labels []string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

func histogram(name, help string, buckets []float64, labels []string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	lane := []string{"lane"}
	part := []string{"lane", "partition"}
	m := &Metrics{
		MessagesIn:        counter("messages_in_total", "Messages consumed from the lane's messages topic.", lane),
		MessagesOut:       counter("messages_out_total", "Results written to the lane's results topic and acknowledged by Kafka.", lane),
		DLQ:               counter("dlq_total", "Records sent to the lane's dead-letter queue, by reason.", []string{"lane", "reason"}),
		TickDuration:      histogram("tick_duration_seconds", "Processing time of one consciousness frame through the stage chain.", TickBuckets, lane),
		Frames:            counter("consciousness_frames_total", "Consciousness frames processed.", lane),
		Backlog:           gauge("backlog_frames", "Frames waiting in the partition's decimation ring.", part),
		FPS:               gauge("fps", "The partition's consciousness tick's current frames per second.", part),
		Late:              counter("late_messages_total", "Messages that arrived after their frame closed (sent to the late output).", lane),
		Decimated:         counter("decimated_frames_total", "Frames dropped by decimation; their offsets stay replayable in the log.", lane),
		DecimatedMessages: counter("decimated_messages_total", "Messages in the frames decimation dropped: read, not answered, accounted by offset in a decimation event.", lane),
		DriftEMA:          gauge("drift_ema", "Drift EMA (1 - cos(intent, action)) across the lane's glyphs.", lane),
		Coherence:         gauge("coherence", "Mean of cos(intent, action) times constraint satisfaction over the last frames.", lane),
		CircuitBreaks:     counter("memory_circuit_breaks_total", "Fold-guard circuit breaker trips.", lane),
		BreakthroughFlags: counter("breakthrough_flags_total", "Breakthrough flags raised.", lane),
		LearnedIdeas:      counter("learned_ideas_total", "Ideas folded into a glyph's learned centroid by the learn stage (LEARNING_ENABLED on).", lane),
		LearnRefused:      counter("learn_refused_total", "Ideas of new glyphs the learn stage did not learn: the partition held learn.max_glyphs glyphs.", lane),
		LearnedGlyphs:     gauge("learned_glyphs", "Glyphs with a learned centroid, over the partitions this process works.", lane),
		GoalChanges:       counter("goal_changes_total", "Goal events: goals the goals stage made or whose status, priority or parent changed.", lane),
		GoalsRefused:      counter("goals_refused_total", "Goals and subgoals the goals stage did not plan: the partition held goals.max_goals goals.", lane),
		GoalsOpen:         gauge("goals_open", "Goals proposed or active, over the partitions this process works.", lane),
		RouterPublish:     counter("router_publish_total", "Routing decisions by message topic: a topic the router has a node for, else other.", []string{"lane", "topic"}),
		GuardianDecisions: counter("guardian_decisions_total", "Guardian decisions by outcome.", []string{"lane", "outcome"}),
		ApprovalsWaiting:  gauge("approvals_waiting", "Actions waiting for a human approval, over the partitions this process works.", lane),
		ConsumerLag:       gauge("consumer_lag", "Records between the partition's high watermark and the next offset the lane reads.", part),
		CommittedOffset:   gauge("committed_offset", "The offset last committed for the lane's group: the next record to read.", part),
		UncommittedAge:    gauge("oldest_uncommitted_age_seconds", "Age of the oldest record read and not yet committed; 0 when none.", part),
		StageMessages:     counter("stage_messages_total", "Records a stage received (dir=in) and passed on live (dir=out).", []string{"lane", "stage", "dir"}),
		StageErrors:       counter("stage_errors_total", "Records a stage failed (sent to the DLQ).", []string{"lane", "stage"}),
		StageDuration:     histogram("stage_duration_seconds", "One stage's processing time for one frame.", []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}, []string{"lane", "stage"}),
	}
	for _, c := range []prometheus.Collector{
		m.MessagesIn, m.MessagesOut, m.DLQ, m.TickDuration, m.Frames, m.Backlog, m.FPS, m.Late,
		m.Decimated, m.DecimatedMessages, m.DriftEMA, m.Coherence, m.CircuitBreaks, m.BreakthroughFlags,
		m.LearnedIdeas, m.LearnRefused, m.LearnedGlyphs, m.GoalChanges, m.GoalsRefused, m.GoalsOpen,
		m.RouterPublish, m.GuardianDecisions, m.ApprovalsWaiting, m.ConsumerLag, m.CommittedOffset, m.UncommittedAge, m.StageMessages, m.StageErrors, m.StageDuration,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// InitLane creates the lane's series that have no label but lane at zero,
// so dashboards and alerts see them before the first event. Per-partition
// series appear with the partition's first report.
func (m *Metrics) InitLane(lane string) {
	m.MessagesIn.WithLabelValues(lane)
	m.MessagesOut.WithLabelValues(lane)
	m.TickDuration.WithLabelValues(lane)
	m.Frames.WithLabelValues(lane)
	m.Late.WithLabelValues(lane)
	m.Decimated.WithLabelValues(lane)
	m.DecimatedMessages.WithLabelValues(lane)
	m.DriftEMA.WithLabelValues(lane)
	m.Coherence.WithLabelValues(lane)
	m.CircuitBreaks.WithLabelValues(lane)
	m.BreakthroughFlags.WithLabelValues(lane)
	m.LearnedIdeas.WithLabelValues(lane)
	m.LearnRefused.WithLabelValues(lane)
	m.LearnedGlyphs.WithLabelValues(lane)
	m.GoalChanges.WithLabelValues(lane)
	m.GoalsRefused.WithLabelValues(lane)
	m.GoalsOpen.WithLabelValues(lane)
	m.ApprovalsWaiting.WithLabelValues(lane)
}

// NewProcessRegistry returns a registry with the Go runtime's and the
// process's collectors, for a process that serves /metrics.
func NewProcessRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
