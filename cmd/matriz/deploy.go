package main

import (
	"context"
	"fmt"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/spec"
)

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "deploy", "--brokers HOST:PORT[,…] --registry URL [--lanes L,…] [--dry-run]",
		"Ensures every lane topic on a Kafka cluster and registers every schema in the schema\n"+
			"registry. Idempotent: a second run reports everything as `exists`. It never deletes\n"+
			"or alters a topic; a topic whose partitions or configs differ is reported, not changed.")
	conn := fs.connection()
	lanes := fs.String("lanes", "experimental,candidate,prod", "`lanes` to deploy, comma-separated")
	dryRun := fs.Bool("dry-run", false, "report what would change, change nothing")
	if _, err := fs.args(args); err != nil {
		return err
	}
	ls, err := pipelines.ParseLanes(*lanes)
	if err != nil {
		return usagef("--lanes: %v", err)
	}
	sp, err := spec.Default()
	if err != nil {
		return err
	}
	rep, err := ops.Deploy(ctx, ops.DeployConfig{
		Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lanes: ls, DryRun: *dryRun, Partitions: sp.Partitions(),
	})
	for _, l := range rep.Lines {
		fmt.Fprintln(e.stdout, l)
	}
	if err != nil {
		return err
	}
	switch {
	case rep.Failed() > 0:
		return fmt.Errorf("%d topics or subjects differ from the spec or failed; see the lines above", rep.Failed())
	case !rep.Changed():
		fmt.Fprintln(e.stdout, "nothing to change: every topic and subject exists")
	case *dryRun:
		fmt.Fprintln(e.stdout, "dry run: nothing was changed")
	}
	return nil
}
