package main

import (
	"strings"
	"testing"
)

// A command given no lane works the experimental lane and says so on
// stderr before anything else; one given a lane says nothing about it.
func TestNoLaneMeansExperimentalAndSaysSo(t *testing.T) {
	addr := closedPort(t)
	_, errOut := mustRun(t, 1, "offsets", "--brokers", addr, "show")
	first, _, _ := strings.Cut(errOut, "\n")
	want := "matriz offsets: no --lane given and LUKHAS_LANE is unset: using lane experimental"
	if !strings.HasPrefix(first, want) {
		t.Fatalf("first stderr line %q, want it to start with %q\nstderr: %s", first, want, errOut)
	}

	_, errOut = mustRun(t, 1, "offsets", "--lane", "prod", "--brokers", addr, "show")
	if strings.Contains(errOut, "LUKHAS_LANE is unset") {
		t.Errorf("a command given --lane still reports a default lane:\n%s", errOut)
	}
}
