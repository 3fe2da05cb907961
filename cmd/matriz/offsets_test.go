package main

import (
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func TestOffsetsUsageErrorsExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"offsets", "--lane", "prod"}, "missing SUBCOMMAND"},
		{[]string{"offsets", "--lane", "prod", "rewind"}, `unknown subcommand "rewind"`},
		{[]string{"offsets", "--lane", "prod", "show", "reset"}, `unexpected argument "reset"`},
		{[]string{"offsets", "--lane", "prod", "reset"}, "reset needs --to"},
		{[]string{"offsets", "--lane", "prod", "reset", "--to", "yesterday"}, `--to: position "yesterday"`},
		{[]string{"offsets", "--lane", "prod", "reset", "--to", "2026-03-01 12:00"}, "RFC 3339"},
		{[]string{"offsets", "--lane", "prod", "reset", "--to", "0:-1"}, `offset "-1"`},
		{[]string{"offsets", "--lane", "prod", "reset", "--to", "2@40", "--reset-state"}, "the checkpoint sets the partition's state"},
		{[]string{"offsets", "--lane", "prod", "show", "--to", "earliest"}, "belong to reset"},
		{[]string{"offsets", "--lane", "prod", "show", "--dry-run"}, "belong to reset"},
		{[]string{"offsets", "--lane", "staging", "show"}, "staging"},
		{[]string{"offsets", "--lane", "prod", "show", "--no-such-flag"}, "no-such-flag"},
	} {
		_, errOut := mustRun(t, 2, c.args...)
		if strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.HasPrefix(errOut, "matriz offsets: ") {
			t.Errorf("matriz %v: want one line on stderr, got %q", c.args, errOut)
		}
		if !strings.Contains(errOut, c.says) {
			t.Errorf("matriz %v: %q does not say %q", c.args, errOut, c.says)
		}
	}
}

func TestOffsetsUnreachableBrokerExitsOne(t *testing.T) {
	addr := closedPort(t)
	for _, args := range [][]string{
		{"offsets", "--lane", "prod", "--brokers", addr, "show"},
		{"offsets", "--lane", "prod", "--brokers", addr, "reset", "--to", "latest", "--dry-run"},
	} {
		_, errOut := mustRun(t, 1, args...)
		for _, want := range []string{addr, "matriz broker", "--brokers"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("matriz %v: %q lacks %q", args, errOut, want)
			}
		}
	}
}

func TestOffsetsShowAndResetOnALane(t *testing.T) {
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	var recs []topics.Message
	for i := range 30 {
		recs = append(recs, topics.Message{Key: []byte{byte('a' + i%26), byte(i)}, Value: []byte("v")})
	}
	env.Write(t, topics.Name(string(lane), topics.KindMessages), recs)
	base := []string{"offsets", "--lane", "candidate", "--brokers", env.Brokers[0]}
	cmd := func(args ...string) []string { return append(append([]string(nil), base...), args...) }

	out, _ := mustRun(t, 0, cmd("show")...)
	for _, want := range []string{"group matriz-candidate on matriz.candidate.messages", "no live members", "PARTITION  COMMITTED  LOG-START  END", "total lag 30"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 1+1+6+1 {
		t.Errorf("show: want a header, a table of 6 partitions and the total:\n%s", out)
	}

	// Dry run of a move to the end: the plan, nothing done.
	out, _ = mustRun(t, 0, cmd("reset", "--to", "latest", "--dry-run")...)
	if !strings.Contains(out, "runs behind the new offset") || !strings.Contains(out, "dry run: nothing changed") {
		t.Errorf("dry run:\n%s", out)
	}
	if out, _ = mustRun(t, 0, cmd("show")...); !strings.Contains(out, "total lag 30") {
		t.Errorf("the dry run moved the group:\n%s", out)
	}

	out, _ = mustRun(t, 0, cmd("reset", "--to", "latest")...)
	if !strings.Contains(out, "done: committed 6 offsets, wrote 0 state records") {
		t.Errorf("reset to latest:\n%s", out)
	}
	if out, _ = mustRun(t, 0, cmd("show")...); !strings.Contains(out, "total lag 0") {
		t.Errorf("after the reset to latest:\n%s", out)
	}

	// Back to the start without state: refused, exit 1, plan shown.
	out, errOut := mustRun(t, 1, cmd("reset", "--to", "earliest")...)
	if !strings.Contains(errOut, "--reset-state") || strings.Count(errOut, "\n") != 1 || !strings.Contains(out, "refused: nothing changed") {
		t.Errorf("backwards: stdout\n%s\nstderr %q", out, errOut)
	}
	out, _ = mustRun(t, 0, cmd("reset", "--to", "earliest", "--reset-state")...)
	if !strings.Contains(out, "reset: tombstones for 0") || !strings.Contains(out, "wrote 6 state records") {
		t.Errorf("backwards with --reset-state:\n%s", out)
	}
	if out, _ = mustRun(t, 0, cmd("show")...); !strings.Contains(out, "total lag 30") {
		t.Errorf("after the reset to earliest:\n%s", out)
	}
}
