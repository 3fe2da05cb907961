package main

import (
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func TestFlagsHelpExplainsOffWinsAndWhenAChangeApplies(t *testing.T) {
	out, _ := mustRun(t, 0, "flags", "--help")
	for _, want := range []string{"Usage: matriz flags", "set NAME true|false", "clear NAME", "Off wins", "kill switch", "every lane", "next frame", `"flag changed"`, "flag_change", "--brokers", "--lane"} {
		if !strings.Contains(out, want) {
			t.Errorf("matriz flags --help lacks %q:\n%s", want, out)
		}
	}
}

// TestFlagsUsageErrorsExitTwo: each bad command line is one line on
// stderr, exit 2, and nothing dials the brokers.
func TestFlagsUsageErrorsExitTwo(t *testing.T) {
	addr, dials := countingListener(t)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"set", "TELEPORT_ENABLED", "true"}, `unknown flag "TELEPORT_ENABLED": want one of DISPATCH_ENABLED, LEARNING_ENABLED, EXT_ACTIONS_ENABLED`},
		{[]string{"clear", "DISPATCH"}, `unknown flag "DISPATCH"`},
		{[]string{"set", "DISPATCH_ENABLED", "maybe"}, `flag value "maybe" is not a boolean`},
		{[]string{"set", "DISPATCH_ENABLED"}, "missing VALUE"},
		{[]string{"set"}, "missing NAME"},
		{[]string{"clear", "DISPATCH_ENABLED", "false"}, `unexpected argument "false"`},
		{[]string{"set", "DISPATCH_ENABLED", "false", "--lane", "staging"}, `unknown lane "staging"`},
		{[]string{"set", "DISPATCH_ENABLED", "false", "--lane", ""}, "leave --lane out for every lane"},
		{[]string{"set", "DISPATCH_ENABLED", "false", "--lane", "prod,candidate"}, "names 2 lanes"},
		{[]string{"ls", "--lane", "prod"}, "--lane belongs to set and clear"},
		{[]string{"ls", "extra"}, `unexpected argument "extra"`},
		{[]string{"flip"}, `unknown subcommand "flip"`},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	} {
		args := append([]string{"flags", "--brokers", addr}, c.args...)
		_, errOut := mustRun(t, 2, args...)
		if strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.HasPrefix(errOut, "matriz flags: ") {
			t.Errorf("matriz %v: want one line on stderr, got %q", args, errOut)
		}
		if !strings.Contains(errOut, c.says) {
			t.Errorf("matriz %v: %q does not say %q", args, errOut, c.says)
		}
	}
	if n := dials(); n != 0 {
		t.Errorf("usage errors dialled the brokers %d times, want none", n)
	}
}

func TestFlagsUnreachableBrokerExitsOne(t *testing.T) {
	addr := closedPort(t)
	for _, args := range [][]string{
		{"flags", "--brokers", addr},
		{"flags", "set", "EXT_ACTIONS_ENABLED", "false", "--brokers", addr},
		{"flags", "clear", "EXT_ACTIONS_ENABLED", "--lane", "prod", "--brokers", addr},
	} {
		_, errOut := mustRun(t, 1, args...)
		if strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 {
			t.Errorf("matriz %v: want one line on stderr, got %q", args, errOut)
		}
		for _, want := range []string{addr, "matriz broker", "--brokers"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("matriz %v: %q lacks %q", args, errOut, want)
			}
		}
	}
}

// TestFlagsSetClearAndListOnTheEmbeddedBroker: a lane's record and a
// global kill switch written by `matriz flags set`, listed by `matriz
// flags`, with the global false winning over the lane's true until
// `matriz flags clear` removes it; the records on matriz.control are the
// keys and values the runtime reads.
func TestFlagsSetClearAndListOnTheEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	env := pipetest.Start(t, schemas.LaneProd)
	flags := func(args ...string) string {
		t.Helper()
		out, _ := mustRun(t, 0, append(append([]string{"flags"}, args...), "--brokers", env.Brokers[0])...)
		return out
	}
	contains := func(what, out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, out)
			}
		}
	}

	contains("flags on an empty topic", flags(), "no records in force on matriz.control", "not set: ", "per process, not on the log")

	contains("set for prod", flags("set", "DISPATCH_ENABLED", "false", "--lane", "prod"),
		"set DISPATCH_ENABLED=false for lane prod (key prod/DISPATCH_ENABLED on matriz.control)",
		"DISPATCH_ENABLED on the log now: experimental not set, candidate not set, prod off")
	out := flags()
	if got := row(t, out, "prod/DISPATCH_ENABLED"); len(got) != 4 || got[1] != "false" || got[2] != "0" || !strings.HasSuffix(got[3], "Z") {
		t.Errorf("record row %q, want key, false, offset 0, a UTC timestamp:\n%s", got, out)
	}
	wantLaneRow(t, out, "prod", "off", "not set", "not set", "not set")
	wantLaneRow(t, out, "experimental", "not set", "not set", "not set", "not set")

	contains("global kill switch", flags("set", "EXT_ACTIONS_ENABLED", "false"),
		"for every lane (key EXT_ACTIONS_ENABLED on matriz.control)", "next frame", "EXT_ACTIONS_ENABLED on the log now: experimental off, candidate off, prod off")
	contains("lane on under the global off", flags("set", "ext_actions_enabled", "on", "--lane", "prod"),
		"set EXT_ACTIONS_ENABLED=true for lane prod", "prod off", "the global EXT_ACTIONS_ENABLED=false wins")
	out = flags()
	wantLaneRow(t, out, "prod", "off", "not set", "off", "not set")
	wantLaneRow(t, out, "candidate", "not set", "not set", "off", "not set")

	contains("clear the global", flags("clear", "EXT_ACTIONS_ENABLED"),
		"cleared EXT_ACTIONS_ENABLED for every lane (a tombstone on key EXT_ACTIONS_ENABLED on matriz.control)",
		"experimental not set, candidate not set, prod on")
	out = flags()
	if row(t, out, "EXT_ACTIONS_ENABLED") != nil {
		t.Errorf("the cleared global record is still listed:\n%s", out)
	}
	wantLaneRow(t, out, "prod", "off", "not set", "on", "not set")

	var got []string
	for _, m := range env.ReadAll(t, topics.ControlTopic) {
		got = append(got, string(m.Key)+"="+string(m.Value))
	}
	want := "prod/DISPATCH_ENABLED=false EXT_ACTIONS_ENABLED=false prod/EXT_ACTIONS_ENABLED=true EXT_ACTIONS_ENABLED="
	if strings.Join(got, " ") != want {
		t.Errorf("matriz.control holds %q, want %q", strings.Join(got, " "), want)
	}
}

// row returns the fields of the line of out that starts with first, or
// nil.
func row(t *testing.T, out, first string) []string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	return nil
}

// wantLaneRow checks a lane's row of the flags table: DISPATCH_ENABLED,
// LEARNING_ENABLED and EXT_ACTIONS_ENABLED in that order.
func wantLaneRow(t *testing.T, out, lane string, values ...string) {
	t.Helper()
	line := strings.Join(row(t, out, lane), " ")
	if want := lane + " " + strings.Join(values, " "); line != want {
		t.Errorf("lane row %q, want %q:\n%s", line, want, out)
	}
}
