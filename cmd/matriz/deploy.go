package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
)

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "deploy", "--brokers HOST:PORT[,…] --registry URL [--lanes L,…] [--pipeline FILE] [--namespace NAME,…] [--replication-factor N] [--min-insync-replicas M] [--acls] [--dry-run]",
		"Ensures every lane topic on a Kafka cluster and registers every schema in the schema\n"+
			"registry. Idempotent: a second run reports everything as `exists`. It never deletes\n"+
			"or alters a topic; a topic whose partitions or configs differ is reported, not changed,\n"+
			"and so is one whose replication or min.insync.replicas is below what the deploy asks for\n"+
			"(they make acks=all weaker); more of either is stronger and passes.")
	conn := fs.connection()
	lanes := fs.String("lanes", "experimental,candidate,prod", "`lanes` to deploy, comma-separated")
	dryRun := fs.Bool("dry-run", false, "report what would change, change nothing")
	pipeline := fs.String("pipeline", "", "pipeline spec `FILE` whose partitions and canaries to deploy (default: the embedded spec); a lane with a canary also gets matriz.L.canary.*")
	sides := fs.String("namespace", "", "also deploy blue/green sides `NAME[,…]` of every lane deployed: matriz.<lane>.NAME.* with their own state and checkpoints (for `matriz run --namespace NAME`)")
	acls := fs.Bool("acls", false, "also grant the lanes' ACLs: matriz-<lane> reads its lane and matriz.control and writes only its outputs and groups, approver alone writes approvals, operator alone matriz.control (run as a superuser; with --dry-run, prints the bindings)")
	replicas := fs.Int("replication-factor", 0, "replicas of every topic, `N` (0: 3 on a cluster of three or more brokers, else one per broker)")
	minInsync := fs.Int("min-insync-replicas", 0, "replicas that must have a record before acks=all answers, `M` (0: 2 with three replicas, else 1)")
	if _, err := fs.args(args); err != nil {
		return err
	}
	var sideNames []string
	if *sides != "" {
		sideNames = strings.Split(*sides, ",")
		for _, n := range sideNames {
			if err := runtime.CheckNamespace(n); err != nil {
				return usagef("--namespace: %v", err)
			}
		}
	}
	ls, err := pipelines.ParseLanes(*lanes)
	if err != nil {
		return usagef("--lanes: %v", err)
	}
	sp, err := spec.Load(*pipeline)
	if err != nil {
		return usagef("--pipeline: %v", err)
	}
	rep, err := ops.Deploy(ctx, ops.DeployConfig{
		Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lanes: ls, DryRun: *dryRun, Partitions: sp.Partitions(), Namespaces: sp.Namespaces(), Sides: sideNames,
		ReplicationFactor: *replicas, MinInsyncReplicas: *minInsync, ACLs: *acls,
	})
	var de *ops.DurabilityError
	if errors.As(err, &de) {
		return usagef("%v", err)
	}
	if rep.Durability.Note != "" {
		fmt.Fprintln(e.stdout, "cluster", rep.Durability.Note)
	}
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
