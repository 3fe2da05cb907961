package main

// `matriz flags`: the feature flags and kill switches on matriz.control,
// listed and set without a Kafka console client. (flags.go is the command
// line parsing every command shares.)

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/runtime"
)

const flagsAbout = `Lists and sets the feature flags and kill switches every running lane reads
from matriz.control: DISPATCH_ENABLED, LEARNING_ENABLED, EXT_ACTIONS_ENABLED.

  ls (the default)  the records in force (key, value, offset, timestamp) and,
                    per lane, each flag on the log: on, off, or not set (then
                    each process keeps its start value from the spec and the
                    environment, which is not on the log)
  set NAME VALUE    write NAME=true or false for --lane L, or for every lane
                    without --lane
  clear NAME        remove that override (a tombstone); the flag falls back
                    to the other scope's record, or to the start value

Off wins: a flag is on for a lane only if no record in force sets it off, so a
global false is a kill switch that no lane's true overrides.
A change applies from each running lane's next frame; a lane whose value
changes logs "flag changed" and writes a flag_change event.`

func runFlags(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "flags", "[ls] | set NAME true|false [--lane L] | clear NAME [--lane L] [--brokers HOST:PORT,…]", flagsAbout)
	conn := fs.brokersOnly()
	laneArg := fs.String("lane", "", "set, clear: the `lane` the record is for: experimental, candidate or prod (default: every lane)")
	pos, err := fs.parseInterleaved(args)
	if err != nil {
		return err
	}
	sub := "ls"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	laneGiven := false
	fs.Visit(func(f *flag.Flag) { laneGiven = laneGiven || f.Name == "lane" })
	switch sub {
	case "ls":
		if err := fs.positional(pos); err != nil {
			return err
		}
		if laneGiven {
			return usagef("--lane belongs to set and clear; ls shows every lane (usage: matriz flags %s)", fs.synopsis)
		}
		recs, err := ops.ReadFlags(ctx, conn.Brokers())
		if err != nil {
			return err
		}
		printFlagRecords(e.stdout, recs)
		return nil
	case "set", "clear":
	default:
		return usagef("unknown subcommand %q: ls, set or clear (usage: matriz flags %s)", sub, fs.synopsis)
	}

	names := []string{"NAME"}
	if sub == "set" {
		names = append(names, "VALUE")
	}
	if err := fs.positional(pos, names...); err != nil {
		return err
	}
	name := strings.ToUpper(strings.TrimSpace(pos[0]))
	if err := ops.CheckFlagName(name); err != nil {
		return usagef("%v", err)
	}
	lane, err := parseFlagsLane(*laneArg, laneGiven)
	if err != nil {
		return err
	}
	if sub == "set" {
		value, err := runtime.ParseFlagValue(pos[1])
		if err != nil {
			return usagef("%v", err)
		}
		if err := ops.SetFlag(ctx, conn.Brokers(), lane, name, value); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "set %s=%t for %s (key %s on %s)\n", name, value, laneScope(lane), ops.FlagKey(lane, name), ops.ControlTopic)
	} else {
		if err := ops.ClearFlag(ctx, conn.Brokers(), lane, name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "cleared %s for %s (a tombstone on key %s on %s)\n", name, laneScope(lane), ops.FlagKey(lane, name), ops.ControlTopic)
	}
	fmt.Fprintln(e.stdout, `running lanes apply it from their next frame; a lane whose value changes logs "flag changed" and writes a flag_change event`)
	recs, err := ops.ReadFlags(ctx, conn.Brokers())
	if err != nil {
		return fmt.Errorf("written, but reading %s back failed: %w", ops.ControlTopic, err)
	}
	printFlagNow(e.stdout, recs, lane, name)
	return nil
}

// parseFlagsLane reads --lane. Unlike other commands, no --lane means
// every lane (a global record), not the default lane; a --lane given
// empty is refused rather than taken as every lane, so an unset variable
// in `--lane "$LANE"` cannot turn a lane's switch into a global one.
func parseFlagsLane(s string, given bool) (pipelines.Lane, error) {
	if !given {
		return "", nil
	}
	lanes, err := pipelines.ParseLanes(s)
	if err != nil {
		return "", usagef("--lane: %v; leave --lane out for every lane", err)
	}
	if len(lanes) != 1 {
		return "", usagef("--lane %q names %d lanes: name one, or leave --lane out for every lane", s, len(lanes))
	}
	return lanes[0], nil
}

func laneScope(lane pipelines.Lane) string {
	if lane == "" {
		return "every lane"
	}
	return "lane " + string(lane)
}

// printFlagNow prints where name stands on every lane after a change, and
// why a lane's true did not turn it on when a global false wins.
func printFlagNow(w io.Writer, recs ops.FlagRecords, lane pipelines.Lane, name string) {
	var parts []string
	for _, l := range pipelines.AllLanes() {
		parts = append(parts, fmt.Sprintf("%s %s", l, recs.Effective(l, name)))
	}
	fmt.Fprintf(w, "%s on the log now: %s\n", name, strings.Join(parts, ", "))
	if lane == "" {
		return
	}
	for _, r := range recs.Records {
		if r.Lane == "" && r.Name == name && !r.On && recs.Effective(lane, name) == ops.FlagOff {
			fmt.Fprintf(w, "lane %s is off whatever its own record says: the global %s=false wins (remove it with `matriz flags clear %s`)\n", lane, name, name)
		}
	}
}

// printFlagRecords prints `matriz flags ls`.
func printFlagRecords(w io.Writer, recs ops.FlagRecords) {
	at := "read to its end, " + endsText(recs.Ends)
	if len(recs.Records) == 0 {
		fmt.Fprintf(w, "no records in force on %s (%s)\n", ops.ControlTopic, at)
	} else {
		fmt.Fprintf(w, "records in force on %s (%s):\n", ops.ControlTopic, at)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALUE\tOFFSET\tTIMESTAMP")
		for _, r := range recs.Records {
			fmt.Fprintf(tw, "%s\t%t\t%d\t%s\n", r.Key, r.On, r.Offset, timestampText(r.Time))
		}
		tw.Flush()
	}
	if len(recs.Ignored) > 0 {
		fmt.Fprintln(w, "\nignored by the runtime (it logs \"control record ignored\"; what was in force before stays):")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALUE\tOFFSET\tTIMESTAMP\tWHY")
		for _, r := range recs.Ignored {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\n", r.Key, r.Value, r.Offset, timestampText(r.Time), r.Err)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "LANE\t%s\n", strings.Join(runtime.FlagNames, "\t"))
	notSet := false
	for _, l := range pipelines.AllLanes() {
		row := []string{string(l)}
		for _, name := range runtime.FlagNames {
			s := recs.Effective(l, name)
			notSet = notSet || s == ops.FlagNotSet
			row = append(row, s.String())
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w, "off wins: a flag is on for a lane only if no record in force sets it off, for every lane or for the lane")
	if notSet {
		fmt.Fprintln(w, "not set: no record decides it, so each `matriz run` keeps its start value (the spec, then the environment): per process, not on the log")
	}
}

// endsText names the offsets a read stopped at: one partition, as
// deploy makes matriz.control, or several.
func endsText(ends map[int]int64) string {
	ps := make([]int, 0, len(ends))
	for p := range ends {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	if len(ps) == 1 {
		return fmt.Sprintf("offset %d", ends[ps[0]])
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%d:%d", p, ends[p])
	}
	return "offsets " + strings.Join(parts, ",")
}

func timestampText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
