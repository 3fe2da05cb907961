package main

import (
	"context"
	"errors"
	"os"
	"os/user"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/promote"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/spec"
)

func runPromote(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "promote", "--from candidate --to prod [--since TIME] [--allow FILE] [--ci-report FILE] [--pipeline FILE] [--json]",
		"Computes the promotion gates from the lanes' own topics and the last CI run, prints them\n"+
			"as a table (gate, threshold, measured, pass or fail) or JSON, and exits 0 only when\n"+
			"every gate passes; then it writes a promotion event (who, the spec version, each gate's\n"+
			"figure) to the target lane's events topic. The gates, none of which can be skipped:\n"+
			"  ticks                  ≥ 10000 frames of the source lane in the window\n"+
			"  drift EMA              the lane's drift EMA over the window ≤ 0.20\n"+
			"  guardian interlocks    0 actions executed without their approval, 0 decisions that\n"+
			"                         let a message through without consent\n"+
			"  tick p95               no frame ran below the lane's rate (the tick lowers it when\n"+
			"                         its p95 frame time is over the lane's budget)\n"+
			"  capability regression  the window replayed under the target lane's stage parameters\n"+
			"                         changes no guardian outcome the allow-list does not name\n"+
			"  CI coverage, CI bench  the CI report's figures (.ci/gates writes it) ≥ their floors\n"+
			"The regression replay writes to a namespace of its own and removes it after.\n"+
			"Exit 0 when promoted, 1 when a gate is not met or cannot be computed, 2 on bad usage.")
	conn := fs.connection()
	from := fs.String("from", "candidate", "the `lane` whose spec is promoted")
	to := fs.String("to", "prod", "the `lane` it is promoted to")
	since := fs.String("since", "", "start of the window: an RFC 3339 `time` or a duration ago like 24h (default: the whole retained log)")
	allow := fs.String("allow", "", "allow-list `file` of expected decision changes: one guardian outcome change FROM -> TO per line, like allow -> deny")
	ciReport := fs.String("ci-report", promote.DefaultCIReport, "the last CI run's gate report `file`")
	group := fs.String("group", "", "the source lane's consumer `group` (default matriz-<lane>): the regression replay covers the inputs it committed")
	pipeline := fs.String("pipeline", "", "pipeline spec `file` being promoted (default: the embedded spec)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, err := fs.args(args); err != nil {
		return err
	}
	sp, err := spec.Load(*pipeline)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	var specBytes []byte
	if *pipeline != "" {
		if specBytes, err = os.ReadFile(*pipeline); err != nil {
			return err
		}
	}
	cfg := promote.Config{From: pipelines.Lane(*from), To: pipelines.Lane(*to), Brokers: conn.Brokers(), RegistryURL: conn.Registry(),
		Spec: sp, SpecBytes: specBytes, Group: *group, CIReport: *ciReport, Who: promoter(), Getenv: e.getenv}
	if *since != "" {
		if cfg.Since, err = replay.ParseTimeBound(*since, eventsNow()); err != nil {
			return usagef("--since: %v", err)
		}
	}
	if *allow != "" {
		b, err := os.ReadFile(*allow)
		if err != nil {
			return usagef("--allow: %v", err)
		}
		if cfg.AllowList, err = promote.ParseAllowList(*allow, b); err != nil {
			return usagef("--allow: %v", err)
		}
	}
	rep, err := promote.Run(ctx, cfg)
	if ce := (*promote.ConfigError)(nil); errors.As(err, &ce) {
		return usagef("%v", err)
	}
	if rep != nil {
		write := rep.WriteText
		if *asJSON {
			write = rep.WriteJSON
		}
		if werr := write(e.stdout); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// promoter is who runs the promotion, as the operating system names them.
func promoter() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
