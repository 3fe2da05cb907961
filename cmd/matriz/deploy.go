package main

import (
	"context"
	"fmt"

	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "deploy", "--brokers HOST:PORT[,…] --registry URL [--lanes L,…] [--dry-run]",
		"Ensures every lane topic on a Kafka cluster and registers every schema in the schema\n"+
			"registry. Idempotent: a second run reports everything as `exists`. It never deletes\n"+
			"or alters a topic; a topic whose partitions or configs differ is reported, not changed.")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap `addresses`, comma-separated")
	reg := fs.String("registry", "http://127.0.0.1:8081", "schema registry `URL`")
	lanes := fs.String("lanes", "experimental,candidate,prod", "`lanes` to deploy, comma-separated")
	dryRun := fs.Bool("dry-run", false, "report what would change, change nothing")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.noArgs(); err != nil {
		return err
	}
	ls, err := parseLanes(*lanes)
	if err != nil {
		return err
	}
	sp, err := spec.Default()
	if err != nil {
		return err
	}
	parts := map[schemas.Lane]int{}
	for l, s := range sp.Lanes {
		parts[l] = s.Partitions
	}
	rep, err := ops.Deploy(ctx, ops.DeployConfig{
		Brokers: splitList(*brokers), RegistryURL: *reg, Lanes: ls, DryRun: *dryRun, Partitions: parts,
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

func parseLanes(s string) ([]schemas.Lane, error) {
	var out []schemas.Lane
	for _, item := range splitList(s) {
		l := schemas.Lane(item)
		if !l.Valid() {
			return nil, usagef("--lanes: unknown lane %q; allowed: experimental, candidate, prod", item)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, usagef("--lanes: no lane given; allowed: experimental, candidate, prod")
	}
	return out, nil
}
