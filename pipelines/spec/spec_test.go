package spec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

func TestDefaultSpecParsesWithEveryLane(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, lane := range schemas.Lanes {
		l := s.Lanes[lane]
		if l == nil {
			t.Fatalf("lane %s missing", lane)
		}
		if len(l.Stages) != len(StageNames) {
			t.Errorf("lane %s runs %v, want all of %v", lane, l.Stages, StageNames)
		}
	}
	for _, lane := range schemas.Lanes {
		l := s.Lanes[lane]
		if l.Learn != (Learn{Window: 1000, MaxGlyphs: 10000}) {
			t.Errorf("lane %s learn %+v, want window 1000 (the creative node's), 10000 glyphs", lane, l.Learn)
		}
		ch, err := l.Chain(lane, ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"route", "learn", "adapter", "drift", "fold-guard", "breakthrough", "guardian", "goals"}
		if got := ch.Factory.Names(); !slices.Equal(got, want) {
			t.Errorf("lane %s chain %v, want %v: learn between the router and the node it feeds, goals after the guardian it follows", lane, got, want)
		}
		if l.Goals != (Goals{MaxGoals: 10000, MaxDepth: 4, MaxRisk: 1}) {
			t.Errorf("lane %s goals %+v, want 10000 goals, 4 levels, max_risk 1 (the guardian's alone)", lane, l.Goals)
		}
	}
	if got := s.Lanes[schemas.LaneProd].Decimate.Policy; got != "backpressure" {
		t.Errorf("prod decimation policy %q, want backpressure", got)
	}
	if got := s.Lanes[schemas.LaneCandidate].Tick.BudgetMS; got != 35 {
		t.Errorf("candidate budget %d ms, want 35", got)
	}
}

func TestSpecFileOverridesOnlyWhatItSets(t *testing.T) {
	s, err := Parse("custom.yaml", []byte("lanes:\n  prod:\n    drift: {warn: 0.1}\n    partitions: 12\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Lanes[schemas.LaneProd]
	if p.Drift.Warn != 0.1 || p.Drift.Block != 0.35 || p.Partitions != 12 {
		t.Fatalf("prod drift %+v partitions %d; want warn 0.1 block 0.35 partitions 12", p.Drift, p.Partitions)
	}
	if s.Lanes[schemas.LaneCandidate].Partitions != 6 {
		t.Fatalf("candidate lost its default partitions")
	}
}

func TestMalformedSpecNamesFileLineFieldAndAllowedValues(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the one-line error
	}{
		{"unknown field", "lanes:\n  prod:\n    drift:\n      alpah: 0.3\n",
			[]string{"bad.yaml:4:", "lanes.prod.drift.alpah", "unknown field", "allowed: alpha, block, max_glyphs, warn, window"}},
		{"bad enum", "lanes:\n  prod:\n    decimate: {policy: drop-newest}\n",
			[]string{"bad.yaml:3:", "lanes.prod.decimate.policy", "drop-newest", "want backpressure or drop-oldest"}},
		{"fps not allowed", "lanes:\n  candidate:\n    tick:\n      fps: 25\n",
			[]string{"bad.yaml:4:", "lanes.candidate.tick.fps", "25: want a rate on the ladder [30 20 15]"}},
		{"out of range", "lanes:\n  prod:\n    guardian: {max_risk: 1.5}\n",
			[]string{"bad.yaml:3:", "lanes.prod.guardian.max_risk", "[0, 1]"}},
		{"unknown lane", "lanes:\n  staging: {}\n",
			[]string{"bad.yaml:2:", "lanes.staging", "allowed: candidate, experimental, prod"}},
		{"unknown stage", "lanes:\n  prod:\n    stages: [route, teleport]\n",
			[]string{"bad.yaml:3:", "lanes.prod.stages[1]", `"teleport"`, "allowed: decimate, route"}},
		{"stage order", "lanes:\n  prod:\n    stages: [drift, route]\n",
			[]string{"bad.yaml:3:", "lanes.prod.stages[1]", "out of order"}},
		{"learn after adapter", "lanes:\n  prod:\n    stages: [route, adapter, learn]\n",
			[]string{"bad.yaml:3:", "lanes.prod.stages[2]", `stage "learn" out of order`, "route → learn → adapter"}},
		{"learn without route", "lanes:\n  prod:\n    stages:\n      - learn\n",
			[]string{"bad.yaml:3:", "lanes.prod.stages", "learn needs route before it"}},
		{"learn field", "lanes:\n  prod:\n    learn: {windw: 5}\n",
			[]string{"bad.yaml:3:", "lanes.prod.learn.windw", "allowed: max_glyphs, window"}},
		{"goals before guardian", "lanes:\n  prod:\n    stages: [route, adapter, goals, guardian]\n",
			[]string{"bad.yaml:3:", "lanes.prod.stages[3]", `stage "guardian" out of order`, "guardian → goals"}},
		{"goals without guardian", "lanes:\n  prod:\n    stages: [route, adapter, goals]\n",
			[]string{"bad.yaml:3:", "lanes.prod.stages", "goals needs adapter and guardian before it"}},
		{"goals field", "lanes:\n  prod:\n    goals: {max_goal: 5}\n",
			[]string{"bad.yaml:3:", "lanes.prod.goals.max_goal", "allowed: max_depth, max_goals, max_risk"}},
		{"baseline", "lanes:\n  prod:\n    breakthrough: {baseline: sometimes}\n",
			[]string{"bad.yaml:3:", "lanes.prod.breakthrough.baseline", `"sometimes" is not allowed`, "allowed: always, learning"}},
		{"not a bool", "flags:\n  dispatch: maybe\n",
			[]string{"bad.yaml:2:", "flags.dispatch", "allowed: true, false"}},
		{"syntax", "lanes:\n  prod: [\n",
			[]string{"bad.yaml:", "not valid YAML"}},
		{"cross-field", "lanes:\n  prod:\n    drift: {warn: 0.5, block: 0.4}\n",
			[]string{"bad.yaml:3:", "lanes.prod.drift.warn", "warn 0.5 block 0.4: want 0 < warn <= block <= 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("malformed spec accepted")
			}
			var se Errors
			if !errors.As(err, &se) || len(se) == 0 {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			line := se[0].Error()
			if strings.Contains(line, "\n") {
				t.Fatalf("first error spans lines: %q", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("error %q lacks %q", line, w)
				}
			}
		})
	}
}

func TestLoadSpecMissingFileNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
}

func TestLoadSpecReadsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("flags: {dispatch: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Flags.Dispatch || s.File != path {
		t.Fatalf("spec %+v from %s", s.Flags, s.File)
	}
}
