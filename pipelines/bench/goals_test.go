package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// measuredReport is a report in which every goal's figure was measured
// and meets its threshold.
func measuredReport() Report {
	return Report{
		N: 1000, ChainRate: 70_000, FanoutRate: 100_000, FanoutRatio: 0.7, ReplayRate: 50_000, ReplayRatio: 50_000.0 / 70_000,
		OfferedRate: 20_000, SteadyRate: 19_900, SteadyBacklog: 500, SteadyP95: 2 * time.Millisecond, SteadyP99: 80 * time.Millisecond,
		LowRateP99:   map[int]time.Duration{100: 60 * time.Millisecond, 2000: 70 * time.Millisecond},
		OverloadRate: 200_000, OverloadPeakRSS: 200 << 20, ExperimentalDrops: 10, ExperimentalDropsAccounted: 10,
		ScaleOutOne: 20_000, ScaleOutTwo: 34_000, ScaleOutRatio: 1.7,
		CodecRoundTrip: 1500 * time.Nanosecond, CodecAllocs: 8,
	}
}

func outcome(t *testing.T, outs []Outcome, name string) Outcome {
	t.Helper()
	for _, o := range outs {
		if o.Goal.Name == name {
			return o
		}
	}
	t.Fatalf("no outcome for goal %q in %v", name, outs)
	return Outcome{}
}

// TestGoalsAllMet: a report meeting every goal passes the full check,
// and every goal of the table was evaluated.
func TestGoalsAllMet(t *testing.T) {
	outs, err := Check(measuredReport(), CheckAll)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(outs) != len(Goals) {
		t.Fatalf("%d outcomes for %d goals", len(outs), len(Goals))
	}
	for _, o := range outs {
		if !o.Measured || !o.Met || o.Missed() || !strings.Contains(o.String(), ": met, measured ") {
			t.Errorf("%s", o)
		}
	}
}

// TestGoalsMissed: each figure just past its threshold fails its own goal
// only, and the check's lines name goal, threshold and measured figure.
func TestGoalsMissed(t *testing.T) {
	cases := []struct {
		goal  string
		spoil func(r *Report)
		fig   string
	}{
		{"chain/fan-out", func(r *Report) { r.FanoutRatio = 0.59 }, "0.59"},
		{"replay/chain", func(r *Report) { r.ReplayRatio = 0.49 }, "0.49"},
		{"chain rate", func(r *Report) { r.ChainRate = 59_999 }, "59999 msgs/s"},
		{"steady answered", func(r *Report) { r.SteadyRate = 19_000 }, "19000 of 20000 msgs/s"},
		{"steady answered", func(r *Report) { r.SteadyBacklog = 20_000 }, "backlog 20000 (1.00 s)"},
		{"steady p99", func(r *Report) { r.SteadyP99 = 101 * time.Millisecond }, "101ms"},
		{"tick p95", func(r *Report) { r.SteadyP95 = 6 * time.Millisecond }, "6ms"},
		{"low-rate p99 at 100 msgs/s", func(r *Report) { r.LowRateP99[100] = time.Second }, "1s"},
		{"low-rate p99 at 2000 msgs/s", func(r *Report) { r.LowRateP99[2000] = 200 * time.Millisecond }, "200ms"},
		{"overload peak RSS", func(r *Report) { r.OverloadPeakRSS = 257 << 20 }, "257.0 MiB"},
		{"overload accounting", func(r *Report) { r.ExperimentalDropsAccounted = 9 }, "dropped 10, accounted 9"},
		{"overload accounting", func(r *Report) { r.ProdOverloadDropped = 1 }, "prod dropped 1"},
		{"overload peak RSS", func(r *Report) {
			r.OverloadPeakRSS, r.OverloadPeakRSSByLane = 300<<20, map[string]uint64{"experimental": 100 << 20, "prod": 300 << 20}
		}, "300.0 MiB (experimental 100.0 MiB, prod 300.0 MiB)"},
		{"scale-out", func(r *Report) { r.ScaleOutTwo, r.ScaleOutRatio = 31_980, 1.599 }, "1.60 (31980 over 20000 msgs/s)"},
		{"scale-out", func(r *Report) { r.ScaleOutTwo, r.ScaleOutRatio, r.ScaleOutIdle = 24_000, 1.2, [2]float64{0.3, 0.02} },
			"1.20 (24000 over 20000 msgs/s); the machine's CPU 30% idle with one process, 2% with two"},
		{"codec round trip", func(r *Report) { r.CodecAllocs = 11 }, "11.0 allocs"},
		{"codec round trip", func(r *Report) { r.CodecRoundTrip = 2001 * time.Nanosecond }, "2.001µs"},
	}
	for _, c := range cases {
		r := measuredReport()
		c.spoil(&r)
		outs, err := Check(r, CheckAll)
		var missed *GoalsMissedError
		if !errors.As(err, &missed) || len(missed.Missed) != 1 {
			t.Fatalf("%s spoiled: check gave %v, want exactly that goal missed", c.goal, err)
		}
		o := outcome(t, outs, c.goal)
		line := missed.Lines()[0]
		if !o.Measured || o.Met || !strings.Contains(line, "goal "+c.goal+" ("+o.Goal.Threshold+"): missed, measured ") || !strings.Contains(line, c.fig) {
			t.Errorf("%s spoiled: line %q, want it missed with %q", c.goal, line, c.fig)
		}
	}
}

// TestGoalsNotMeasured: a goal whose figure is absent is "not measured"
// and fails the check; it is never passed. (Without a chain rate the
// ratios over it are not measured either.)
func TestGoalsNotMeasured(t *testing.T) {
	cases := []struct {
		goal  string
		spoil func(r *Report)
	}{
		{"chain/fan-out", func(r *Report) { r.FanoutRate = 0 }},
		{"replay/chain", func(r *Report) { r.ReplayRate = 0 }},
		{"chain rate", func(r *Report) { r.ChainRate = 0 }},
		{"steady answered", func(r *Report) { r.SteadyRate = 0; r.SteadyBacklog = 0 }},
		{"steady p99", func(r *Report) { r.SteadyP99 = 0 }},
		{"tick p95", func(r *Report) { r.SteadyP95 = 0 }},
		{"low-rate p99 at 100 msgs/s", func(r *Report) { delete(r.LowRateP99, 100) }},
		{"low-rate p99 at 2000 msgs/s", func(r *Report) { r.LowRateP99 = nil }},
		{"overload peak RSS", func(r *Report) { r.OverloadPeakRSS = 0 }},
		{"overload accounting", func(r *Report) { r.OverloadRate = 0 }},
		{"scale-out", func(r *Report) { r.ScaleOutOne, r.ScaleOutRatio = 0, 0 }},
		{"scale-out", func(r *Report) { r.ScaleOutTwo, r.ScaleOutRatio = 0, 0 }},
		{"codec round trip", func(r *Report) { r.CodecRoundTrip, r.CodecAllocs = 0, 0 }},
	}
	for _, c := range cases {
		r := measuredReport()
		c.spoil(&r)
		outs, err := Check(r, CheckAll)
		o := outcome(t, outs, c.goal)
		if o.Measured || o.Met || !o.Missed() || o.String() != "goal "+c.goal+" ("+o.Goal.Threshold+"): not measured" {
			t.Errorf("%s unmeasured: outcome %q", c.goal, o)
		}
		var missed *GoalsMissedError
		if !errors.As(err, &missed) || !strings.Contains(strings.Join(missed.Lines(), "\n"), o.String()) {
			t.Errorf("%s unmeasured: check gave %v, want that goal failing it", c.goal, err)
		}
	}
	// The zero report measured nothing: every goal fails the check.
	outs, err := Check(Report{}, CheckAll)
	var missed *GoalsMissedError
	if !errors.As(err, &missed) || len(missed.Missed) != len(Goals) || len(outs) != len(Goals) {
		t.Fatalf("zero report: %v", err)
	}
}

// TestCheckRatiosOnly: --check=ratios evaluates the ratio goals alone, so
// a slow machine's absolute rates do not fail it, a ratio does.
func TestCheckRatiosOnly(t *testing.T) {
	r := measuredReport()
	r.ChainRate, r.SteadyP99, r.OverloadRate = 1000, 0, 0 // absolute goals missed and unmeasured
	outs, err := Check(r, CheckRatios)
	if err != nil {
		t.Fatalf("ratios with absolute goals missed: %v", err)
	}
	var names []string
	for _, o := range outs {
		names = append(names, o.Goal.Name)
	}
	if strings.Join(names, ",") != "chain/fan-out,replay/chain" {
		t.Fatalf("ratio goals %v, want chain/fan-out and replay/chain", names)
	}
	r.FanoutRatio = 0.3
	if _, err := Check(r, CheckRatios); err == nil || !strings.Contains(err.Error(), "1 of 2 goals") {
		t.Fatalf("ratio missed: check gave %v", err)
	}
	if outs, err := Check(Report{}, CheckNone); outs != nil || err != nil {
		t.Fatalf("no check: %v %v", outs, err)
	}
}

func TestParseCheckMode(t *testing.T) {
	for in, want := range map[string]CheckMode{"": CheckNone, "false": CheckNone, "true": CheckAll, "all": CheckAll, "ratios": CheckRatios, "RATIOS": CheckRatios} {
		got, err := ParseCheckMode(in)
		if err != nil || got != want {
			t.Errorf("ParseCheckMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := ParseCheckMode("ratio")
	var ce *CheckModeError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--check=ratios") {
		t.Fatalf("ParseCheckMode(ratio): %v", err)
	}
}
