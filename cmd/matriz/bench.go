package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/matriz/pipelines/pipelines/bench"
)

// checkFlag is --check: bare it means every goal (the ratio goals only
// with --short), --check=all every goal, --check=ratios the ratio goals.
type checkFlag struct {
	mode bench.CheckMode
	bare bool
}

func (c *checkFlag) String() string   { return c.mode.String() }
func (c *checkFlag) IsBoolFlag() bool { return true }
func (c *checkFlag) Set(s string) (err error) {
	c.bare = s == "true"
	c.mode, err = bench.ParseCheckMode(s)
	return err
}

// floorFlag is --floor NAME=MIN, repeatable.
type floorFlag map[string]float64

func (f floorFlag) String() string { return fmt.Sprint(map[string]float64(f)) }
func (f floorFlag) Set(s string) error {
	name, min, err := bench.ParseFloor(s)
	if err != nil {
		return err
	}
	f[name] = min
	return nil
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench", "[--n N] [--rate R] [--steady D] [--dispatch] [--short] [--check[=ratios]] [--floor NAME=MIN]... [--cpuprofile FILE] [--memprofile FILE] [--lane-memprofile PREFIX]",
		"Measures, in one run on the embedded broker: two tuned kafka-go baselines over N messages\n"+
			"(a plain copy, one record out per record in, and a fan-out copy writing per input the\n"+
			"records and bytes the chain wrote per input in this run, by kind), the full stage chain\n"+
			"over the same N (msgs/s, allocations per message, peak RSS, records and bytes written per\n"+
			"input by kind, and the ratios chain/copy and chain/fan-out), a replay of that log through\n"+
			"the chain with its recorded decisions (replay/chain), the chain under a steady offered rate\n"+
			"(answered msgs/s, backlog, the tick's p95 frame time, end-to-end p50/p99 from a record's\n"+
			"timestamp to its result acknowledged), the low-rate phase (end-to-end p50/p99 at 100 and\n"+
			"2,000 msgs/s offered evenly, where a quiet partition's frames close by the idle watermark),\n"+
			"the scale-out phase (a backlog answered by one `matriz run` process, then by two on one\n"+
			"group: msgs/s each and two over one, with each process's CPU and how idle the machine\n"+
			"was, since a second process can only use cores the first left), the overload phase (10x\n"+
			"the sustainable rate to experimental, which drops oldest and must account every drop by\n"+
			"offset, and to prod, which holds back and drops nothing; the lanes' figure is the\n"+
			"peak RSS of each lane's own `matriz run` process), a scan of a lane's event log, and a\n"+
			"codec round trip. The scale-out and overload phases run lanes as child processes of this\n"+
			"executable, the broker staying in this one; every child is killed when the bench ends,\n"+
			"fails or is interrupted. The chain and steady phases run the lane in this process with\n"+
			"`matriz run`'s GOGC (400; GOGC or GOMEMLIMIT in the environment wins).\n"+
			"--cpuprofile and --memprofile profile the chain phase only.\n"+
			"--check prints every goal and exits 1 when one is missed or not measured; --short runs\n"+
			"the short profile (20,000 messages, 10s steady) and a bare --check then gates on the ratio\n"+
			"goals only (not scale-out, which needs spare cores), as CI does.")
	n := fs.Int("n", 100_000, "`messages` for the copies and the chain (--short: 20,000)")
	rate := fs.Int("rate", 20_000, "steady offered `rate` in msgs/s")
	steady := fs.Duration("steady", bench.DefaultSteadyFor, "steady phase `duration` (--short: 10s)")
	dispatch := fs.Bool("dispatch", false, "run the chain with DISPATCH_ENABLED (nodes called, not only routed)")
	short := fs.Bool("short", false, "the short profile: 20,000 messages, 30,000 events, shorter latency phases; a bare --check checks the ratio goals only")
	floors := floorFlag{}
	fs.Var(floors, "floor", "`NAME=MIN`: check the ratio goal NAME ("+strings.Join(bench.RatioGoalNames(), ", ")+") against MIN instead of its goal, so CI fails on a regression below the floor; repeatable")
	var check checkFlag
	fs.Var(&check, "check", "exit 1 when a goal is missed or not measured: bare for every goal, =ratios for the ratio goals only (chain/fan-out, replay/chain)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the chain phase (runtime/pprof) to `file`")
	memprofile := fs.String("memprofile", "", "write an allocation profile of the chain phase (runtime/pprof) to `file`")
	inMemory := fs.Bool("broker-in-memory", false, "keep the embedded broker's log in memory instead of files in a temporary directory (kfake's in-memory log copies each segment as it grows)")
	laneMem := fs.String("lane-memprofile", "", "write heap profiles of the overload phase's lane processes, taken as its offering ends, to `prefix`.experimental.pprof and prefix.prod.pprof")
	if _, err := fs.args(args); err != nil {
		return err
	}
	if *n < 1 || *rate < 1 || *steady <= 0 {
		return usagef("--n, --rate and --steady must be positive")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: the scale-out and overload phases start this executable: %w", err)
	}
	cfg := bench.Config{N: *n, Rate: *rate, SteadyFor: *steady, Dispatch: *dispatch, Short: *short,
		CPUProfile: *cpuprofile, MemProfile: *memprofile, Out: e.stdout, Executable: self, LaneMemProfile: *laneMem, BrokerInMemory: *inMemory}
	mode := check.mode
	if *short {
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		applyShortProfile(&cfg, explicit)
		if check.bare {
			mode = bench.CheckRatios
		}
	}
	goals, err := bench.WithFloors(bench.Goals, floors)
	if err != nil {
		return usagef("%v", err)
	}
	// The chain and steady phases run a lane in this process: it gets the
	// GC policy `matriz run` gives a lane, so they measure a lane as it
	// runs (the overload and scale-out phases' lanes are `matriz run`).
	fmt.Fprintf(e.stdout, "gc: %s\n", setLaneGC(e.getenv))
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return printBench(e, rep, goals, mode)
}

// applyShortProfile sets what --short changes, except what a flag given
// on the command line (explicit) set.
func applyShortProfile(cfg *bench.Config, explicit map[string]bool) {
	if !explicit["n"] {
		cfg.N = 20_000
	}
	if !explicit["steady"] {
		cfg.SteadyFor = bench.ShortSteadyFor
	}
	cfg.Events = 30_000
}

// printBench prints the writes table, every goal's outcome and, last, the
// report's line; with a check mode it prints one line per missed goal on
// stderr and returns the check's error.
func printBench(e *env, rep bench.Report, goals []bench.Goal, mode bench.CheckMode) error {
	fmt.Fprintf(e.stdout, "records and bytes written per input (chain phase, %d inputs):\n%s\n", rep.N, rep.WritesTable())
	for _, o := range bench.Evaluate(goals, rep, false) {
		fmt.Fprintln(e.stdout, o)
	}
	fmt.Fprintln(e.stdout, rep)
	_, err := bench.CheckGoals(goals, rep, mode)
	var missed *bench.GoalsMissedError
	if errors.As(err, &missed) {
		for _, l := range missed.Lines() {
			fmt.Fprintln(e.stderr, l)
		}
	}
	return err
}
