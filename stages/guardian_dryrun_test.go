package stages

import (
	"context"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestGuardianPreviewAsksApprovalOnlyWhenItCanExecute: a P0 preview says
// approval_required only when the action really waits for a human — not
// in a dry-run lane, and not with external actions off — since no
// approval could make those run.
func TestGuardianPreviewAsksApprovalOnlyWhenItCanExecute(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lane    schemas.Lane
		ext     bool
		want    bool
		outcome Outcome
	}{
		{"prod, external actions on", schemas.LaneProd, true, true, OutcomePending},
		{"prod, external actions off", schemas.LaneProd, false, false, OutcomeDryRun},
		{"candidate (dry run)", schemas.LaneCandidate, true, false, OutcomeDryRun},
		{"experimental (dry run)", schemas.LaneExperimental, true, false, OutcomeDryRun},
	} {
		g, err := NewGuardian(tc.lane, GuardianExecutor(&recorder{}), GuardianApprovals(NewApprovalSet()))
		if err != nil {
			t.Fatal(err)
		}
		f := fxFrame(tc.lane, 0, 0, gMsg(1, "trend", schemas.Payload{"action_kind": "wire_funds", "priority": "P0"}))
		f.Flags.ExtActions = tc.ext
		if err := g.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		if len(f.Actions) != 1 {
			t.Fatalf("%s: %d action events", tc.name, len(f.Actions))
		}
		if got := f.Actions[0].Payload["approval_required"]; got != tc.want || f.Records[0].Verdict.Outcome != tc.outcome {
			t.Errorf("%s: approval_required %v, outcome %s; want %v, %s", tc.name, got, f.Records[0].Verdict.Outcome, tc.want, tc.outcome)
		}
		if pending := len(g.Pending()) > 0; pending != tc.want {
			t.Errorf("%s: pending %v, want %v (approval_required must say whether it waits)", tc.name, pending, tc.want)
		}
	}
}
