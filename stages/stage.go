// Package stages holds the MATRIZ stage chain as pure logic over frames:
// no Kafka, no HTTP, no Prometheus. The runtime builds a lane's chain once
// per partition from a ChainFactory (like goka's processor per partition),
// feeds the partition's frames in, observes each stage from outside, and
// writes what the frame emits to the lane topics.
//
// A frame is one tick's messages of one partition. A stage annotates the
// frame's records (dropped, routed, answered, scored, allowed or denied) and
// appends the events, traces and action previews it emits. A stage never
// changes a record's input message: replay and the conformance suite
// compare inputs before and after. A stage that gives the routed node
// more than the input (learn) sets Record.NodeMsg, a copy.
//
// A stage that keeps state across frames (learn, drift, fold-guard,
// breakthrough, guardian, goals) is Stateful: one instance holds one partition's
// state, so it needs no lock and a partition's results never depend on
// which worker holds it. Its state has one versioned encoding (snapshot.go) that the
// runtime writes to the lane's changelog.
package stages

import (
	"context"
	"crypto/sha1"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/schemas"
)

// Stage is one named step of the chain.
//
// Process annotates f in place and returns an error only when the whole
// frame cannot be processed (its context ended); a problem with one message
// is recorded on that record (see Record.Fail) and processing goes on.
// Process must be deterministic: the same frames in the same order, with
// the same configuration and seed, give the same annotations.
type Stage interface {
	Name() string
	Process(ctx context.Context, f *Frame) error
}

// Stateful is a stage instance that keeps the state of the one partition it
// works; PerPartition makes a fresh one for every partition. The runtime
// writes Snapshot to the lane's changelog, restores a
// fresh instance when the partition is assigned, and drops the instance
// when it is revoked.
type Stateful interface {
	Stage
	// Snapshot returns the state in the snapshot encoding (snapshot.go), or
	// nil when there is no state yet.
	Snapshot() ([]byte, error)
	// Restore replaces the state with a snapshot; empty state resets it to
	// empty. A snapshot it refuses leaves the state as it was, and the error
	// wraps ErrSnapshot.
	Restore(state []byte) error
}

// Flags are the feature flags and kill switches in force for one frame.
// The runtime reads them from env/config at start and from matriz.control
// while running, and stamps each frame with the values in force, so a
// change takes effect at the next frame and replays are reproducible.
type Flags struct {
	Dispatch   bool // DISPATCH_ENABLED: the router calls nodes instead of only logging
	Learning   bool // LEARNING_ENABLED: stages may update learned state (centroids, baselines)
	ExtActions bool // EXT_ACTIONS_ENABLED: guardian may execute approved external actions
	Canary     bool // CANARY_ENABLED: a lane with a canary runs it in shadow beside its chain
}

// Frame is one tick of one partition: the messages whose event time falls in
// [Start, End), plus everything the stages emit while working on them.
type Frame struct {
	Lane      schemas.Lane
	Partition int32
	Seq       int64 // frame index since the Unix epoch at FPS: frame n is [⌊n·1s/FPS⌋, ⌊(n+1)·1s/FPS⌋); stable across replays
	Start     time.Time
	End       time.Time
	FPS       int
	Flags     Flags
	// Replay marks a frame a replaying runtime built from the log: stages
	// decide exactly as live, but nothing reaches outside the pipeline (the
	// guardian never calls its Executor; see Guardian).
	Replay  bool
	Records []Record

	// Through is the offset of the last input the tick had read when it
	// emitted the frame: the point of the partition's log the frame
	// belongs to, which a restart uses to tell frames it re-decides from
	// frames an earlier run already decided.
	Through int64
	// Approvals, when set, is what the guardian asks for this frame instead
	// of its configured Approvals: the runtime applies approvals per
	// partition at frame boundaries, so a replay sees them at the same
	// frames.
	Approvals Approvals
	// Cut is opaque to stages: the runtime's operators attach the tick's
	// window state to a frame here when a checkpoint is taken at it.
	Cut any

	Events  []schemas.Event // to matriz.<lane>.events
	Traces  []schemas.Trace // to matriz.<lane>.traces
	Actions []schemas.Event // action previews and executions, to matriz.<lane>.actions
}

// Record is one input message in a frame with its Kafka coordinates and the
// annotations stages put on it.
type Record struct {
	Partition int32
	Offset    int64
	Msg       *schemas.MatrizMessage // the input; stages never modify it
	// NodeMsg, when set, is the message the adapter hands the routed node
	// instead of Msg: a stage before adapter gave the node more to work
	// with (learn adds the glyph's learned centroid). It is a copy of Msg
	// with a payload map of its own; Msg stays the input, unchanged, and
	// is what results, events, traces and replays describe.
	NodeMsg *schemas.MatrizMessage

	// Result is the one answer the runtime writes for this message to
	// matriz.<lane>.results. Stages create it (route) and annotate it.
	Result *schemas.MatrizResult

	Late       bool // arrived after its frame closed
	Dropped    bool // filtered out; DropReason says why; no result is written
	DropReason string

	// Route is the router's decision for this message (set by route).
	Route *Route
	// Scores are the numbers stages computed for this message, by name:
	// ScoreDrift, ScoreDriftEMA, ScoreCoherence, ScoreBreakthroughZ, ...
	// Later stages read them (the guardian's max_drift reads ScoreDriftEMA).
	Scores map[string]float64
	// Verdict is the guardian's decision (set by guardian).
	Verdict *Verdict

	// Failure, when set, sends the original bytes to matriz.<lane>.dlq with
	// the stage and reason in headers instead of writing a result.
	Failure *Failure
}

// Failure is why a record goes to the dead-letter queue.
type Failure struct {
	Stage  string
	Reason string
	// Err, when set, is the failure as a value (see FailErr): a
	// *PanicError, a *StageError.
	Err error
}

// Fail marks r for the DLQ. The first failure wins: later stages skip
// failed records, and the first reason is the one that explains it.
func (r *Record) Fail(stage, reason string) {
	if r.Failure == nil {
		r.Failure = &Failure{Stage: stage, Reason: reason}
	}
}

// Live reports whether later stages should still work on r.
func (r *Record) Live() bool { return !r.Dropped && r.Failure == nil }

// NodeInput returns the message the routed node is to handle: NodeMsg when
// a stage set it, else the input.
func (r *Record) NodeInput() *schemas.MatrizMessage {
	if r.NodeMsg != nil {
		return r.NodeMsg
	}
	return r.Msg
}

// Route is where the SymbolicMeshRouter sends a message.
type Route struct {
	Topic    string
	Node     string // empty when no node is registered for Topic
	Dispatch bool   // the node is called (DISPATCH_ENABLED), not only logged
}

// Names of the scores stages put on records.
const (
	ScoreDrift         = "drift"          // 1 - cos(intent, action) of this message
	ScoreDriftEMA      = "drift_ema"      // the glyph's drift EMA after this message
	ScoreCoherence     = "coherence"      // mean of cos(I,A)·c over the last W frames
	ScoreBreakthrough  = "breakthrough"   // the breakthrough score of this message
	ScoreBreakthroughZ = "breakthrough_z" // its z-score against the running mean
)

// SetScore records a named score on r.
func (r *Record) SetScore(name string, v float64) {
	if r.Scores == nil {
		r.Scores = make(map[string]float64, 4)
	}
	r.Scores[name] = v
}

// Score returns a named score and whether it was set.
func (r *Record) Score(name string) (float64, bool) {
	v, ok := r.Scores[name]
	return v, ok
}

// Outcome is what the guardian decided for a message.
type Outcome string

// Guardian outcomes.
const (
	OutcomeAllow    Outcome = "allow"    // no external action, or an action within policy
	OutcomeDeny     Outcome = "deny"     // refused: policy, consent or lane guard
	OutcomeDryRun   Outcome = "dry_run"  // would act, but the lane runs dry
	OutcomePending  Outcome = "pending"  // previewed, waiting for approval
	OutcomeExecuted Outcome = "executed" // approved and executed
	// OutcomeUncertain: an earlier attempt started the action and left no
	// outcome (the process died during the call), so it is not called again
	// and a human must check the external system.
	OutcomeUncertain Outcome = "uncertain"
)

// Verdict is the guardian's decision with its reasons.
type Verdict struct {
	Outcome  Outcome
	Reasons  []string
	ActionID string // set when the message asks for an external action
}

// IDNamespace is the UUID namespace of every id the stages derive. Ids are
// name-based (UUID v5, SHA-1) so that processing a message twice, after a
// crash or in a replay, yields the same ids and duplicates are recognisable
// downstream.
var IDNamespace = uuid.NewSHA1(uuid.Nil, []byte("matriz/pipelines/ids"))

// ResultID is the deterministic id of node's result for message msgID:
// DerivedID(msgID, node).
func ResultID(msgID, node string) string { return DerivedID(msgID, node) }

// EventID is the deterministic id of the event of kind a stage emits about
// subject (a msg_id for per-message events, FrameSubject for per-frame
// ones): DerivedID(subject, stage, kind).
func EventID(subject, stage string, kind schemas.EventKind) string {
	return DerivedID(subject, stage, string(kind))
}

// DerivedID is the one rule every id of the chain follows: the UUID v5 of
// parts joined by "/" in IDNamespace. It is uuid.NewSHA1 computed on a
// stack buffer, since stages derive several ids per message.
func DerivedID(parts ...string) string {
	var buf [256]byte
	name := append(buf[:0], IDNamespace[:]...)
	for i, p := range parts {
		if i > 0 {
			name = append(name, '/')
		}
		name = append(name, p...)
	}
	sum := sha1.Sum(name)
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// FrameSubject names one frame of one lane and partition for EventID:
// "<lane>/<partition>/<fps>/<seq>". (FPS, Seq) names the window, because
// Seq counts frames at the frame's own FPS.
func FrameSubject(lane schemas.Lane, partition int32, fps int, seq int64) string {
	b := make([]byte, 0, 48)
	b = append(b, lane...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(fps), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, seq, 10)
	return string(b)
}
