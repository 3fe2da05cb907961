package spec

import (
	"errors"
	"strings"
	"testing"
)

// TestParseRefusesWhatTheRuntimeWould has one row per rule the stages'
// and operators' options enforce, set through the spec: each is refused at
// parse time, at the line that set it, naming the lane and the field. A
// last check makes sure every option the spec sets has a row.
func TestParseRefusesWhatTheRuntimeWould(t *testing.T) {
	rows := []struct {
		option  string // the option whose rule the row breaks
		lane    string
		section string // the lane's YAML lines, indented under the lane
		line    int    // where the error points
		field   string // under lanes.<lane>.
		msg     string // a substring of the message
	}{
		{"LearnWindow", "prod", "learn: {window: 0}", 3, "learn.window", "0: want >= 1"},
		{"LearnMaxGlyphs", "candidate", "learn:\n  max_glyphs: -1", 4, "learn.max_glyphs", "-1: want >= 1"},
		{"GoalsMaxGoals", "prod", "goals: {max_goals: 0}", 3, "goals.max_goals", "0: want >= 1"},
		{"GoalsMaxDepth", "candidate", "goals: {max_depth: 65}", 3, "goals.max_depth", "65: want 1..64"},
		{"GoalsMaxRisk", "experimental", "goals:\n  max_risk: 1.5", 4, "goals.max_risk", "1.5: want a number in [0, 1]"},
		{"DriftAlpha", "prod", "drift: {alpha: 0}", 3, "drift.alpha", "0: want a number in (0, 1]"},
		{"DriftAlpha", "prod", "drift: {alpha: 1.5}", 3, "drift.alpha", "want a number in (0, 1]"},
		{"DriftThresholds", "candidate", "drift: {warn: 0}", 3, "drift.warn", "want 0 < warn <= block <= 2"},
		{"DriftThresholds", "candidate", "drift: {warn: 0.5, block: 0.4}", 3, "drift.warn", "warn 0.5 block 0.4"},
		{"DriftThresholds", "candidate", "drift:\n  block: 2.5", 4, "drift.block", "warn <= block <= 2"},
		{"DriftWindow", "experimental", "drift: {window: 0}", 3, "drift.window", "want 1..100000 frames"},
		{"DriftWindow", "experimental", "drift: {window: 100001}", 3, "drift.window", "want 1..100000 frames"},
		{"DriftMaxGlyphs", "prod", "drift: {max_glyphs: 0}", 3, "drift.max_glyphs", "0: want >= 1"},
		{"FoldMaxFanout", "prod", "fold_guard: {max_fanout: 0}", 3, "fold_guard.max_fanout", "0: want 1..1048576"},
		{"FoldMaxFanout", "prod", "fold_guard: {max_fanout: 2000000, budget: 2000000}", 3, "fold_guard.max_fanout", "want 1..1048576"},
		{"FoldMaxDepth", "prod", "fold_guard: {max_depth: -1}", 3, "fold_guard.max_depth", "want 0..1024"},
		{"FoldMaxDepth", "prod", "fold_guard: {max_depth: 2000}", 3, "fold_guard.max_depth", "want 0..1024"},
		{"FoldBudget", "prod", "fold_guard:\n  max_fanout: 300", 4, "fold_guard.max_fanout", "budget 256: want at least the max fanout (300)"},
		{"FoldBudget", "prod", "fold_guard: {budget: 4}", 3, "fold_guard.budget", "4: want at least the max fanout (8)"},
		{"FoldBudget", "prod", "fold_guard: {budget: 2000000000}", 3, "fold_guard.budget", "at most 1073741824"},
		{"FoldCooldown", "candidate", "fold_guard: {cooldown_ms: -1}", 3, "fold_guard.cooldown_ms", "-1ms: want 0..24h"},
		{"FoldCooldown", "candidate", "fold_guard: {cooldown_ms: 90000000}", 3, "fold_guard.cooldown_ms", "want 0..24h"},
		{"BreakthroughWeights", "prod", "breakthrough: {novelty_weight: -1}", 3, "breakthrough.novelty_weight", "want finite weights >= 0, not both 0"},
		{"BreakthroughWeights", "prod", "breakthrough: {novelty_weight: 0, value_weight: 0}", 3, "breakthrough.novelty_weight", "not both 0"},
		{"BreakthroughZ", "prod", "breakthrough: {z: 0}", 3, "breakthrough.z", "want a finite number > 0"},
		{"BreakthroughMinSamples", "prod", "breakthrough: {min_samples: 1}", 3, "breakthrough.min_samples", "want >= 2"},
		{"BreakthroughCUSUM", "prod", "breakthrough: {detector: cusum, cusum_k: -1}", 3, "breakthrough.cusum_k", "want finite k >= 0 and h > 0"},
		{"BreakthroughCUSUM", "prod", "breakthrough: {detector: cusum, cusum_h: 0}", 3, "breakthrough.cusum_h", "h > 0"},
		{"GuardianMaxRisk", "prod", "guardian: {max_risk: 1.5}", 3, "guardian.max_risk", "1.5: want a number in [0, 1]"},
		{"GuardianMaxRisk", "prod", "guardian: {max_risk: -0.1}", 3, "guardian.max_risk", "want a number in [0, 1]"},
		{"GuardianMaxDrift", "prod", "guardian: {max_drift: 3}", 3, "guardian.max_drift", "want a number in [0, 2]"},
		{"GuardianMaxPending", "prod", "guardian: {max_pending: 0}", 3, "guardian.max_pending", "0: want >= 1"},
		{"GuardianDryRun", "experimental", "guardian: {dry_run: false}", 3, "guardian.dry_run", "the experimental lane always runs dry"},
		{"GuardianExecutorTimeout", "prod", "guardian: {executor_timeout_ms: -1}", 3, "guardian.executor_timeout_ms", "-1ms: want > 0"},
		{"TickFPS", "candidate", "tick: {fps: 25}", 3, "tick.fps", "25: want a rate on the ladder [30 20 15]"},
		{"TickGrace", "candidate", "tick: {grace_ms: -1}", 3, "tick.grace_ms", "want 0..10s"},
		{"TickGrace", "candidate", "tick: {grace_ms: 20000}", 3, "tick.grace_ms", "want 0..10s"},
		{"TickBudget", "candidate", "tick: {budget_ms: -5}", 3, "tick.budget_ms", "want 0 (no adaptation) or more"},
		{"DecimateCapacity", "experimental", "decimate: {k: 0}", 3, "decimate.k", "want 1..1048576 frames"},
		{"DecimateCapacity", "experimental", "decimate: {k: 2000000}", 3, "decimate.k", "want 1..1048576 frames"},
		{"DecimatePolicy", "experimental", "decimate: {policy: drop-newest}", 3, "decimate.policy", "drop-newest: want backpressure or drop-oldest"},
		{"DecimateMaxRecords", "prod", "decimate: {max_records: 0}", 3, "decimate.max_records", "want 1..16777216 records"},
		{"CanaryFraction", "prod", "canary: {fraction: 0}", 3, "canary.fraction", "0: want a share in (0, 1]"},
		{"CanaryFraction", "prod", "canary:\n  fraction: 1.5", 4, "canary.fraction", "want a share in (0, 1]"},
		{"CanaryMinAgreement", "prod", "canary: {min_agreement: 1.2}", 3, "canary.min_agreement", "want a rate in [0, 1]"},
		{"CanaryMinSamples", "prod", "canary: {min_samples: 0}", 3, "canary.min_samples", "want at least 1 compared input"},
		{"partitions", "prod", "partitions: 0", 3, "partitions", "0, want 1..1024"},
		{"partitions", "prod", "partitions: 5000", 3, "partitions", "5000, want 1..1024"},
	}
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.option] = true
		t.Run(r.option+"/"+r.section, func(t *testing.T) {
			yaml := "lanes:\n  " + r.lane + ":\n    " + strings.ReplaceAll(r.section, "\n", "\n    ") + "\n"
			_, err := Parse("lane.yaml", []byte(yaml))
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("Parse = %v, want one error\n%s", err, yaml)
			}
			e := es[0]
			field := "lanes." + r.lane + "." + r.field
			if e.File != "lane.yaml" || e.Line != r.line || e.Field != field || !strings.Contains(e.Msg, r.msg) {
				t.Fatalf("error %q, want lane.yaml:%d: %s: …%s…", e, r.line, field, r.msg)
			}
		})
	}
	for option := range optionFields {
		if !covered[option] {
			t.Errorf("no row breaks a rule of %s, which the spec sets", option)
		}
	}
}

// TestParseAcceptsTheEdgesTheStagesAccept: the values at the edge of every
// range the stages take are accepted, so the spec refuses nothing the
// runtime would run.
func TestParseAcceptsTheEdgesTheStagesAccept(t *testing.T) {
	yaml := `lanes:
  prod:
    partitions: 1024
    tick: {fps: 15, grace_ms: 10000, budget_ms: 0}
    decimate: {k: 1048576, max_records: 16777216}
    learn: {window: 1, max_glyphs: 1}
    drift: {alpha: 1, warn: 2, block: 2, window: 100000}
    fold_guard: {max_fanout: 1048576, max_depth: 0, budget: 1073741824, cooldown_ms: 86400000}
    breakthrough: {detector: cusum, z: 0.001, min_samples: 2, novelty_weight: 0, value_weight: 5, cusum_k: 0, cusum_h: 0.1}
    guardian: {max_risk: 0, max_drift: 2, dry_run: true}
    goals: {max_goals: 1, max_depth: 64, max_risk: 0}
`
	if _, err := Parse("edges.yaml", []byte(yaml)); err != nil {
		t.Fatalf("edges refused: %v", err)
	}
}
