package schemas

import "time"

// Lane is the deployment lane a record belongs to. Lanes isolate traffic:
// every lane has its own topics, and guards refuse side effects outside
// candidate and prod.
type Lane string

// The three lanes, in promotion order.
const (
	LaneExperimental Lane = "experimental"
	LaneCandidate    Lane = "candidate"
	LaneProd         Lane = "prod"
)

// Lanes lists every lane in promotion order, which is also the order of the
// Lane enum's symbols and so the index Avro writes.
var Lanes = []Lane{LaneExperimental, LaneCandidate, LaneProd}

// Valid reports whether l is one of the three lanes.
func (l Lane) Valid() bool {
	switch l {
	case LaneExperimental, LaneCandidate, LaneProd:
		return true
	}
	return false
}

// Payload is a map of loosely typed values, the Avro map of the union
// [null, boolean, long, double, string, array<double>, matriz.StringList].
// Values are nil, bool, int64, float64, string, []float64 or []string (a Go
// int is accepted when encoding); the decoder normalises to exactly these Go
// types, so stages can type-switch.
type Payload map[string]any

// Glyph is the symbolic identity a message is about. One Go type reads and
// writes both GLYPH versions: v1 has ID, Kind, Version and Tags; v2 adds
// SubjectSID, Consent and Provenance, each optional with a default. Written
// with the v1 schema, the v2 fields are left out (twmb/avro encodes only
// the fields the schema has); read from v1 data, they take v2's defaults:
// nil, nil and an empty list. An empty Provenance always decodes as nil,
// so a Glyph that never set one round-trips to a deeply equal value.
type Glyph struct {
	ID      string            `avro:"id"`
	Kind    string            `avro:"kind"`
	Version string            `avro:"version"`
	Tags    map[string]string `avro:"tags"`

	// SubjectSID is the data subject's pseudonymous id (v2); nil when
	// absent, which v1 data always is.
	SubjectSID *string `avro:"subject_sid"`
	// Consent is the data subject's consent (v2); nil when none was given.
	Consent *Consent `avro:"consent"`
	// Provenance lists where the glyph came from, oldest first (v2).
	Provenance []string `avro:"provenance"`
}

// Consent is GLYPH v2's record of a data subject's consent: whether it was
// granted, and for what purpose.
type Consent struct {
	Granted bool   `avro:"granted"`
	Purpose string `avro:"purpose"`
}

// MatrizMessage is one message of the consciousness stream. Its Kafka key is
// Glyph.ID, so one glyph's messages stay ordered on one partition.
type MatrizMessage struct {
	MsgID   string    `avro:"msg_id"`
	TS      time.Time `avro:"ts"`
	Lane    Lane      `avro:"lane"`
	Glyph   Glyph     `avro:"glyph"`
	Payload Payload   `avro:"payload"`
	Topic   string    `avro:"topic"`
}

// Crumb is one explainability crumb: the stage or node that touched a
// message, when (event time, never wall clock in replay), and what it saw.
type Crumb struct {
	Stage string    `avro:"stage"`
	T     time.Time `avro:"t"`
	Data  Payload   `avro:"data"`
}

// MatrizResult is a node's answer to one MatrizMessage (Node Contract v1).
// ID is deterministic (derived from MsgID and Node), so a result written
// twice after a crash is recognisable as the same result.
type MatrizResult struct {
	ID          string    `avro:"id"`
	MsgID       string    `avro:"msg_id"`
	TS          time.Time `avro:"ts"`
	Lane        Lane      `avro:"lane"`
	Node        string    `avro:"node"`
	NodeVersion string    `avro:"node_version"`
	OK          bool      `avro:"ok"`
	Reasons     []string  `avro:"reasons"`
	Payload     Payload   `avro:"payload"`
	Trace       []Crumb   `avro:"trace"`
}

// EventKind names what an Event records.
type EventKind string

// Event kinds: the MATRIZ ones first, then the pipeline's own.
const (
	EventUnknown          EventKind = "unknown"
	EventIntention        EventKind = "intention"
	EventAction           EventKind = "action"
	EventMemoryWrite      EventKind = "memory_write"
	EventReward           EventKind = "reward"
	EventDriftAlert       EventKind = "drift_alert"
	EventCircuitBreak     EventKind = "circuit_break"
	EventBreakthrough     EventKind = "breakthrough"
	EventGuardianDecision EventKind = "guardian_decision"
	EventDecimation       EventKind = "decimation"
	EventRouting          EventKind = "routing"
	EventApproval         EventKind = "approval"
	EventFlagChange       EventKind = "flag_change"
	// The runtime's decisions that event time alone does not determine;
	// a replay reads them back (decimation and flag_change are decisions
	// too).
	EventLate            EventKind = "late"             // a record judged late
	EventFPSChange       EventKind = "fps_change"       // a partition's frame rate changed from a boundary on
	EventWatermark       EventKind = "watermark"        // an idle or shutdown watermark closed frames
	EventApprovalApplied EventKind = "approval_applied" // an approval took effect at a frame
	// Appended last: the enum's default (unknown) lets a reader on an
	// older schema read them.
	EventGoal         EventKind = "goal"          // a goal's status changed (the goal manager)
	EventPromotion    EventKind = "promotion"     // matriz promote passed every gate
	EventCanaryAbort  EventKind = "canary_abort"  // a canary's agreement fell below its floor
	EventLearnedState EventKind = "learned_state" // a versioned change of learned state
)

// EventKinds lists every event kind in the order of the EventKind enum's
// symbols, which is the index Avro writes.
var EventKinds = []EventKind{
	EventUnknown, EventIntention, EventAction, EventMemoryWrite, EventReward,
	EventDriftAlert, EventCircuitBreak, EventBreakthrough, EventGuardianDecision,
	EventDecimation, EventRouting, EventApproval, EventFlagChange,
	EventLate, EventFPSChange, EventWatermark, EventApprovalApplied,
	EventGoal, EventPromotion, EventCanaryAbort, EventLearnedState,
}

// Event is one decision or happening on a lane's event log.
type Event struct {
	ID      string    `avro:"id"`
	TS      time.Time `avro:"ts"`
	Kind    EventKind `avro:"kind"`
	Lane    Lane      `avro:"lane"`
	GlyphID string    `avro:"glyph_id"`
	MsgID   string    `avro:"msg_id"`
	Stage   string    `avro:"stage"`
	Payload Payload   `avro:"payload"`
}

// RiskClass is the EU AI Act risk class of a decision.
type RiskClass string

// Risk classes, lowest first.
const (
	RiskMinimal      RiskClass = "minimal"
	RiskLimited      RiskClass = "limited"
	RiskHigh         RiskClass = "high"
	RiskUnacceptable RiskClass = "unacceptable"
)

// RiskClasses lists every risk class in the order of the RiskClass enum's
// symbols.
var RiskClasses = []RiskClass{RiskMinimal, RiskLimited, RiskHigh, RiskUnacceptable}

// Trace is the explanation of one decision: the crumbs that led to it, its
// inputs and outputs, the constraints applied, and the EU AI Act markers.
type Trace struct {
	ID              string    `avro:"id"`
	TS              time.Time `avro:"ts"`
	MsgID           string    `avro:"msg_id"`
	Lane            Lane      `avro:"lane"`
	Stage           string    `avro:"stage"`
	Decision        string    `avro:"decision"`
	Crumbs          []Crumb   `avro:"crumbs"`
	Inputs          Payload   `avro:"inputs"`
	Outputs         Payload   `avro:"outputs"`
	Constraints     []string  `avro:"constraints"`
	RiskClass       RiskClass `avro:"risk_class"`
	DataOrigin      string    `avro:"data_origin"`
	ExplanationLink string    `avro:"explanation_link"`
}
