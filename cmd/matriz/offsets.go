package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/matriz/pipelines/pipelines/replay"
)

const offsetsAbout = `Shows or moves the consumer group of a lane on matriz.<lane>.messages, as
kafka-consumer-groups does for any group.

  show   per partition: the committed offset ("-" for none), log start, end and
         lag; and whether the group has live members
  reset  moves the group to --to, one of:
           earliest | latest     every partition's log start | end
           2026-03-01T12:00:00Z  per partition, the first record at or after
                                 that time (RFC 3339), the end if none
           0:120,3:75            only the partitions named; the others stay
           2@4096                a checkpoint id (P@NEXT): its partition moves
                                 to the checkpoint's resume offset, and the
                                 checkpoint becomes that partition's state

A reset refuses while the group has live members: stop its 'matriz run'
workers first. The lane's saved state runs behind the offsets, never ahead:
moving a partition forward keeps its state; moving one back needs
--reset-state (its state is deleted) or a checkpoint id (its state restored).
--dry-run prints the plan and changes nothing. Exit 1 when refused.`

func runOffsets(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "offsets", "--lane L [--group G] [--brokers HOST:PORT,…] show | reset --to POSITION [--dry-run] [--reset-state]", offsetsAbout)
	lane := fs.lane(e, "")
	conn := fs.connection()
	group := fs.String("group", "", "consumer `group` (default matriz-<lane>, the group 'matriz run' joins)")
	to := fs.String("to", "", "reset: the `position` to move the group to: earliest, latest, an RFC 3339 time, P:OFFSET[,P:OFFSET...] or a checkpoint id P@NEXT")
	dryRun := fs.Bool("dry-run", false, "reset: print the plan, change nothing")
	resetState := fs.Bool("reset-state", false, "reset: delete the saved state of every partition the reset covers (lets a partition move back)")
	pos, err := fs.args(args, "SUBCOMMAND")
	if err != nil {
		return err
	}
	sub := pos[0]
	var target replay.Position
	switch sub {
	case "show":
		if *to != "" || *dryRun || *resetState {
			return usagef("--to, --dry-run and --reset-state belong to reset, not show (usage: matriz offsets %s)", fs.synopsis)
		}
	case "reset":
		if *to == "" {
			return usagef("reset needs --to: earliest, latest, an RFC 3339 time, P:OFFSET[,...] or a checkpoint id P@NEXT")
		}
		if target, err = replay.ParsePosition(*to); err != nil {
			return usagef("--to: %v", err)
		}
		if target.Kind == replay.PositionCheckpoint && *resetState {
			return usagef("--reset-state with a checkpoint id: the checkpoint sets the partition's state; drop one of the two")
		}
	default:
		return usagef("unknown subcommand %q: show or reset (usage: matriz offsets %s)", sub, fs.synopsis)
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	cfg := replay.OffsetsConfig{Lane: l, Group: *group, Brokers: conn.Brokers()}
	if sub == "show" {
		g, err := replay.ShowOffsets(ctx, cfg)
		if err != nil {
			return err
		}
		printGroupOffsets(e.stdout, g)
		return nil
	}
	plan, err := replay.ResetOffsets(ctx, replay.ResetConfig{OffsetsConfig: cfg, To: target, ResetState: *resetState, DryRun: *dryRun})
	if plan != nil {
		printResetPlan(e.stdout, plan, err)
	}
	return err
}

func printGroupOffsets(w io.Writer, g *replay.GroupOffsets) {
	state := g.State
	if state == "Dead" { // what the coordinator says of a group it does not know
		state = "unknown to Kafka (never joined, or deleted)"
	}
	fmt.Fprintf(w, "group %s on %s: %s, %s\n", g.Group, g.Topic, state, membersLine(g.Members, g.Live()))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tCOMMITTED\tLOG-START\tEND\tLAG")
	for _, p := range g.Partitions {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\n", p.Partition, offsetText(p.Committed), p.Start, p.End, p.Lag)
	}
	tw.Flush()
	fmt.Fprintf(w, "total lag %d\n", g.TotalLag())
}

func membersLine(ms []replay.GroupMember, live bool) string {
	switch {
	case len(ms) == 0 && live:
		return "members joining"
	case len(ms) == 0:
		return "no live members"
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.ClientID + "@" + strings.TrimPrefix(m.Host, "/")
	}
	return fmt.Sprintf("%d live members: %s", len(ms), strings.Join(names, ", "))
}

// printResetPlan prints the plan and its outcome; a refusal's reason is
// the error line on stderr.
func printResetPlan(w io.Writer, p *replay.ResetPlan, err error) {
	fmt.Fprintf(w, "reset group %s on %s to %s\n", p.Group, p.Topic, p.To)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tCOMMITTED\tTARGET\tSTATE")
	for _, pr := range p.Partitions {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", pr.Partition, offsetText(pr.Committed), pr.Target, pr.Describe())
	}
	tw.Flush()
	switch {
	case p.Applied:
		fmt.Fprintf(w, "done: committed %d offsets, wrote %d state records (acks=all)\n", len(p.Partitions), p.StateRecords())
	case errors.Is(err, replay.ErrGroupLive), errors.Is(err, replay.ErrStateAhead):
		fmt.Fprintln(w, "refused: nothing changed")
	case err == nil && p.DryRun:
		fmt.Fprintln(w, "dry run: nothing changed; run again without --dry-run to apply")
	}
}

func offsetText(o int64) string {
	if o == replay.NoOffset {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}
