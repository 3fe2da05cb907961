package spec

// Lane-marked tests: the plan's prod_only marker. Each checks the spec
// under test (MATRIZ_PIPELINE, else the embedded one) for the lane under
// test (LUKHAS_LANE, else experimental) and runs only in that lane:
// `make test` runs the experimental ones, and CI runs the prod ones again
// with LUKHAS_LANE=prod (.ci/gates). Before a spec goes to prod:
//
//	LUKHAS_LANE=prod MATRIZ_PIPELINE=my.yaml go test -run LaneUnderTest ./pipelines/spec/

import (
	"os"
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// laneUnderTest loads the spec under test and returns the lane the
// environment names.
func laneUnderTest(t *testing.T) (schemas.Lane, *Lane) {
	t.Helper()
	s, err := Load(os.Getenv("MATRIZ_PIPELINE"))
	if err != nil {
		t.Fatalf("spec under test: %v", err)
	}
	lane, err := stages.ResolveLane("", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Lanes[lane]
	if l == nil {
		t.Fatalf("the spec under test has no lane %s", lane)
	}
	return lane, l
}

// TestProdOnlyLaneUnderTestNeverDropsAndGuardsEveryAction: a prod lane
// applies backpressure instead of dropping input, runs the guardian (its
// P0 approvals and consent checks) after every stage that can make an
// action, and executes
// approved actions rather than running dry.
func TestProdOnlyLaneUnderTestNeverDropsAndGuardsEveryAction(t *testing.T) {
	stages.RequireLane(t, schemas.LaneProd)
	lane, l := laneUnderTest(t)
	if l.Decimate.Policy != "backpressure" {
		t.Errorf("lane %s decimation policy %q: prod must apply backpressure, never drop input", lane, l.Decimate.Policy)
	}
	// Every action must pass the guardian: it runs, and after it only
	// stages that emit no action (the goal manager, which reads its
	// verdicts).
	g := slices.Index(l.Stages, StageGuardian)
	if g < 0 {
		t.Errorf("lane %s stages %v: prod must run the guardian, so every action passes it", lane, l.Stages)
	}
	for _, st := range l.Stages[g+1:] {
		if st != StageGoals {
			t.Errorf("lane %s stages %v: %s runs after the guardian; only stages that emit no action (goals) may, so every action passes it", lane, l.Stages, st)
		}
	}
	if l.Guardian.DryRun {
		t.Errorf("lane %s guardian runs dry: prod executes approved actions", lane)
	}
}

// TestExperimentalOnlyLaneUnderTestStaysDry: an experimental lane runs the
// guardian, and dry, whatever the file says.
func TestExperimentalOnlyLaneUnderTestStaysDry(t *testing.T) {
	stages.RequireLane(t, schemas.LaneExperimental)
	lane, l := laneUnderTest(t)
	if !slices.Contains(l.Stages, StageGuardian) {
		t.Errorf("lane %s stages %v: the guardian must run, to record what would have been done", lane, l.Stages)
	}
	if !l.Guardian.DryRun {
		t.Errorf("lane %s guardian is not dry-run: the experimental lane never executes", lane)
	}
}
