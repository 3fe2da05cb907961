package spec

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

//go:embed matriz.yaml
var defaultSpecYAML []byte

// DefaultFile is the name errors use for the embedded spec.
const DefaultFile = "pipelines/spec/matriz.yaml (embedded)"

// Spec is a parsed, validated pipeline spec: the topology as data. It is
// complete before any connection is made.
type Spec struct {
	File    string
	Version int
	Flags   Flags
	Lanes   map[schemas.Lane]*Lane
}

// Flags are the feature flags at start.
type Flags struct {
	Dispatch   bool
	Learning   bool
	ExtActions bool
	// Canary lets lanes with a canary run it (CANARY_ENABLED); default on.
	Canary bool
}

// Stage names allowed in a lane's stage order.
const (
	StageDecimate     = "decimate"
	StageRoute        = "route"
	StageLearn        = "learn"
	StageAdapter      = "adapter"
	StageDrift        = "drift"
	StageFoldGuard    = "fold-guard"
	StageBreakthrough = "breakthrough"
	StageGuardian     = "guardian"
	StageGoals        = "goals"
)

// StageNames lists the stages a lane may run, in canonical order.
var StageNames = []string{StageDecimate, StageRoute, StageLearn, StageAdapter, StageDrift, StageFoldGuard, StageBreakthrough, StageGuardian, StageGoals}

// Lane is one lane's chain and parameters.
type Lane struct {
	Partitions   int
	Stages       []string
	Tick         Tick
	Decimate     Decimate
	Route        Route
	Learn        Learn
	Drift        Drift
	FoldGuard    FoldGuard
	Breakthrough Breakthrough
	Guardian     Guardian
	Goals        Goals
	// Canary, when set, runs a candidate chain in shadow on a share of
	// the lane's glyphs (canary.go); nil: no canary.
	Canary *Canary
}

// Has reports whether the lane runs the named stage.
func (l *Lane) Has(stage string) bool {
	for _, s := range l.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// Tick configures the consciousness tick.
type Tick struct {
	FPS      int // 30, 20 or 15: the starting rate
	GraceMS  int // how long past a frame's end it stays open
	BudgetMS int // p95 frame time above which fps steps down
}

// Decimate configures the decimation ring.
type Decimate struct {
	Policy string // drop-oldest | backpressure
	K      int    // frames of backlog the ring holds: beyond it drop-oldest drops, backpressure pauses
	// MaxRecords is the records the ring's frames hold together before it
	// counts as full, as at K frames: a bound on its memory at any rate.
	MaxRecords int
}

// Route configures the SymbolicMeshRouter.
type Route struct {
	Dispatch bool // call nodes, not only log decisions (DISPATCH_ENABLED overrides)
}

// Learn configures the learn stage: the per-glyph centroid of the creative
// node's ideas, updated while LEARNING_ENABLED is on.
type Learn struct {
	Window int // ideas a centroid averages at most; past it it follows the recent ones
	// MaxGlyphs bounds the glyphs one partition learns centroids for;
	// past it a new glyph is not learned.
	MaxGlyphs int
}

// Drift configures DriftScore v2.
type Drift struct {
	Alpha  float64
	Warn   float64
	Block  float64
	Window int // frames in the coherence mean
	// MaxGlyphs bounds the glyphs one partition keeps drift state for;
	// the least recently seen are forgotten past it.
	MaxGlyphs int
}

// FoldGuard configures the memory fold guard.
type FoldGuard struct {
	MaxFanout  int
	MaxDepth   int
	Budget     int // folds per tick before the breaker trips
	CooldownMS int // event time the breaker stays open before half-open
}

// Breakthrough configures the breakthrough detector.
type Breakthrough struct {
	Detector      string // zscore | cusum
	Z             float64
	MinSamples    int
	NoveltyWeight float64
	ValueWeight   float64
	Combine       string // sum | product
	CusumK        float64
	CusumH        float64
	// Baseline is when the baseline learns: "always" (the default: it is
	// a statistic of the stream, and every shipped lane runs with
	// LEARNING_ENABLED off, where a baseline that followed the flag would
	// never form) or "learning", only on frames with LEARNING_ENABLED on,
	// frozen otherwise, like the learn stage's centroids.
	Baseline string
}

// Goals configures the Goal Manager: the goal trees the orchestration
// node's plans and the guardian's decisions drive.
type Goals struct {
	// MaxGoals bounds the goals one partition keeps; past it new goals
	// are refused, counted and named on the record's crumb.
	MaxGoals int
	MaxDepth int     // levels of a goal tree, a root being level 1
	MaxRisk  float64 // a goal's max_risk constraint when its input gives none
}

// Guardian configures the guardian's policies.
type Guardian struct {
	MaxRisk  float64
	MaxDrift float64
	DryRun   bool // forced true in experimental whatever this says
	// ExecutorTimeoutMS bounds one executor call (0: the stage's default,
	// stages.DefaultExecutorTimeout).
	ExecutorTimeoutMS int
	// MaxPending bounds the actions one partition keeps waiting for
	// approval; past it a new one is denied, with the reason and its
	// decision event.
	MaxPending int
}

// Default returns the embedded spec.
func Default() (*Spec, error) {
	return Parse(DefaultFile, defaultSpecYAML)
}

// DefaultYAML returns a copy of the embedded spec file's bytes.
func DefaultYAML() []byte { return append([]byte(nil), defaultSpecYAML...) }

// Load reads and validates the spec at path; an empty path gives the
// embedded default. Fields a file leaves out keep the default's values.
func Load(path string) (*Spec, error) {
	if path == "" {
		return Default()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Field: "", Msg: fmt.Sprintf("cannot read the pipeline spec: %v", err)}
	}
	return Parse(path, b)
}

// Error is one problem in a pipeline spec, located by file, line and
// field path.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one spec, in file order.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Partitions returns each lane's partition count, for deploy.
func (s *Spec) Partitions() map[schemas.Lane]int {
	out := make(map[schemas.Lane]int, len(s.Lanes))
	for l, ls := range s.Lanes {
		out[l] = ls.Partitions
	}
	return out
}
