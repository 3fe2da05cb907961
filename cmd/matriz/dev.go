package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines"
)

func runDev(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev", "[--data-dir .matriz] [--http-addr 127.0.0.1:9464] [--rate N] [--retention 30m]",
		"Runs everything in one process: the embedded Kafka broker and schema registry, deploy,\n"+
			"a built-in scenario producer on every lane (healthy traffic plus a drift episode, a fold\n"+
			"storm, breakthrough spikes, risky and unconsented actions, a P0 action in prod awaiting\n"+
			"approval, corrupted records), and the full stage chain per lane. The lanes start log-only\n"+
			"(DISPATCH_ENABLED and EXT_ACTIONS_ENABLED off); after --flags-on-after the scenario turns\n"+
			"both on through matriz.control, so the switch shows in the log and on the events topics (the\n"+
			"executor only records). A flag set in the environment is left as the environment says.\n"+
			"Serves a live page at http://<http-addr>/ and /metrics, /healthz, /readyz, and prints the\n"+
			"status every second (on a terminal a table redrawn in place, else one line). Per lane: in/out\n"+
			"msgs/s, Σ messages answered, p95 frame time, fps, the drift EMA, brk (fold-guard circuit\n"+
			"breaks), bt (breakthrough flags), deny (guardian denials), dlq (records dead-lettered).\n"+
			"Ctrl-C stops it\n"+
			"cleanly; data stays in --data-dir, and the next start resumes from committed offsets.\n"+
			"Disk stays bounded: every stream topic keeps the last --retention of records (the event\n"+
			"log too, so a replay can start no earlier); compacted topics keep the latest value per\n"+
			"key. At the default rate the streams take about 2.5 MB a second (30 minutes: ~4.5 GB).\n"+
			"The status line ends with the data dir's size and the process's resident memory.")
	dataDir := fs.String("data-dir", ".matriz", "`directory` for broker data (topics, offsets, schemas)")
	httpAddr := fs.String("http-addr", "127.0.0.1:9464", "`address` for the live page, /metrics, /healthz and /readyz")
	rate := fs.Int("rate", 200, "synthetic `messages` per second per lane")
	retention := fs.Duration("retention", pipelines.DefaultDevRetention, "`window` of records every stream topic keeps")
	listen := fs.String("listen", "127.0.0.1:9092", "Kafka listen `address` (so kcat and friends can connect)")
	regListen := fs.String("registry-listen", "127.0.0.1:8081", "schema registry listen `address`")
	debug := fs.Bool("debug", false, "log client warnings, assignments and restores to stderr (flag changes are always logged)")
	flagsOnAfter := fs.Duration("flags-on-after", pipelines.DefaultDevFlagsOnAfter, "how long the lanes run log-only before the scenario turns DISPATCH_ENABLED and EXT_ACTIONS_ENABLED on (`duration`; 0: never)")
	pprofAddr := fs.String("pprof", "", "serve Go runtime profiles (/debug/pprof/) on `address` (empty: off)")
	if _, err := fs.args(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		stop, err := startPprof(*pprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *rate < 1 {
		return usagef("--rate %d: want at least 1 message per second", *rate)
	}
	if *flagsOnAfter < 0 {
		return usagef("--flags-on-after %v: want 0 (never) or a positive duration", *flagsOnAfter)
	}
	if *flagsOnAfter == 0 {
		*flagsOnAfter = -1 // DevConfig's "never"; its 0 is the default
	}
	if *retention < time.Second {
		return usagef("--retention %v: want at least 1s", *retention)
	}
	// Without --debug only flag changes and refused control records reach
	// stderr: a kill switch flipping is something to see in any case.
	logger := slog.New(controlOnly{slog.NewTextHandler(e.stderr, nil)})
	if *debug {
		logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	return pipelines.Dev(ctx, pipelines.DevConfig{
		DataDir: *dataDir, HTTPAddr: *httpAddr, Rate: *rate, Retention: *retention,
		BrokerListen: *listen, RegistryListen: *regListen, FlagsOnAfter: *flagsOnAfter,
		// With --debug stderr is busy: a table redrawn in place would be
		// torn by the log lines, so the status stays one line per second.
		Out: e.stdout, StatusTable: isTerminal(e.stdout) && !*debug, Logger: logger, Getenv: e.getenv,
	})
}

// controlOnly passes on the runtime's records about matriz.control and
// drops the rest (client warnings, assignments), which --debug shows.
type controlOnly struct{ slog.Handler }

func (h controlOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "flag changed" || strings.HasPrefix(r.Message, "control record ignored") {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

func (h controlOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return controlOnly{h.Handler.WithAttrs(as)}
}
func (h controlOnly) WithGroup(name string) slog.Handler {
	return controlOnly{h.Handler.WithGroup(name)}
}
