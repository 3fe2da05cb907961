package observe

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the lane runtime's Prometheus metrics, with the names of the
// MATRIZ plan. Every metric has a lane label. They register on the
// Registerer given to NewMetrics (no global registry: two pipelines in one
// test process never collide).
//
// Emitted metrics:
//
//	lukhas_messages_in_total{lane}               messages consumed from matriz.<lane>.messages
//	lukhas_messages_out_total{lane}              results acknowledged by Kafka
//	lukhas_dlq_total{lane,reason}                records sent to matriz.<lane>.dlq
//	lukhas_tick_duration_seconds{lane}           histogram of one frame's processing time
//	lukhas_consciousness_frames_total{lane}      frames processed
//	lukhas_backlog_frames{lane}                  frames waiting in the decimation ring
//	lukhas_fps{lane}                             the tick's current frames per second
//	lukhas_late_messages_total{lane}             messages that arrived after their frame closed
//	lukhas_decimated_frames_total{lane}          frames dropped by decimation (still in the log)
//	lukhas_drift_ema{lane}                       drift EMA across the lane's glyphs
//	lukhas_coherence{lane}                       mean of cos(I,A)·c over the last W frames
//	lukhas_memory_circuit_breaks_total{lane}     fold-guard breaker trips
//	lukhas_breakthrough_flags_total{lane}        breakthrough flags
//	lukhas_router_publish_total{lane,topic}      routing decisions by message topic
//	lukhas_guardian_decisions_total{lane,outcome} guardian decisions by outcome
//	lukhas_stage_messages_total{lane,stage,dir}  per-stage received/sent (dir=in|out)
//	lukhas_stage_errors_total{lane,stage}        per-stage failed records
//	lukhas_stage_duration_seconds{lane,stage}    per-stage latency per frame
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
	DriftEMA          *prometheus.GaugeVec
	Coherence         *prometheus.GaugeVec
	CircuitBreaks     *prometheus.CounterVec
	BreakthroughFlags *prometheus.CounterVec
	RouterPublish     *prometheus.CounterVec
	GuardianDecisions *prometheus.CounterVec
	StageMessages     *prometheus.CounterVec
	StageErrors       *prometheus.CounterVec
	StageDuration     *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	lane := []string{"lane"}
	m := &Metrics{
		MessagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_messages_in_total", Help: "Messages consumed from the lane's messages topic.",
		}, lane),
		MessagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_messages_out_total", Help: "Results written to the lane's results topic and acknowledged by Kafka.",
		}, lane),
		DLQ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_dlq_total", Help: "Records sent to the lane's dead-letter queue, by reason.",
		}, []string{"lane", "reason"}),
		TickDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lukhas_tick_duration_seconds",
			Help:    "Processing time of one consciousness frame through the stage chain.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .0333, .05, .075, .1, .25, .5, 1},
		}, lane),
		Frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_consciousness_frames_total", Help: "Consciousness frames processed.",
		}, lane),
		Backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lukhas_backlog_frames", Help: "Frames waiting in the decimation ring.",
		}, lane),
		FPS: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lukhas_fps", Help: "The consciousness tick's current frames per second.",
		}, lane),
		Late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_late_messages_total", Help: "Messages that arrived after their frame closed (sent to the late output).",
		}, lane),
		Decimated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_decimated_frames_total", Help: "Frames dropped by decimation; their offsets stay replayable in the log.",
		}, lane),
		DriftEMA: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lukhas_drift_ema", Help: "Drift EMA (1 - cos(intent, action)) across the lane's glyphs.",
		}, lane),
		Coherence: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lukhas_coherence", Help: "Mean of cos(intent, action) times constraint satisfaction over the last frames.",
		}, lane),
		CircuitBreaks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_memory_circuit_breaks_total", Help: "Fold-guard circuit breaker trips.",
		}, lane),
		BreakthroughFlags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_breakthrough_flags_total", Help: "Breakthrough flags raised.",
		}, lane),
		RouterPublish: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_router_publish_total", Help: "Routing decisions by message topic.",
		}, []string{"lane", "topic"}),
		GuardianDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_guardian_decisions_total", Help: "Guardian decisions by outcome.",
		}, []string{"lane", "outcome"}),
		StageMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_stage_messages_total", Help: "Records a stage received (dir=in) and passed on live (dir=out).",
		}, []string{"lane", "stage", "dir"}),
		StageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lukhas_stage_errors_total", Help: "Records a stage failed (sent to the DLQ).",
		}, []string{"lane", "stage"}),
		StageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lukhas_stage_duration_seconds",
			Help:    "One stage's processing time for one frame.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"lane", "stage"}),
	}
	for _, c := range []prometheus.Collector{
		m.MessagesIn, m.MessagesOut, m.DLQ, m.TickDuration, m.Frames, m.Backlog, m.FPS, m.Late,
		m.Decimated, m.DriftEMA, m.Coherence, m.CircuitBreaks, m.BreakthroughFlags,
		m.RouterPublish, m.GuardianDecisions, m.StageMessages, m.StageErrors, m.StageDuration,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// InitLane creates the lane's unlabelled series at zero so dashboards and
// alerts see them before the first event.
func (m *Metrics) InitLane(lane string) {
	m.MessagesIn.WithLabelValues(lane)
	m.MessagesOut.WithLabelValues(lane)
	m.TickDuration.WithLabelValues(lane)
	m.Frames.WithLabelValues(lane)
	m.Backlog.WithLabelValues(lane)
	m.FPS.WithLabelValues(lane)
	m.Late.WithLabelValues(lane)
	m.Decimated.WithLabelValues(lane)
	m.DriftEMA.WithLabelValues(lane)
	m.Coherence.WithLabelValues(lane)
	m.CircuitBreaks.WithLabelValues(lane)
	m.BreakthroughFlags.WithLabelValues(lane)
}

// NewProcessRegistry returns a registry with the Go runtime's and the
// process's collectors, for a process that serves /metrics.
func NewProcessRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
