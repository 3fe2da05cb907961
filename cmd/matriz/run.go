package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

func runRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "--lane L --brokers HOST:PORT[,…] --registry URL [--group G] [--pipeline FILE] [--http-addr ADDR]",
		"Runs one lane as a consumer-group member: consumes matriz.<lane>.messages, runs the\n"+
			"stage chain frame by frame, writes results, events, traces and actions, and bad input\n"+
			"to the DLQ. Offsets commit only after every output is acknowledged (acks=all). Start\n"+
			"several with the same --group to split the partitions. SIGINT/SIGTERM finish the open\n"+
			"frames, flush, commit and leave the group.")
	lane := fs.String("lane", "", "`lane` to run: experimental, candidate or prod (default $LUKHAS_LANE)")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap `addresses`, comma-separated")
	reg := fs.String("registry", "http://127.0.0.1:8081", "schema registry `URL`")
	group := fs.String("group", "", "consumer `group` (default matriz-<lane>)")
	pipeline := fs.String("pipeline", "", "pipeline spec `file` (default: the embedded pipelines/matriz.yaml)")
	httpAddr := fs.String("http-addr", "", "`address` for /metrics and /healthz (empty: none)")
	status := fs.Duration("status-every", time.Second, "status line `interval` (0: none)")
	debug := fs.Bool("debug", false, "log assignments, flag changes and client warnings to stderr")
	readerVersion := fs.String("schema-version", "latest", "MatrizMessage schema `version` to read with (v1, v2 or latest): every writer version is resolved into it")
	session := fs.Duration("session-timeout", 10*time.Second, "consumer-group session `timeout`: how long a crashed worker's partitions stay unowned")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.noArgs(); err != nil {
		return err
	}
	l, err := resolveLane(*lane, e)
	if err != nil {
		return err
	}
	rv, err := schemas.ParseVersion(*readerVersion)
	if err != nil {
		return usagef("--schema-version: %v", err)
	}
	// The spec is validated before any connection is made.
	sp, err := spec.Load(*pipeline)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := observe.NewMetrics(reg2)
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		srv, err := observe.StartHTTP(*httpAddr, reg2, func() error { return nil })
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	counters := &observe.LaneCounters{}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, runtime.RunConfig{
			Lane: l, Brokers: splitList(*brokers), RegistryURL: *reg, Group: *group, Spec: sp,
			Getenv: e.getenv, Metrics: metrics, Counters: counters, Logger: logger, SessionTimeout: *session, ReaderVersion: rv,
			Ready: func() { close(ready) },
		})
	}()
	select {
	case err := <-done:
		return err
	case <-ready:
	}
	fmt.Fprintf(e.stdout, "matriz run: lane %s joined group %s on %s\n", l, groupName(*group, l), *brokers)
	var tick <-chan time.Time
	if *status > 0 {
		tk := clock.Real{}.NewTicker(*status)
		defer tk.Stop()
		tick = tk.C()
	}
	line := observe.NewStatusLine(e.stdout, []schemas.Lane{l}, func(schemas.Lane) *observe.LaneCounters { return counters }, nil)
	for {
		select {
		case err := <-done:
			if err == nil {
				fmt.Fprintf(e.stdout, "matriz run: lane %s stopped: offsets committed, group left\n", l)
			}
			return err
		case now := <-tick:
			line.Print(now)
		}
	}
}

func groupName(g string, l schemas.Lane) string {
	if g != "" {
		return g
	}
	return "matriz-" + string(l)
}

// resolveLane takes --lane, else LUKHAS_LANE.
func resolveLane(flagValue string, e *env) (schemas.Lane, error) {
	v := flagValue
	if v == "" {
		v = e.getenv("LUKHAS_LANE")
	}
	if v == "" {
		return "", usagef("no lane: pass --lane experimental|candidate|prod or set LUKHAS_LANE")
	}
	l := schemas.Lane(v)
	if !l.Valid() {
		return "", usagef("lane %q: want experimental, candidate or prod", v)
	}
	return l, nil
}
