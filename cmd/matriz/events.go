package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/matriz/pipelines/pipelines/replay"
)

// eventsNow is the clock a --since or --until duration counts back from;
// tests set it.
var eventsNow = time.Now

func runEvents(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "events", "--lane L [--glyph G] [--kind K[,K…]] [--since TIME] [--until TIME] [--limit N] [--json] [--replay NAME] [--brokers HOST:PORT,…] [--registry URL]",
		"Prints the events of matriz.<lane>.events whose Kafka timestamps lie between --since and\n"+
			"--until, oldest first (partitions merged by timestamp), one per line: event time, kind,\n"+
			"glyph, stage, message id and payload. --json prints one JSON object per line with the\n"+
			"partition, offset, record timestamp, key and headers too.\n\n"+
			"TIME is RFC 3339 (2026-03-01T10:00:00Z) or a duration ago (15m, 2h). Each partition starts\n"+
			"at its first record at or after --since and stops at its first record past --until, or at\n"+
			"its end when the command started: it never waits for new events. With --glyph only the\n"+
			"partition that glyph's key hashes to is read.")
	lane := fs.lane(e, " whose event log to read")
	conn := fs.connection()
	glyph := fs.String("glyph", "", "only this glyph `id`'s events")
	kinds := fs.String("kind", "", "only these event `kinds`, comma-separated (late, decimation, drift_alert, …)")
	since := fs.String("since", "", "from this `time` on: RFC 3339 or a duration ago (default the log's start)")
	until := fs.String("until", "", "up to this `time`: RFC 3339 or a duration ago (default the end at start)")
	limit := fs.Int("limit", 0, "stop after `N` events; 0 prints all")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	replayName := fs.String("replay", "", "read the replay namespace `NAME` (matriz.<lane>.replay.NAME.events) instead")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	q := replay.EventQuery{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l, Glyph: *glyph, Limit: *limit, Replay: *replayName}
	if q.Kinds, err = replay.ParseEventKinds(*kinds); err != nil {
		return usagef("--kind: %v", err)
	}
	now := eventsNow()
	for _, b := range []struct {
		flag, val string
		dst       *time.Time
	}{{"--since", *since, &q.Since}, {"--until", *until, &q.Until}} {
		if b.val == "" {
			continue
		}
		if *b.dst, err = replay.ParseTimeBound(b.val, now); err != nil {
			return usagef("%s: %v", b.flag, err)
		}
	}
	switch {
	case *limit < 0:
		return usagef("--limit %d: want 0 (all) or more", *limit)
	case !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since):
		return usagef("--until %s is before --since %s", q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano))
	}
	out := bufio.NewWriterSize(e.stdout, 64<<10)
	var line []byte
	stats, err := replay.ScanEvents(ctx, q, func(r replay.EventRecord) error {
		if *asJSON {
			line = r.AppendJSON(line[:0])
		} else {
			line = r.AppendText(line[:0])
		}
		_, err := out.Write(line)
		return err
	})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, replay.ErrBadQuery) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if stats.Undecodable > 0 {
		fmt.Fprintf(e.stderr, "matriz events: skipped %d records that do not decode as events (first: %v)\n", stats.Undecodable, stats.FirstUndecodable)
	}
	if stats.Matched == 0 {
		fmt.Fprintf(e.stderr, "matriz events: no event matched (%d records read on %d partitions of %s)\n", stats.Scanned, stats.Partitions, stats.Topic)
	}
	return nil
}
