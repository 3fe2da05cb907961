package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matriz/pipelines/pipelines/replay"
)

// errOutputsDiffer is diff's verdict as an exit code: 1, with the report
// above it.
var errOutputsDiffer = errors.New("outputs differ")

func runReplayDiff(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay diff", "--lane L NAME [OTHER] [--kinds K,…] [--limit N] [--json] [--brokers HOST:PORT,…] [--registry URL]",
		"Compares outputs record by record, keyed by their output id: with NAME alone the live\n"+
			"topics (left) with replay NAME (right), with NAME OTHER replay NAME with replay OTHER.\n"+
			"Each output is identical, changed (with the first differing field and both values),\n"+
			"or on one side only; counts are given per kind, per stage and per guardian outcome.\n"+
			"Records are decoded through the registry and compared field by field. Where an id was\n"+
			"written twice (a crash rewrote it) the last copy wins. A replay's would_execute action\n"+
			"equals live's executed; live's executing and uncertain action records are delivery\n"+
			"bookkeeping and ignored. A replay of part of the log (--from a time, offsets or a\n"+
			"checkpoint) is compared on what it covered: pass it the replay's --from and --to, and live\n"+
			"outputs of offsets the replay did not read are counted as out of scope, not as differences.\n"+
			"Exit 0 when identical, 1 when not.")
	lane := fs.lane(e, " to compare")
	conn := fs.connection()
	kinds := fs.String("kinds", "results,events,traces,actions,dlq", "`kinds` to compare, comma-separated")
	limit := fs.Int("limit", replay.DefaultDiffLimit, "differing records to print, `N` (counts are always complete; -1 prints all)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	from := fs.String("from", "", "the replay's --from: compare only the offsets it covered (default: everything)")
	to := fs.String("to", "end", "the replay's --to, with --from")
	pos, err := fs.parseInterleaved(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || len(pos) > 2 {
		if len(pos) == 0 {
			return usagef("missing NAME, the replay to compare (usage: matriz %s %s)", fs.name, fs.synopsis)
		}
		return usagef("unexpected argument %q (usage: matriz %s %s)", pos[2], fs.name, fs.synopsis)
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	ks, err := replay.ParseDiffKinds(*kinds)
	if err != nil {
		return usagef("--%v", err)
	}
	if *limit == 0 {
		return usagef("--limit 0: want a number of records, or -1 for all")
	}
	cfg := replay.DiffConfig{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l, Right: pos[0], Kinds: ks, Limit: *limit}
	if len(pos) == 2 {
		cfg.Left, cfg.Right = pos[0], pos[1]
	}
	if *from != "" {
		scope, err := replay.Plan(ctx, replay.RunConfig{Lane: l, Brokers: conn.Brokers(), From: *from, To: *to})
		if err != nil {
			return err
		}
		cfg.Scope = scope
	}
	rep, err := replay.Diff(ctx, cfg)
	var ce *replay.DiffConfigError
	if errors.As(err, &ce) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	if !rep.Identical() {
		t := rep.Totals()
		return fmt.Errorf("%w: %d changed, %d only in %s, %d only in %s (lane %s)", errOutputsDiffer, t.Changed, t.OnlyLeft, rep.Left, t.OnlyRight, rep.Right, l)
	}
	return nil
}
