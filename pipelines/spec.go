package pipelines

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

//go:embed matriz.yaml
var defaultSpecYAML []byte

// DefaultSpecFile is the name errors use for the embedded spec.
const DefaultSpecFile = "pipelines/matriz.yaml (embedded)"

// Spec is a parsed, validated pipeline spec: the topology as data. It is
// complete before any connection is made.
type Spec struct {
	File    string
	Version int
	Flags   FlagsSpec
	Lanes   map[schemas.Lane]*LaneSpec
}

// FlagsSpec are the feature flags at start.
type FlagsSpec struct {
	Dispatch   bool
	Learning   bool
	ExtActions bool
}

// Stage names allowed in a lane's stage order.
const (
	StageDecimate     = "decimate"
	StageRoute        = "route"
	StageAdapter      = "adapter"
	StageDrift        = "drift"
	StageFoldGuard    = "fold-guard"
	StageBreakthrough = "breakthrough"
	StageGuardian     = "guardian"
)

// StageNames lists the stages a lane may run, in canonical order.
var StageNames = []string{StageDecimate, StageRoute, StageAdapter, StageDrift, StageFoldGuard, StageBreakthrough, StageGuardian}

// LaneSpec is one lane's chain and parameters.
type LaneSpec struct {
	Partitions   int
	Stages       []string
	Tick         TickSpec
	Decimate     DecimateSpec
	Route        RouteSpec
	Drift        DriftSpec
	FoldGuard    FoldGuardSpec
	Breakthrough BreakthroughSpec
	Guardian     GuardianSpec
}

// Has reports whether the lane runs the named stage.
func (l *LaneSpec) Has(stage string) bool {
	for _, s := range l.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// TickSpec configures the consciousness tick.
type TickSpec struct {
	FPS      int // 30, 20 or 15: the starting rate
	GraceMS  int // how long past a frame's end it stays open
	BudgetMS int // p95 frame time above which fps steps down
}

// DecimateSpec configures the decimation ring.
type DecimateSpec struct {
	Policy string // drop-oldest | backpressure
	K      int    // frames of backlog the ring holds: beyond it drop-oldest drops, backpressure pauses
}

// RouteSpec configures the SymbolicMeshRouter.
type RouteSpec struct {
	Dispatch bool // call nodes, not only log decisions (DISPATCH_ENABLED overrides)
}

// DriftSpec configures DriftScore v2.
type DriftSpec struct {
	Alpha  float64
	Warn   float64
	Block  float64
	Window int // frames in the coherence mean
}

// FoldGuardSpec configures the memory fold guard.
type FoldGuardSpec struct {
	MaxFanout  int
	MaxDepth   int
	Budget     int // folds per tick before the breaker trips
	CooldownMS int // event time the breaker stays open before half-open
}

// BreakthroughSpec configures the breakthrough detector.
type BreakthroughSpec struct {
	Detector      string // zscore | cusum
	Z             float64
	MinSamples    int
	NoveltyWeight float64
	ValueWeight   float64
	Combine       string // sum | product
	CusumK        float64
	CusumH        float64
}

// GuardianSpec configures the guardian's policies.
type GuardianSpec struct {
	MaxRisk  float64
	MaxDrift float64
	DryRun   bool // forced true in experimental whatever this says
}

// DefaultSpec returns the embedded spec.
func DefaultSpec() (*Spec, error) {
	return ParseSpec(DefaultSpecFile, defaultSpecYAML)
}

// LoadSpec reads and validates the spec at path; an empty path gives the
// embedded default. Fields a file leaves out keep the default's values.
func LoadSpec(path string) (*Spec, error) {
	if path == "" {
		return DefaultSpec()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &SpecError{File: path, Field: "", Msg: fmt.Sprintf("cannot read the pipeline spec: %v", err)}
	}
	return ParseSpec(path, b)
}

// SpecError is one problem in a pipeline spec, located by file, line and
// field path.
type SpecError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *SpecError) Error() string {
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

// SpecErrors is every problem found in one spec, in file order.
type SpecErrors []*SpecError

func (es SpecErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
