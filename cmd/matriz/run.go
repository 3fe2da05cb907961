package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
)

func runRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "--lane L --brokers HOST:PORT[,…] --registry URL [--group G] [--namespace NAME] [--pipeline FILE] [--http-addr ADDR] [--pprof ADDR]",
		"Runs one lane as a consumer-group member: consumes matriz.<lane>.messages, runs the\n"+
			"stage chain frame by frame, writes results, events, traces and actions, and bad input\n"+
			"to the DLQ. Offsets commit only after every output is acknowledged (acks=all). Start\n"+
			"several with the same --group to split the partitions. SIGINT/SIGTERM finish the open\n"+
			"frames, flush, commit and leave the group. With --namespace NAME it runs beside the lane as a\n"+
			"blue/green side (another spec version on the same input, e.g. --pipeline green.yaml): its own\n"+
			"group and topics matriz.<lane>.NAME.*; control, approvals and the once-only guard of external\n"+
			"actions stay the lane's, so an action runs at most once whichever side reaches it.")
	lane := fs.lane(e, " to run")
	conn := fs.connection()
	group := fs.String("group", "", "consumer `group` (default matriz-<lane>, or matriz-<lane>-<namespace>)")
	namespace := fs.String("namespace", "", "run as a blue/green side `NAME`: its own group, its outputs, decisions, state and checkpoints under matriz.<lane>.NAME.* (deploy them with `matriz deploy --namespace NAME`); the lane's own topics are untouched")
	pipeline := fs.String("pipeline", "", "pipeline spec `file` (default: the embedded pipelines/spec/matriz.yaml)")
	httpAddr := fs.String("http-addr", "", "`address` for /metrics, /healthz and /readyz (empty: none)")
	status := fs.Duration("status-every", time.Second, "status line `interval` (0: none)")
	debug := fs.Bool("debug", false, "also log partition assignments, restores and approvals to stderr (flag changes and warnings are always logged)")
	readerVersion := fs.String("schema-version", "latest", "MatrizMessage schema `version` to read with (v1, v2 or latest): every writer version is resolved into it")
	session := fs.Duration("session-timeout", 10*time.Second, "consumer-group session `timeout`: how long a crashed worker's partitions stay unowned; the broker allows its group.min..group.max.session.timeout.ms (6s..5m0s on the embedded broker)")
	commitEvery := fs.Duration("commit-interval", time.Second, "how often a partition commits its latest durable checkpoint (`interval`): longer means fewer commits and more redone after a crash")
	checkpointEvery := fs.Duration("checkpoint-every", 10*time.Second, "event `time` between two of a partition's checkpoints on matriz.<lane>.checkpoints, where replays can start")
	futureSkew := fs.Duration("max-future-skew", runtime.DefaultMaxFutureSkew, "how far a message's ts may run ahead of its Kafka record timestamp (`duration`); further ahead goes to the DLQ as future_timestamp")
	writeRetryFor := fs.Duration("write-retry-for", runtime.DefaultWriteRetryFor, "how long output writes ride out a broker outage (`duration`) before the lane stops (0: the default)")
	webhook := fs.String("actions-webhook", "", "`URL` each approved external action is POSTed to as JSON (empty: actions are only recorded)")
	pprofAddr := fs.String("pprof", "", "serve Go runtime profiles (/debug/pprof/) on `address` (empty: off)")
	var memLimit memoryLimitFlag
	fs.Var(&memLimit, "memory-limit", fmt.Sprintf("soft limit of the Go heap in `MiB` (the GC works harder near it, and without pause once the live set reaches it; GOMEMLIMIT, when set, wins); default %d + %d per partition of the lane (%d for 6); 0: none; with this limit GOGC is %d unless GOGC is set", memoryLimitBaseMiB, memoryLimitPerPartitionMiB, defaultMemoryLimitMiB(6), laneGCPercent))
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	// Every startup setting is checked here, before any connection: a
	// setting found wrong later would have joined the group and taken
	// partitions from the lane's running workers first.
	rv, err := pipelines.ParseSchemaVersion(*readerVersion)
	if err != nil {
		return usagef("--schema-version %s: %v", *readerVersion, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"status-every", *status}, {"session-timeout", *session}, {"commit-interval", *commitEvery}, {"checkpoint-every", *checkpointEvery}, {"max-future-skew", *futureSkew}, {"write-retry-for", *writeRetryFor}} {
		if d.v < 0 {
			return usagef("--%s %v: want a positive duration", d.name, d.v)
		}
	}
	if *namespace != "" {
		if err := runtime.CheckNamespace(*namespace); err != nil {
			return usagef("--namespace: %v", err)
		}
	}
	if err := checkAddrs(conn.Brokers()); err != nil {
		return usagef("--brokers: %v", err)
	}
	if err := checkRegistryURL(conn.Registry()); err != nil {
		return usagef("--registry: %v", err)
	}
	for _, a := range []struct{ flag, addr string }{{"http-addr", *httpAddr}, {"pprof", *pprofAddr}} {
		if a.addr == "" {
			continue
		}
		if err := checkAddrs([]string{a.addr}); err != nil {
			return usagef("--%s: %v", a.flag, err)
		}
	}
	// The spec is validated, every lane built dry, before any connection.
	sp, err := spec.Load(*pipeline)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelInfo
	}
	cfg := runtime.Config{
		Lane: l, Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Group: *group, Namespace: *namespace, Spec: sp,
		Getenv: e.getenv, SessionTimeout: *session, ReaderVersion: rv, CommitInterval: *commitEvery, CheckpointEvery: *checkpointEvery,
		MaxFutureSkew: *futureSkew, WriteRetryFor: *writeRetryFor,
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})),
	}
	setMemoryLimit(memLimit.orDefault(sp.Lanes[l].Partitions), e.getenv)
	if *pprofAddr != "" {
		stop, err := startPprof(*pprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *webhook != "" {
		wh, err := ops.NewWebhook(*webhook, 10*time.Second)
		if err != nil {
			return usagef("--actions-webhook: %v", err)
		}
		cfg.Executor = wh
	}
	return brokerRefused(pipelines.RunLane(ctx, pipelines.RunLaneConfig{Config: cfg, HTTPAddr: *httpAddr, StatusEvery: *status, Out: e.stdout}))
}

// brokerRefused turns a refusal no retry can fix into the one line that
// names what to change: the flag and the broker's allowed range, the
// lane to deploy, the access to grant. Other errors pass unchanged.
func brokerRefused(err error) error {
	var timeout *runtime.SessionTimeoutError
	var notDeployed *runtime.NotDeployedError
	var denied *runtime.AuthorizationError
	switch {
	case errors.As(err, &timeout):
		return fmt.Errorf("--session-timeout %v %s", timeout.Requested, timeout.Outside())
	case errors.As(err, &notDeployed):
		return notDeployed
	case errors.As(err, &denied):
		return denied
	}
	return err
}

// checkAddrs checks each address is HOST:PORT with a numeric port.
func checkAddrs(addrs []string) error {
	if len(addrs) == 0 {
		return fmt.Errorf("no address given (want HOST:PORT[,…])")
	}
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("%q: want HOST:PORT", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("%q: port %q is not a number from 0 to 65535", a, port)
		}
	}
	return nil
}

// checkRegistryURL checks the registry URL is an http or https URL with a
// host.
func checkRegistryURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want http://HOST:PORT or https://HOST:PORT", s)
	}
	return nil
}
