package main

import (
	"context"
	"fmt"

	"github.com/matriz/pipelines/pipelines/bench"
)

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench", "[--n N] [--rate R] [--steady D] [--dispatch]",
		"Measures, in one run on the embedded broker: a raw kafka-go consume→produce copy of N\n"+
			"messages, the full stage chain over the same N messages (msgs/s and the ratio), a replay\n"+
			"of that log through the chain with its recorded decisions (msgs/s and replay/chain), the\n"+
			"chain under a steady offered rate (answered msgs/s and the tick's p95 frame time), and a\n"+
			"scan of 300,000 events of a lane's event log (events/s).")
	n := fs.Int("n", 100_000, "`messages` for the copy and the chain")
	rate := fs.Int("rate", 20_000, "steady offered `rate` in msgs/s")
	steady := fs.Duration("steady", 10e9, "steady phase `duration`")
	dispatch := fs.Bool("dispatch", false, "run the chain with DISPATCH_ENABLED (nodes called, not only routed)")
	if _, err := fs.args(args); err != nil {
		return err
	}
	if *n < 1 || *rate < 1 || *steady <= 0 {
		return usagef("--n, --rate and --steady must be positive")
	}
	rep, err := bench.Run(ctx, bench.Config{N: *n, Rate: *rate, SteadyFor: *steady, Dispatch: *dispatch, Out: e.stdout})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, rep)
	return nil
}
