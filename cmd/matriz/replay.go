package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// replaySub is one `matriz replay` subcommand.
type replaySub struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

func replaySubs() []replaySub {
	return []replaySub{
		{"diff", "compare a replay's outputs with live or with another replay (exit 1 if they differ)", runReplayDiff},
		{"rm", "delete a replay's topics", runReplayRm},
		{"ls", "list a lane's replays", runReplayLs},
	}
}

// runReplay routes `matriz replay <subcommand>`.
func runReplay(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: one of %s (run 'matriz replay --help')", replaySubNames())
	}
	switch {
	case args[0] == "-h", args[0] == "--help", args[0] == "-help", args[0] == "help":
		replayUsage(e.stdout)
		return errHelp
	case strings.HasPrefix(args[0], "-"):
		return runReplayRun(ctx, e, args) // matriz replay --lane L --from F --into NAME
	}
	for _, s := range replaySubs() {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	return usagef("unknown subcommand %q: one of %s (run 'matriz replay --help')", args[0], replaySubNames())
}

func replaySubNames() string {
	var names []string
	for _, s := range replaySubs() {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func replayUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: matriz replay --lane L --from F [--to T] [--partitions P,…] [--glyph G] [--pipeline FILE] --into NAME")
	fmt.Fprintln(w, "       matriz replay <subcommand> [arguments] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Replays a lane's log into an isolated namespace (matriz.<lane>.replay.NAME.*), applying every")
	fmt.Fprintln(w, "decision the live run recorded at the same point, and compares its outputs with the live ones.")
	fmt.Fprintln(w, "No live topic, offset or state is touched and no external action is executed.")
	fmt.Fprintln(w, "Run 'matriz replay --lane L --help' for the replay's own flags (--from, --to, --into, …).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Subcommands:")
	for _, s := range replaySubs() {
		fmt.Fprintf(w, "  %-6s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fmt.Fprintf(w, "  --lane LANE, --brokers ADDRESSES, --registry URL\n      on every subcommand (defaults $LUKHAS_LANE, %s, %s)\n", defaultBrokers, defaultRegistry)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'matriz replay <subcommand> --help' for its arguments and flags.")
}
