package bench

// The goals of issue 15 as data: each names its threshold and how the
// report measures it. `matriz bench --check` evaluates them; a goal whose
// figure this run did not measure is "not measured", which a check
// counts as missed: a gate passes only on what it saw.

import (
	"fmt"
	"time"
)

// Goal is one target a bench run is checked against.
type Goal struct {
	Name      string
	Threshold string // as printed
	How       string // how the report measures it
	Ratio     bool   // a ratio of two rates of this run: checked by --check=ratios
	// Measure returns the figure as printed and whether it meets the
	// threshold; measured is false when this run did not measure it.
	Measure func(r Report) (figure string, ok, measured bool)
	// Min and Value make a ratio goal: met when Value ≥ Min. WithFloors
	// replaces Min, so CI can gate on a floor below the goal.
	Min   float64
	Value func(r Report) (v float64, measured bool)
}

// ratioGoal is a goal met when value ≥ min.
func ratioGoal(name, how string, min float64, value func(Report) (float64, bool)) Goal {
	g := Goal{Name: name, How: how, Ratio: true, Min: min, Value: value}
	return g.withMin(min)
}

func (g Goal) withMin(min float64) Goal {
	value := g.Value
	g.Min, g.Threshold = min, fmt.Sprintf("≥ %.2f", min)
	g.Measure = func(r Report) (string, bool, bool) {
		v, measured := value(r)
		return atLeast(v, min, measured)
	}
	return g
}

// Goals is the table --check evaluates, in report order.
var Goals = []Goal{
	ratioGoal("chain/fan-out", "chain msgs/s over the fan-out copy's inputs/s, both over the same N in this run", 0.6,
		func(r Report) (float64, bool) { return r.FanoutRatio, r.ChainRate > 0 && r.FanoutRate > 0 }),
	ratioGoal("replay/chain", "replay msgs/s over chain msgs/s, the chain phase's log replayed in this run", 0.5,
		func(r Report) (float64, bool) { return r.ReplayRatio, r.ReplayRate > 0 && r.ChainRate > 0 }),
	{Name: "chain rate", Threshold: "≥ 60000 msgs/s",
		How: "N messages answered (results + DLQ) over the chain phase's wall time",
		Measure: func(r Report) (string, bool, bool) {
			return fmt.Sprintf("%.0f msgs/s", r.ChainRate), r.ChainRate >= 60_000, r.ChainRate > 0
		}},
	{Name: "steady answered", Threshold: "≥ 0.98 × offered and backlog < 1 s of input",
		How: "steady phase: answered msgs/s over offered msgs/s; messages produced but unanswered at its end",
		Measure: func(r Report) (string, bool, bool) {
			if r.SteadyRate <= 0 || r.OfferedRate <= 0 {
				return "", false, false
			}
			fig := fmt.Sprintf("%.0f of %d msgs/s, backlog %d (%.2f s)", r.SteadyRate, r.OfferedRate, r.SteadyBacklog, float64(r.SteadyBacklog)/float64(r.OfferedRate))
			return fig, r.SteadyRate >= 0.98*float64(r.OfferedRate) && r.SteadyBacklog < int64(r.OfferedRate), true
		}},
	{Name: "steady p99", Threshold: "≤ 100ms",
		How:     "steady phase: end to end, record timestamp → result acknowledged",
		Measure: func(r Report) (string, bool, bool) { return atMost(r.SteadyP99, 100*time.Millisecond) }},
	{Name: "tick p95", Threshold: "≤ 5ms",
		How:     "steady phase: p95 of frame processing time",
		Measure: func(r Report) (string, bool, bool) { return atMost(r.SteadyP95, 5*time.Millisecond) }},
	{Name: "low-rate p99 at 100 msgs/s", Threshold: "≤ 100ms",
		How:     "end to end at 100 msgs/s offered",
		Measure: func(r Report) (string, bool, bool) { return atMost(r.LowRateP99[100], 100*time.Millisecond) }},
	{Name: "low-rate p99 at 2000 msgs/s", Threshold: "≤ 100ms",
		How:     "end to end at 2,000 msgs/s offered",
		Measure: func(r Report) (string, bool, bool) { return atMost(r.LowRateP99[2000], 100*time.Millisecond) }},
	{Name: "overload peak RSS", Threshold: "≤ 256 MiB",
		How: "overload phase (10× the sustainable rate, experimental and prod): max VmRSS sampled of each lane's own matriz run process",
		Measure: func(r Report) (string, bool, bool) {
			fig := fmtMiB(r.OverloadPeakRSS)
			if ex, pr := r.OverloadPeakRSSByLane["experimental"], r.OverloadPeakRSSByLane["prod"]; ex > 0 || pr > 0 {
				fig += fmt.Sprintf(" (experimental %s, prod %s)", fmtMiB(ex), fmtMiB(pr))
			}
			return fig, r.OverloadPeakRSS <= 256<<20, r.OverloadPeakRSS > 0
		}},
	{Name: "overload accounting", Threshold: "every experimental drop accounted by offset, prod drops none",
		How: "overload phase: drops against the offsets the drop events cover; prod's drops",
		Measure: func(r Report) (string, bool, bool) {
			fig := fmt.Sprintf("experimental dropped %d, accounted %d; prod dropped %d", r.ExperimentalDrops, r.ExperimentalDropsAccounted, r.ProdOverloadDropped)
			return fig, r.ExperimentalDropsAccounted == r.ExperimentalDrops && r.ProdOverloadDropped == 0, r.OverloadRate > 0
		}},
	// Not a ratio goal for --check=ratios: a second process can only add
	// what spare cores the machine has, which a shared CI runner may lack.
	{Name: "scale-out", Threshold: "≥ 1.60",
		How: "two matriz run processes on one group over one, msgs/s answered over the same window and backlog, the broker outside both",
		Measure: func(r Report) (string, bool, bool) {
			fig := fmt.Sprintf("%.2f (%.0f over %.0f msgs/s)", r.ScaleOutRatio, r.ScaleOutTwo, r.ScaleOutOne)
			if one, two := r.ScaleOutIdle[0], r.ScaleOutIdle[1]; one >= 0 && two >= 0 && r.ScaleOutOne > 0 {
				// A second process can only add what cores the first left idle.
				fig += fmt.Sprintf("; the machine's CPU %.0f%% idle with one process, %.0f%% with two", 100*one, 100*two)
			}
			return fig, r.ScaleOutRatio >= ScaleOutGoal, r.ScaleOutOne > 0 && r.ScaleOutTwo > 0
		}},
	{Name: "codec round trip", Threshold: "≤ 2µs and ≤ 10 allocs",
		How: "MatrizMessage decode + MatrizResult encode of a record the chain phase read and wrote, timed in this process",
		Measure: func(r Report) (string, bool, bool) {
			fig := fmt.Sprintf("%v, %.1f allocs", r.CodecRoundTrip, r.CodecAllocs)
			return fig, r.CodecRoundTrip <= 2*time.Microsecond && r.CodecAllocs <= 10, r.CodecRoundTrip > 0
		}},
}

func atLeast(v, min float64, measured bool) (string, bool, bool) {
	return fmt.Sprintf("%.2f", v), v >= min, measured
}

func atMost(d, limit time.Duration) (string, bool, bool) {
	return d.String(), d <= limit, d > 0
}

func fmtMiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Outcome is one goal evaluated against a report.
type Outcome struct {
	Goal     Goal
	Figure   string
	Measured bool
	Met      bool
}

// Missed reports whether a check fails on this goal: missed or not measured.
func (o Outcome) Missed() bool { return !o.Measured || !o.Met }

func (o Outcome) String() string {
	switch {
	case !o.Measured:
		return fmt.Sprintf("goal %s (%s): not measured", o.Goal.Name, o.Goal.Threshold)
	case !o.Met:
		return fmt.Sprintf("goal %s (%s): missed, measured %s", o.Goal.Name, o.Goal.Threshold, o.Figure)
	default:
		return fmt.Sprintf("goal %s (%s): met, measured %s", o.Goal.Name, o.Goal.Threshold, o.Figure)
	}
}

// Evaluate evaluates goals against r; ratiosOnly keeps the ratio goals.
func Evaluate(goals []Goal, r Report, ratiosOnly bool) []Outcome {
	var out []Outcome
	for _, g := range goals {
		if ratiosOnly && !g.Ratio {
			continue
		}
		fig, ok, measured := g.Measure(r)
		out = append(out, Outcome{Goal: g, Figure: fig, Measured: measured, Met: measured && ok})
	}
	return out
}
