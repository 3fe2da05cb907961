package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/matriz/pipelines/pipelines/replay"
)

func runGoals(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "goals", "--lane L [--glyph G] [--open] [--json] [--replay NAME] [--brokers HOST:PORT,…] [--registry URL]",
		"Lists the Goal Manager's goals from the lane's event log, matriz.<lane>.events: every\n"+
			"goal event the goals stage wrote, folded to each goal's latest state. One row per goal:\n"+
			"glyph, goal, parent (- for a root), priority, status (proposed, active, done, failed,\n"+
			"blocked), progress (the share of its subgoals done) and the event time of its last\n"+
			"change; by glyph, then in the order the stage acts on them: P0 first, ties by which\n"+
			"goal came first. --json prints one JSON object per goal with the reason for its status\n"+
			"and where its last change is in the log. The log is read to its end as of the start;\n"+
			"with --glyph only the partition that glyph's key hashes to is read. Goals appear once\n"+
			"the lane dispatches plans to the orchestration node (topic goal, DISPATCH_ENABLED on).")
	lane := fs.lane(e, " whose goals to list")
	conn := fs.connection()
	glyph := fs.String("glyph", "", "only this glyph `id`'s goals")
	open := fs.Bool("open", false, "only goals still to act on: proposed or active")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	replayName := fs.String("replay", "", "read the replay namespace `NAME` (matriz.<lane>.replay.NAME.events) instead")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	q := replay.EventQuery{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l, Glyph: *glyph, Replay: *replayName}
	rows, stats, err := replay.ScanGoals(ctx, q)
	if errors.Is(err, replay.ErrBadQuery) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if *open {
		kept := rows[:0]
		for _, r := range rows {
			if r.Status == "proposed" || r.Status == "active" {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	if stats.Undecodable > 0 {
		fmt.Fprintf(e.stderr, "matriz goals: skipped %d records that do not decode as events (first: %v)\n", stats.Undecodable, stats.FirstUndecodable)
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.stderr, "matriz goals: no goal on %s (%d goal events of %d records read on %d partitions)\n", stats.Topic, stats.Matched, stats.Scanned, stats.Partitions)
		return nil
	}
	out := bufio.NewWriter(e.stdout)
	if *asJSON {
		err = replay.WriteGoalsJSON(out, rows)
	} else {
		err = replay.WriteGoalsText(out, rows)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return err
}
