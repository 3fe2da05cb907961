package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/inspect"
)

// produceStdin is what `--file -` (or no --file and no --count) reads;
// tests set it.
var produceStdin io.Reader = os.Stdin

func runProduce(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "produce", "--lane L [--file F | -] [--schema-version v1|v2] [--count N [--rate R] [--scenario]] [--echo] [--brokers HOST:PORT,…] [--registry URL]",
		"Sends MatrizMessages to matriz.<lane>.messages. Input is JSON lines, one message each, with\n"+
			"the field names of the Avro schema: msg_id, ts (RFC 3339 or microseconds since 1970), lane,\n"+
			"glyph {id, kind, version, tags}, payload, topic. A missing msg_id gets a random UUID, a\n"+
			"missing ts the current time and a missing lane --lane (--echo prints each message sent, as\n"+
			"JSON, with them filled in). Every line is checked against the Node Contract before it is\n"+
			"sent; a line that fails is reported on stderr with its line number and the field, and is\n"+
			"not sent. Messages are written in the Confluent wire format with the registry's schema id\n"+
			"for the lane's messages subject, keyed by glyph id, acknowledged by all in-sync replicas.\n"+
			"The last line is a summary (sent N, refused M); the exit code is 1 if any line was refused.\n\n"+
			"Without --file, --count N sends N messages of the synthetic stream `matriz dev` uses, at\n"+
			"--rate per second (0: as fast as possible); with neither, JSON lines are read from stdin.\n"+
			"With --scenario the N steps are the scenario of `matriz dev` instead: its scripted\n"+
			"episodes (corrupt records, a P0 action, denials, breakthroughs) fire by event time\n"+
			"within each 24s cycle, on top of one background message per step.")
	lane := fs.lane(e, " to produce to")
	conn := fs.connection()
	file := fs.String("file", "", "read JSON lines from `FILE` (- for stdin)")
	version := fs.String("schema-version", "latest", "MatrizMessage schema `version` to write with: v1, v2 or latest")
	count := fs.Int("count", 0, "send `N` synthetic messages instead of JSON lines")
	rate := fs.Float64("rate", 0, "synthetic messages per `second`; 0 sends as fast as possible")
	echo := fs.Bool("echo", false, "print every message sent as one JSON line")
	scenario := fs.Bool("scenario", false, "with --count: send the steps of the dev scenario, not the plain synthetic stream")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	ver, err := pipelines.ParseSchemaVersion(*version)
	if err == nil {
		err = inspect.CheckVersion(ver)
	}
	if err != nil {
		return usagef("--schema-version: %v", err)
	}
	cfg := inspect.ProduceConfig{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l, Version: ver, Count: *count, Rate: *rate, Scenario: *scenario,
		OnRefused: func(le *inspect.LineError) { fmt.Fprintf(e.stderr, "matriz produce: %v\n", le) }}
	switch {
	case *count < 0 || *rate < 0:
		return usagef("--count and --rate take 0 or more")
	case *scenario && *count == 0:
		return usagef("--scenario needs --count: the number of scenario steps to send")
	case *scenario && inspect.CheckScenarioVersion(ver) != nil:
		return usagef("--scenario: %v", inspect.CheckScenarioVersion(ver))
	case *file != "" && *count > 0:
		return usagef("--file and --count exclude each other: JSON lines or the synthetic stream")
	case *file == "-" || (*file == "" && *count == 0):
		cfg.In = produceStdin
	case *file != "":
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.In = f
	}
	if *echo {
		cfg.Echo = e.stdout
	}
	// Only a principal the broker authenticated is named: the lane then
	// refuses its approvals of the actions these messages ask for.
	if sec := pipelines.CurrentSecurity(); sec.Mechanism != "" {
		cfg.Producer = "User:" + sec.User
	}
	st, err := inspect.Produce(ctx, cfg)
	if err != nil && st.Sent+st.Refused > 0 {
		return fmt.Errorf("%w (%v before it)", err, st)
	}
	if err != nil {
		return err
	}
	if st.Refused > 0 {
		return fmt.Errorf("%v", st)
	}
	fmt.Fprintf(e.stderr, "matriz produce: %v\n", st)
	return nil
}
