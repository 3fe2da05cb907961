package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/spec"
)

func runReplayRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay", "--lane L --from F [--to T] [--partitions P,…] [--glyph G] [--pipeline FILE] --into NAME\n"+
		"       matriz replay diff --lane L NAME [OTHER]   |   matriz replay rm --lane L NAME   |   matriz replay ls --lane L",
		"Replays a lane's log through its chain into an isolated namespace, matriz.<lane>.replay.<NAME>.*\n"+
			"(results, events, traces, actions, dlq): never the live topics, offsets or state, and no external\n"+
			"action is executed (the guardian records would_execute). Every decision the live run recorded on\n"+
			"its event log — late records, decimation drops, flag, rate and approval changes, idle watermarks —\n"+
			"is applied at the same point, so replaying with the live pipeline reproduces the live outputs;\n"+
			"with another --pipeline, `matriz replay diff` shows exactly which decisions change.\n\n"+
			"F and T: start | end | an RFC 3339 time (per partition, by record timestamp) | P:OFFSET[,P:OFFSET…]\n"+
			"| a checkpoint id P@NEXT. Each partition starts at its checkpoint at or before F (or at the log's\n"+
			"start with empty state when there is none), so outputs may begin a little before F.")
	lane := fs.lane(e, " to replay")
	conn := fs.connection()
	from := fs.String("from", "", "where to start: "+replay.PositionForms)
	to := fs.String("to", "end", "where to stop (exclusive), same forms as --from")
	parts := fs.String("partitions", "", "replay only these `partitions` (comma-separated; default all)")
	glyph := fs.String("glyph", "", "write only this glyph `id`'s outputs (the chain still sees every record)")
	pipeline := fs.String("pipeline", "", "pipeline spec `file` to replay with (default: the embedded spec, as live)")
	into := fs.String("into", "", "the replay's `name`: outputs go to matriz.<lane>.replay.<name>.*")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	if *from == "" {
		return usagef("--from is required: %s", replay.PositionForms)
	}
	if *into == "" {
		return usagef("--into NAME is required: the namespace the replay writes to")
	}
	var only []int32
	for _, s := range splitList(*parts) {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return usagef("--partitions: %q is not a partition number", s)
		}
		only = append(only, int32(p))
	}
	sp, err := spec.Load(*pipeline)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	progress := replay.NewProgress(e.stdout, isTerminal(e.stdout), nil, 2*time.Second)
	rep, err := replay.Run(ctx, replay.RunConfig{Lane: l, Brokers: conn.Brokers(), RegistryURL: conn.Registry(), From: *from, To: *to,
		Partitions: only, Glyph: *glyph, Spec: sp, Getenv: e.getenv, Name: *into, Progress: progress})
	if rep != nil && rep.Ranges != nil {
		progress.Finish()
	}
	if err != nil {
		return err
	}
	var n int64
	var starts []string
	for _, r := range rep.Ranges {
		n += rep.Stats.Records[r.Partition]
		start := fmt.Sprintf("%d:%d", r.Partition, r.From)
		if r.Checkpoint != nil {
			start += " (checkpoint " + r.Checkpoint.ID() + ")"
		}
		starts = append(starts, start)
	}
	fmt.Fprintf(e.stdout, "replay %s: %d records of lane %s in %v, %d recorded decisions; started at %s\n",
		rep.Name, n, l, rep.Stats.Took.Round(time.Millisecond), rep.Stats.Decisions, strings.Join(starts, ", "))
	fmt.Fprintf(e.stdout, "compare with live: matriz replay diff --lane %s %s\n", l, rep.Name)
	return nil
}

func runReplayRm(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay rm", "--lane L NAME", "Deletes the topics of replay NAME on lane L (matriz.<lane>.replay.<NAME>.*); live topics are never touched.")
	lane := fs.lane(e, "")
	conn := fs.connection()
	rest, err := fs.args(args, "NAME")
	if err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	removed, err := replay.RemoveNamespace(ctx, conn.Brokers(), string(l), rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed replay %s of lane %s: %s\n", rest[0], l, strings.Join(removed, ", "))
	return nil
}

func runReplayLs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay ls", "--lane L", "Lists the replays of lane L.")
	lane := fs.lane(e, "")
	conn := fs.connection()
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	names, err := replay.ListNamespaces(ctx, conn.Brokers(), string(l))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintf(e.stdout, "no replays on lane %s\n", l)
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
