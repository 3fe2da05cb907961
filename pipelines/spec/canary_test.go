package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestCanaryDefaultsToTheCandidateLane: a bare canary section runs the
// candidate lane's config at 1%, floor 0.9 over 200 samples, dry as prod
// runs (not dry); no section, no canary.
func TestCanaryDefaultsToTheCandidateLane(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range schemas.Lanes {
		if def.Lanes[l].Canary != nil {
			t.Errorf("the embedded spec gives %s a canary", l)
		}
	}
	if !def.Flags.Canary {
		t.Error("flags.canary is off in the embedded spec: a canary section would run only with CANARY_ENABLED set")
	}
	s, err := Parse("c.yaml", []byte("lanes:\n  candidate:\n    guardian: {max_risk: 0.3}\n  prod:\n    canary: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Lanes[schemas.LaneProd].Canary
	if c == nil {
		t.Fatal("prod has no canary")
	}
	if c.From != schemas.LaneCandidate || c.Fraction != 0.01 || c.MinAgreement != 0.9 || c.MinSamples != 200 || c.File != "" {
		t.Errorf("defaults %+v", c)
	}
	if c.Lane.Guardian.MaxRisk != 0.3 || c.Lane.Guardian.DryRun || !s.Lanes[schemas.LaneCandidate].Guardian.DryRun {
		t.Errorf("canary guardian %+v: want candidate's max_risk 0.3 and prod's dry_run false (candidate stays dry)", c.Lane.Guardian)
	}
	if f := c.Floor(); f.MinAgreement != 0.9 || f.MinSamples != 200 {
		t.Errorf("floor %+v", f)
	}
	if ns := s.Namespaces(); len(ns) != 1 || len(ns[schemas.LaneProd]) != 1 || ns[schemas.LaneProd][0] != "canary" {
		t.Errorf("namespaces to deploy %v, want prod: [canary]", ns)
	}
	if ns := def.Namespaces(); len(ns) != 0 {
		t.Errorf("the embedded spec deploys namespaces %v", ns)
	}
}

// TestCanaryInlineAndFileSpecs: inline fields change the lane the canary
// starts from without changing that lane; a file gives the lane of
// another spec.
func TestCanaryInlineAndFileSpecs(t *testing.T) {
	s, err := Parse("c.yaml", []byte("lanes:\n  prod:\n    canary:\n      lane: prod\n      fraction: 0.05\n      spec: {guardian: {max_risk: 0.2}, drift: {block: 0.3}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	prod := s.Lanes[schemas.LaneProd]
	if c := prod.Canary; c.Lane.Guardian.MaxRisk != 0.2 || c.Lane.Drift.Block != 0.3 || c.Fraction != 0.05 || c.From != schemas.LaneProd {
		t.Errorf("canary %+v", c)
	}
	if prod.Guardian.MaxRisk != 0.5 || prod.Drift.Block != 0.35 {
		t.Errorf("the inline spec changed prod itself: %+v %+v", prod.Guardian, prod.Drift)
	}

	dir := t.TempDir()
	other := filepath.Join(dir, "next.yaml")
	if err := os.WriteFile(other, []byte("lanes:\n  candidate:\n    guardian: {max_risk: 0.1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.yaml")
	if err := os.WriteFile(main, []byte("lanes:\n  prod:\n    canary: {spec: next.yaml}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Lanes[schemas.LaneProd].Canary; c.Lane.Guardian.MaxRisk != 0.1 || c.File != "next.yaml" {
		t.Errorf("file canary %+v, want next.yaml's candidate (max_risk 0.1)", c)
	}
}

func TestCanaryRefusals(t *testing.T) {
	for _, tc := range []struct {
		yaml, field, msg string
		line             int
	}{
		{"lanes:\n  prod:\n    canary:\n      spec: {guardian: {max_risk: 2}}\n", "lanes.prod.canary.spec.guardian.max_risk", "want a number in [0, 1]", 4},
		{"lanes:\n  prod:\n    canary: {lane: staging}\n", "lanes.prod.canary.lane", `"staging" is not allowed`, 3},
		{"lanes:\n  prod:\n    canary: {spec: [1]}\n", "lanes.prod.canary.spec", "want a spec file name or a mapping", 3},
		{"lanes:\n  prod:\n    canary: {spec: {canary: {}}}\n", "lanes.prod.canary.spec.canary", "cannot have a canary of its own", 0},
		{"lanes:\n  prod:\n    canary: {spec: missing.yaml}\n", "lanes.prod.canary.spec", "cannot read the pipeline spec", 0},
		{"lanes:\n  prod:\n    canary: {colour: blue}\n", "lanes.prod.canary.colour", "unknown field; allowed: fraction, lane, min_agreement, min_samples, spec", 3},
	} {
		_, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(tc.yaml))
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 {
			t.Errorf("%q: %v, want one error", tc.yaml, err)
			continue
		}
		if e := es[0]; e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) || (tc.line > 0 && e.Line != tc.line) {
			t.Errorf("%q: error %q (line %d), want %s line %d …%s…", tc.yaml, e, e.Line, tc.field, tc.line, tc.msg)
		}
	}
}
