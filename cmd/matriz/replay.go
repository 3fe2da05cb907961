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
	}
}

// runReplay routes `matriz replay <subcommand>`.
func runReplay(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: one of %s (run 'matriz replay --help')", replaySubNames())
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		replayUsage(e.stdout)
		return errHelp
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
	fmt.Fprintln(w, "Usage: matriz replay <subcommand> [arguments] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Replays a lane's log into an isolated namespace (matriz.<lane>.replay.NAME.*) and compares")
	fmt.Fprintln(w, "its outputs with the live ones.")
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
