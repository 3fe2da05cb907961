package main

import (
	"context"
	"fmt"
	"os/user"
	"text/tabwriter"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/ops"
)

func runActions(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "actions", "--lane L [--brokers HOST:PORT,…] [--registry URL] [--all]",
		"Lists the lane's external actions from matriz.<lane>.actions: by default the ones\n"+
			"waiting for a human approval (approve them with `matriz approve`), with --all every\n"+
			"action and its latest status. A dry-run lane (experimental; candidate by default)\n"+
			"only previews actions: none waits, and none executes.")
	lane := fs.lane(e, "")
	conn := fs.connection()
	all := fs.Bool("all", false, "list every action, not only those waiting for approval")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	acts, err := ops.ListActions(ctx, ops.ActionsConfig{Lane: l, Brokers: conn.Brokers(), RegistryURL: conn.Registry()})
	if err != nil {
		return err
	}
	var rows []string
	for _, a := range acts {
		if !*all && !a.Waiting() {
			continue
		}
		status := a.Status
		switch {
		case a.Waiting():
			status = "waiting for approval"
		case a.NeverExecutes() && a.DryRun:
			status = "dry run: previewed, never executed"
		case a.NeverExecutes():
			status = "previewed, never executed (external actions off)"
		case a.Approval && a.Status == "preview":
			status = "approved, executing at the next frame"
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, status, a.Priority, a.Kind, a.MsgID, a.TS.Format("2006-01-02T15:04:05.000Z07:00")))
	}
	shown := len(rows)
	if shown > 0 {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACTION\tSTATUS\tPRIORITY\tKIND\tMSG\tAT")
		for _, r := range rows {
			fmt.Fprint(tw, r)
		}
		tw.Flush()
	}
	if shown == 0 {
		if *all {
			fmt.Fprintf(e.stdout, "no actions on lane %s\n", l)
		} else {
			fmt.Fprintf(e.stdout, "no action on lane %s waits for approval (--all lists every action)\n", l)
		}
	}
	return nil
}

func runApprove(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "approve", "ACTION_ID --lane L [--brokers HOST:PORT,…] [--registry URL] [--note TEXT]",
		"Writes the human approval a waiting action needs (a P0 action in prod waits for one)\n"+
			"to matriz.<lane>.approvals. The lane's runtime executes the action at its next frame.\n"+
			"`matriz actions --lane L` lists what waits. A dry-run lane's previews never execute:\n"+
			"approving one is refused (exit 1) and nothing is written. The approval records the\n"+
			"approver: the SASL principal this command authenticated as (User:NAME), else the\n"+
			"operating system's user.")
	lane := fs.lane(e, "")
	conn := fs.connection()
	note := fs.String("note", "", "why it is approved, kept with the approval")
	pos, err := fs.args(args, "ACTION_ID")
	if err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	// The approver is the principal the broker authenticated (with ACLs,
	// only approver principals may write approvals); without SASL, the
	// operating system's user, which nothing verifies.
	approver := "unknown"
	if sec := pipelines.CurrentSecurity(); sec.Mechanism != "" {
		approver = "User:" + sec.User
	} else if u, err := user.Current(); err == nil {
		approver = u.Username
	}
	a, err := ops.Approve(ctx, ops.ApproveConfig{
		ActionsConfig: ops.ActionsConfig{Lane: l, Brokers: conn.Brokers(), RegistryURL: conn.Registry()},
		ActionID:      pos[0], Approver: approver, Note: *note,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "approved %s (%s %s, message %s) on lane %s; it executes at the lane's next frame\n", a.ID, a.Priority, a.Kind, a.MsgID, l)
	return nil
}
