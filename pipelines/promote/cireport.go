package promote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// DefaultCIReport is where .ci/gates writes the figures of the run, from
// the repository's root.
const DefaultCIReport = ".ci/out/gates.json"

// CIReport is what one CI run's gates measured (.ci/gates writes it).
type CIReport struct {
	Commit   string     `json:"commit"`
	Time     time.Time  `json:"time"`
	Coverage []CIFigure `json:"coverage"`
	Bench    []CIFigure `json:"bench"`
}

// CIFigure is one measured figure and the floor it is held to.
type CIFigure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Floor float64 `json:"floor"`
}

// ReadCIReport reads a CI report file.
func ReadCIReport(path string) (*CIReport, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no CI report at %s: run the CI gates (make gates) on the commit being promoted", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read the CI report: %w", err)
	}
	var r CIReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("CI report %s: %v; it is written by .ci/gates", path, err)
	}
	return &r, nil
}

// ciGates are the coverage and bench-ratio gates of the CI report at
// path: each figure at or above its floor, and at least one of each.
func ciGates(path string) []Gate {
	r, err := ReadCIReport(path)
	if err != nil {
		return []Gate{
			{Name: GateCoverage, Threshold: "every package ≥ its floor", Measured: err.Error()},
			{Name: GateBench, Threshold: "every ratio ≥ its floor", Measured: err.Error()},
		}
	}
	where := fmt.Sprintf(" (CI run of %s at %s)", shortCommit(r.Commit), r.Time.UTC().Format(time.RFC3339))
	return []Gate{
		figuresGate(GateCoverage, "every package ≥ its floor", "%.1f%%", r.Coverage, where),
		figuresGate(GateBench, "every ratio ≥ its floor", "%.2f", r.Bench, where),
	}
}

func figuresGate(name, threshold, format string, figs []CIFigure, where string) Gate {
	g := Gate{Name: name, Threshold: threshold, Pass: len(figs) > 0}
	var parts []string
	below := 0
	for _, f := range figs {
		mark := "≥"
		if f.Value < f.Floor {
			mark, g.Pass = "<", false
			below++
		}
		parts = append(parts, fmt.Sprintf("%s "+format+" %s "+format, f.Name, f.Value, mark, f.Floor))
	}
	g.Value = float64(below)
	if len(figs) == 0 {
		g.Measured = "no figures in the CI report" + where
		return g
	}
	g.Measured = strings.Join(parts, ", ") + where
	return g
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	if c == "" {
		return "an unknown commit"
	}
	return c
}
