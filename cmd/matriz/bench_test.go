package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/bench"
)

// TestBenchHelpNamesProfilesAndCheck: --help says the profiles cover the
// chain phase and how --check gates.
func TestBenchHelpNamesProfilesAndCheck(t *testing.T) {
	code, out, _ := runCLI("bench", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--cpuprofile file", "--memprofile file", "profile the chain phase only", "--check", "=ratios", "--short", "--broker-in-memory", "GOGC (400; GOGC or GOMEMLIMIT in the environment wins)", "steady phase duration (--short: 10s) (default 1m0s)", "fan-out copy", "scale-out phase", "peak RSS of each lane's own `matriz run` process"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchBadCheckIsUsage: an unknown --check value is a usage error of
// one line that names the values it takes.
func TestBenchBadCheckIsUsage(t *testing.T) {
	code, _, errOut := runCLI("bench", "--check=ratio")
	if code != 2 || strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.Contains(errOut, "--check=ratios") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// TestBenchCheckExitsOnMissedGoal: with --check a missed goal and an
// unmeasured one each get a line on stderr naming goal, threshold and
// figure, the command exits 1, and stdout still ends with the report's
// line; --check=ratios ignores the absolute goals; no check exits 0.
func TestBenchCheckExitsOnMissedGoal(t *testing.T) {
	rep := bench.Report{N: 100, Partitions: 6, CopyRate: 90_000, ChainRate: 30_000, Ratio: 1.0 / 3, FanoutRate: 40_000, FanoutRatio: 0.75,
		ReplayRate: 30_000, ReplayRatio: 1, SteadyP95: 7 * time.Millisecond,
		Writes: []bench.KindWrites{{Kind: "results", Records: 100, ValueBytes: 75_000}}}
	run := func(mode bench.CheckMode) (int, string, string) {
		var out, errb bytes.Buffer
		code := report(&errb, "bench", printBench(&env{stdout: &out, stderr: &errb}, rep, bench.Goals, mode))
		return code, out.String(), errb.String()
	}
	code, out, errOut := run(bench.CheckAll)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 1 || !strings.HasPrefix(lines[len(lines)-1], "copy 90000 msgs/s, chain 30000 msgs/s (ratio 0.33), fan-out 40000 msgs/s (ratio 0.75)") {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	for _, want := range []string{"goal chain rate (≥ 60000 msgs/s): missed, measured 30000 msgs/s\n", "goal tick p95 (≤ 5ms): missed, measured 7ms\n",
		"goal steady p99 (≤ 100ms): not measured\n", "matriz bench: --check: 10 of 12 goals missed or not measured\n", "goal scale-out (≥ 1.60): not measured\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "chain/fan-out") {
		t.Errorf("a met goal on stderr:\n%s", errOut)
	}
	if code, _, errOut := run(bench.CheckRatios); code != 0 || errOut != "" {
		t.Fatalf("--check=ratios: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(bench.CheckNone); code != 0 || errOut != "" {
		t.Fatalf("no check: exit %d, stderr %q", code, errOut)
	}
}

// TestBenchFloorGatesRatioGoalsBelowTheirGoal: --floor replaces a ratio
// goal's minimum, so a run that misses the goal but holds the floor passes
// --check=ratios, and one below the floor fails it naming floor and goal.
func TestBenchFloorGatesRatioGoalsBelowTheirGoal(t *testing.T) {
	rep := bench.Report{N: 100, Partitions: 6, CopyRate: 90_000, ChainRate: 30_000, Ratio: 1.0 / 3, FanoutRate: 100_000, FanoutRatio: 0.3,
		ReplayRate: 30_000, ReplayRatio: 1, Writes: []bench.KindWrites{{Kind: "results", Records: 100, ValueBytes: 75_000}}}
	run := func(floors map[string]float64) (int, string) {
		goals, err := bench.WithFloors(bench.Goals, floors)
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := report(&errb, "bench", printBench(&env{stdout: &out, stderr: &errb}, rep, goals, bench.CheckRatios))
		return code, errb.String()
	}
	if code, errOut := run(nil); code != 1 || !strings.Contains(errOut, "goal chain/fan-out (≥ 0.60): missed, measured 0.30") {
		t.Fatalf("no floor: exit %d, stderr %q", code, errOut)
	}
	if code, errOut := run(map[string]float64{"chain/fan-out": 0.2}); code != 0 {
		t.Fatalf("floor 0.2 under a ratio of 0.3: exit %d, stderr %q", code, errOut)
	}
	code, errOut := run(map[string]float64{"chain/fan-out": 0.35, "replay/chain": 0.5})
	if code != 1 || !strings.Contains(errOut, "goal chain/fan-out (≥ 0.35 (floor; goal ≥ 0.60)): missed, measured 0.30") || strings.Contains(errOut, "replay/chain") {
		t.Fatalf("floor 0.35 over a ratio of 0.3: exit %d, stderr %q", code, errOut)
	}
	for _, bad := range []string{"chain/fan-out", "chain rate=0.5", "chain/fan-out=zero", "chain/fan-out=-1"} {
		code, _, errOut := runCLI("bench", "--floor", bad)
		if code != 2 || strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.Contains(errOut, "--floor") {
			t.Errorf("--floor %s: exit %d, stderr %q", bad, code, errOut)
		}
	}
}

// TestBenchShortProfileKeepsWhatWasGiven: --short offers the steady rate
// for 10 s over 20,000 messages unless --steady or --n was given (the
// full profile's 60 s is the flag's default, which the help test pins).
func TestBenchShortProfileKeepsWhatWasGiven(t *testing.T) {
	for _, c := range []struct {
		explicit map[string]bool
		n        int
		steady   time.Duration
	}{
		{map[string]bool{}, 20_000, 10 * time.Second},
		{map[string]bool{"steady": true}, 20_000, 45 * time.Second},
		{map[string]bool{"n": true}, 100_000, 10 * time.Second},
	} {
		cfg := bench.Config{N: 100_000, SteadyFor: 45 * time.Second}
		if !c.explicit["steady"] {
			cfg.SteadyFor = bench.DefaultSteadyFor
		}
		applyShortProfile(&cfg, c.explicit)
		if cfg.N != c.n || cfg.SteadyFor != c.steady || cfg.Events != 30_000 {
			t.Errorf("--short with %v given: n %d, steady %v, events %d; want n %d, steady %v, events 30000", c.explicit, cfg.N, cfg.SteadyFor, cfg.Events, c.n, c.steady)
		}
	}
}
