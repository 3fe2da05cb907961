package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPromoteBadUsageSaysWhatToFix(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "allow.txt")
	if err := os.WriteFile(bad, []byte("allow deny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "prod", "--to", "prod"}, "--to: promoting prod to itself"},
		{[]string{"--from", "staging"}, `--from: "staging" is not a lane`},
		{[]string{"--since", "yesterday"}, "--since: "},
		{[]string{"--allow", filepath.Join(t.TempDir(), "none.txt")}, "--allow: "},
		{[]string{"--allow", bad}, "allow.txt:1: \"allow deny\" is not a rule; write FROM -> TO"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		code, _, errOut := runCLI(append([]string{"promote", "--brokers", closedPort(t)}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("promote %v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
}

func TestPromoteUnreachableBrokerIsARuntimeFailure(t *testing.T) {
	code, out, errOut := runCLI("promote", "--brokers", closedPort(t), "--registry", "http://"+closedPort(t))
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "matriz promote: ") {
		t.Fatalf("exit %d, stdout %q, stderr %q: want 1, no table, one error line", code, out, errOut)
	}
}
