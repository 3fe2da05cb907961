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

// Namespace prefixes every metric name: lukhas_<name>.
const Namespace = "lukhas"

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
	m := &Metrics{
		MessagesIn:        counter("messages_in_total", "Messages consumed from the lane's messages topic.", lane),
		MessagesOut:       counter("messages_out_total", "Results written to the lane's results topic and acknowledged by Kafka.", lane),
		DLQ:               counter("dlq_total", "Records sent to the lane's dead-letter queue, by reason.", []string{"lane", "reason"}),
		TickDuration:      histogram("tick_duration_seconds", "Processing time of one consciousness frame through the stage chain.", []float64{.0005, .001, .0025, .005, .01, .02, .0333, .05, .075, .1, .25, .5, 1}, lane),
		Frames:            counter("consciousness_frames_total", "Consciousness frames processed.", lane),
		Backlog:           gauge("backlog_frames", "Frames waiting in the decimation ring.", lane),
		FPS:               gauge("fps", "The consciousness tick's current frames per second.", lane),
		Late:              counter("late_messages_total", "Messages that arrived after their frame closed (sent to the late output).", lane),
		Decimated:         counter("decimated_frames_total", "Frames dropped by decimation; their offsets stay replayable in the log.", lane),
		DriftEMA:          gauge("drift_ema", "Drift EMA (1 - cos(intent, action)) across the lane's glyphs.", lane),
		Coherence:         gauge("coherence", "Mean of cos(intent, action) times constraint satisfaction over the last frames.", lane),
		CircuitBreaks:     counter("memory_circuit_breaks_total", "Fold-guard circuit breaker trips.", lane),
		BreakthroughFlags: counter("breakthrough_flags_total", "Breakthrough flags raised.", lane),
		RouterPublish:     counter("router_publish_total", "Routing decisions by message topic.", []string{"lane", "topic"}),
		GuardianDecisions: counter("guardian_decisions_total", "Guardian decisions by outcome.", []string{"lane", "outcome"}),
		StageMessages:     counter("stage_messages_total", "Records a stage received (dir=in) and passed on live (dir=out).", []string{"lane", "stage", "dir"}),
		StageErrors:       counter("stage_errors_total", "Records a stage failed (sent to the DLQ).", []string{"lane", "stage"}),
		StageDuration:     histogram("stage_duration_seconds", "One stage's processing time for one frame.", []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}, []string{"lane", "stage"}),
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
