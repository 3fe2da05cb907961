// Command matriz runs the MATRIZ consciousness stream on Kafka.
//
// Each subcommand parses its flags and hands a typed config to package
// pipelines; this package holds no pipeline logic. Exit codes: 0 success,
// 1 runtime failure, 2 usage error. Errors are one line a person can act on.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a subcommand may touch of the process.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func commands() []command {
	return []command{
		{"dev", "run everything on the embedded broker and registry with the built-in scenario", runDev},
		{"broker", "run the embedded Kafka broker and schema registry", runBroker},
		{"deploy", "ensure lane topics and register schemas on a Kafka cluster and registry", runDeploy},
		{"run", "run one lane as a consumer-group member", runRun},
		{"actions", "list external actions waiting for a human approval", runActions},
		{"approve", "approve a waiting external action", runApprove},
		{"promote", "check the promotion gates from the lanes' logs and CI; record a promotion that passes", runPromote},
		{"flags", "list and set feature flags and kill switches on matriz.control", runFlags},
		{"events", "print a lane's events between two times, for a glyph or some kinds", runEvents},
		{"goals", "list the Goal Manager's goals of a lane (or a glyph) with their latest status", runGoals},
		{"bench", "measure a raw Kafka copy against the full chain on the embedded broker", runBench},
		{"schema", "list, show, register, check, diff schemas and set compatibility levels", runSchema},
		{"offsets", "show or move a lane's consumer group offsets, keeping its state consistent", runOffsets},
		{"replay", "replay a lane's log into a namespace; diff, rm and ls replays", runReplay},
		{"produce", "send JSON lines (or the synthetic stream) to a lane, validated and Avro-encoded", runProduce},
		{"tail", "print a lane topic's records decoded, one per line", runTail},
		{"explain", "tell the story of one message from the lane's log", runExplain},
		{"canary", "compare a lane's canary with the lane: agreement, outcome drift, latency, aborts", runCanary},
		{"version", "print the version, commit, Go version and schema versions", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go boundShutdown(ctx, os.Stderr, shutdownBound, os.Exit) // shutdown.go
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		topUsage(e.stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		topUsage(e.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, args[1:])
		return report(e.stderr, name, err)
	}
	fmt.Fprintf(e.stderr, "matriz: unknown command %q; run 'matriz --help' for the list\n", name)
	return 2
}

// report prints err as one line and maps it to an exit code.
func report(w io.Writer, name string, err error) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(w, "matriz %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(w, "matriz %s: %v\n", name, err)
		return 1
	}
}

func topUsage(w io.Writer) {
	fmt.Fprintln(w, "matriz runs the MATRIZ consciousness stream on Kafka.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: matriz <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'matriz <command> --help' for a command's flags.")
}
