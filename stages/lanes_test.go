package stages

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

func laneEnvOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolveLane(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		env        map[string]string
		want       schemas.Lane
		source     string // where the lane came from, when it resolves
		wantSource string // LaneError source, when the error is a *LaneError
	}{
		{name: "config wins over env", configured: "prod", env: map[string]string{LaneEnv: "experimental"}, want: schemas.LaneProd, source: LaneFromConfig},
		{name: "env when config empty", env: map[string]string{LaneEnv: "candidate"}, want: schemas.LaneCandidate, source: LaneFromEnv},
		{name: "case and spaces ignored", env: map[string]string{LaneEnv: "  Prod "}, want: schemas.LaneProd, source: LaneFromEnv},
		{name: "nothing set is experimental", want: schemas.LaneExperimental, source: LaneFromDefault},
		{name: "blank config falls through to empty env", configured: "  ", env: map[string]string{LaneEnv: " "}, want: schemas.LaneExperimental, source: LaneFromDefault},
		{name: "bad config", configured: "staging", wantSource: "config"},
		{name: "bad env", env: map[string]string{LaneEnv: "qa"}, wantSource: LaneEnv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, source, err := ResolveLaneSource(tc.configured, laneEnvOf(tc.env))
			switch {
			case tc.wantSource != "":
				var le *LaneError
				if !errors.As(err, &le) || le.Source != tc.wantSource {
					t.Fatalf("err = %#v, want *LaneError from %s", err, tc.wantSource)
				}
				if !strings.Contains(err.Error(), "experimental|candidate|prod") {
					t.Fatalf("error %q does not list the valid lanes", err)
				}
			default:
				if err != nil || got != tc.want || source != tc.source {
					t.Fatalf("ResolveLaneSource = %q, %q, %v; want %q from %q", got, source, err, tc.want, tc.source)
				}
			}
		})
	}
	if l, err := ResolveLane("", nil); err != nil || l != DefaultLane {
		t.Fatalf("nil getenv: ResolveLane = %q, %v; want %q", l, err, DefaultLane)
	}
}

func TestLaneGuard(t *testing.T) {
	tests := []struct {
		lane    schemas.Lane
		allowed bool
	}{
		{schemas.LaneExperimental, false},
		{schemas.LaneCandidate, true},
		{schemas.LaneProd, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.lane), func(t *testing.T) {
			g, err := NewLaneGuard(tc.lane)
			if err != nil {
				t.Fatal(err)
			}
			if g.Lane() != tc.lane {
				t.Fatalf("Lane() = %q", g.Lane())
			}
			calls := 0
			act := func(context.Context) error { calls++; return nil }
			errDo := g.Do(context.Background(), "webhook.post", act)
			errWrap := g.Wrap("webhook.post", act)(context.Background())
			for _, err := range []error{errDo, errWrap} {
				if tc.allowed {
					if err != nil {
						t.Fatalf("allowed lane refused: %v", err)
					}
					continue
				}
				var lge *LaneGuardError
				if !errors.As(err, &lge) || !errors.Is(err, ErrLaneRefused) {
					t.Fatalf("err = %v, want *LaneGuardError wrapping ErrLaneRefused", err)
				}
				if lge.Lane != tc.lane || lge.Action != "webhook.post" {
					t.Fatalf("error names lane %q action %q", lge.Lane, lge.Action)
				}
				msg := err.Error()
				for _, want := range []string{string(tc.lane), "webhook.post", "candidate|prod"} {
					if !strings.Contains(msg, want) {
						t.Fatalf("error %q does not mention %q", msg, want)
					}
				}
			}
			wantCalls := 0
			if tc.allowed {
				wantCalls = 2
			}
			if calls != wantCalls {
				t.Fatalf("action ran %d times, want %d", calls, wantCalls)
			}
		})
	}
	al := ActionLanes()
	al[0] = schemas.LaneExperimental
	if ActionsAllowed(schemas.LaneExperimental) {
		t.Fatal("changing the slice ActionLanes returned widened the guard")
	}
	if _, err := NewLaneGuard("nope"); err == nil {
		t.Fatal("NewLaneGuard accepted an invalid lane")
	}
	g, _ := NewLaneGuard(schemas.LaneProd)
	boom := errors.New("boom")
	if err := g.Do(context.Background(), "x", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Do did not return the action's error: %v", err)
	}
}

// laneFakeTB records what RequireLane asked of the test.
type laneFakeTB struct {
	skipped, failed string
}

func (f *laneFakeTB) Helper()                           {}
func (f *laneFakeTB) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }
func (f *laneFakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestRequireLane(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		lanes    []schemas.Lane
		skip     string // substring of the skip message, "" = runs
		fail     string // substring of the failure, "" = no failure
		runsHere bool
	}{
		{name: "matching lane runs", env: "candidate", lanes: []schemas.Lane{"candidate", "prod"}, runsHere: true},
		{name: "other lane skips", env: "experimental", lanes: []schemas.Lane{"candidate", "prod"}, skip: "needs lane candidate|prod, and LUKHAS_LANE=experimental; run it with LUKHAS_LANE=candidate"},
		{name: "unset is experimental: a prod test skips", env: "", lanes: []schemas.Lane{"prod"}, skip: "LUKHAS_LANE is unset, so the lane under test is experimental; run it with LUKHAS_LANE=prod"},
		{name: "unset is experimental: an experimental test runs", env: "", lanes: []schemas.Lane{"experimental"}, runsHere: true},
		{name: "typo fails", env: "prd", lanes: []schemas.Lane{"prod"}, fail: `invalid lane "prd"`},
		{name: "no lanes fails", env: "prod", fail: "no lanes given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &laneFakeTB{}
			requireLane(f, laneEnvOf(map[string]string{LaneEnv: tc.env}), tc.lanes...)
			if tc.runsHere && (f.skipped != "" || f.failed != "") {
				t.Fatalf("skipped %q failed %q, want the test to run", f.skipped, f.failed)
			}
			if tc.skip != "" && !strings.Contains(f.skipped, tc.skip) {
				t.Fatalf("skip message %q, want it to contain %q", f.skipped, tc.skip)
			}
			if tc.fail != "" && !strings.Contains(f.failed, tc.fail) {
				t.Fatalf("failure %q, want it to contain %q", f.failed, tc.fail)
			}
		})
	}
}

// TestRequireLaneReadsEnvironment runs RequireLane for real in a subtest and
// checks that it skips visibly under a lane the subtest does not need.
func TestRequireLaneReadsEnvironment(t *testing.T) {
	t.Setenv(LaneEnv, "experimental")
	var skipped bool
	t.Run("needs prod", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireLane(t, schemas.LaneProd)
		t.Error("RequireLane did not skip a prod-only test in experimental")
	})
	if !skipped {
		t.Fatal("subtest was not skipped")
	}
	t.Setenv(LaneEnv, "prod")
	ran := false
	t.Run("needs prod, in prod", func(t *testing.T) {
		RequireLane(t, schemas.LaneProd)
		ran = true
	})
	if !ran {
		t.Fatal("RequireLane skipped a prod test in prod")
	}
}
