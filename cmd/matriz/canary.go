package main

import (
	"context"
	"fmt"
	"io"

	"github.com/matriz/pipelines/pipelines/inspect"
)

// runCanary routes `matriz canary <subcommand>`: report is the only one.
func runCanary(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: report (run 'matriz canary --help')")
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		canaryUsage(e.stdout)
		return errHelp
	case "report":
		return runCanaryReport(ctx, e, args[1:])
	}
	return usagef("unknown subcommand %q: report (run 'matriz canary --help')", args[0])
}

func canaryUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: matriz canary report --lane L [--json] [--brokers HOST:PORT,…] [--registry URL]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A lane whose pipeline spec has a canary section runs a candidate chain in shadow on a share")
	fmt.Fprintln(w, "of its glyphs (by a hash of the Kafka key), writing to matriz.<lane>.canary.* only and")
	fmt.Fprintln(w, "executing nothing; it aborts itself (CANARY_ENABLED off) when its agreement with the lane")
	fmt.Fprintln(w, "falls below the spec's min_agreement. `matriz canary report` compares the two from the log.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Subcommands:")
	fmt.Fprintln(w, "  report  agreement, outcome mix and its drift, latency and aborts of a lane's canary")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fmt.Fprintf(w, "  --lane LANE, --brokers ADDRESSES, --registry URL\n      (defaults $LUKHAS_LANE, %s, %s)\n", defaultBrokers, defaultRegistry)
	fmt.Fprintln(w, "  --json\n      print the report as one JSON object")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'matriz canary report --help' for the whole story.")
}

func runCanaryReport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "canary report", "--lane L [--json] [--brokers HOST:PORT,…] [--registry URL]",
		"Compares a lane's canary with the lane on the same inputs: the canary's results on\n"+
			"matriz.<lane>.canary.results joined by msg_id with the lane's on matriz.<lane>.results.\n"+
			"Prints the inputs both answered, the agreement rate (result ok and guardian outcome alike,\n"+
			"as the canary's kill switch counts it), each side's outcome mix and their drift (total\n"+
			"variation distance, 0 same … 1 disjoint), latency from event time to the result's write on\n"+
			"each side and how much later the canary's came, the first disagreements, and every\n"+
			"canary_abort event on matriz.<lane>.events. Every topic is read to its end as of the start.\n"+
			"--json prints the report as one JSON object (durations in nanoseconds).")
	lane := fs.lane(e, " whose canary to report on")
	conn := fs.connection()
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	rep, err := inspect.ReportCanary(ctx, inspect.CanaryConfig{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l})
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(e.stdout)
	}
	return rep.WriteText(e.stdout)
}
