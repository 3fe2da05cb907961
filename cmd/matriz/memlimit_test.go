package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestSetMemoryLimit: --memory-limit sets the soft heap limit in MiB;
// GOMEMLIMIT in the environment wins, and 0 leaves the limit alone.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	gcBefore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(before); debug.SetGCPercent(gcBefore) })
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	setMemoryLimit(150, env(""))
	if got := debug.SetMemoryLimit(-1); got != 150<<20 {
		t.Fatalf("limit %d, want 150 MiB", got)
	}
	if got := debug.SetGCPercent(100); got != laneGCPercent {
		t.Fatalf("GOGC %d under a limit, want %d", got, laneGCPercent)
	}
	setMemoryLimit(90, env("1GiB"))
	setMemoryLimit(0, env(""))
	if got := debug.SetMemoryLimit(-1); got != 150<<20 {
		t.Fatalf("limit %d after GOMEMLIMIT set and 0: want it left at 150 MiB", got)
	}
}

// TestMemoryLimitDefault: without --memory-limit a lane process gets 96
// MiB plus 20 a partition of its lane (216 MiB for the embedded spec's 6);
// a value given wins, 0 included (no limit), and a negative one is refused.
func TestMemoryLimitDefault(t *testing.T) {
	var f memoryLimitFlag
	if got := f.orDefault(6); got != 216 {
		t.Fatalf("default for 6 partitions: %d MiB, want 216", got)
	}
	if got := f.orDefault(24); got != 576 {
		t.Fatalf("default for 24 partitions: %d MiB, want 576", got)
	}
	if err := f.Set("0"); err != nil || f.orDefault(6) != 0 {
		t.Fatalf("--memory-limit 0: err %v, limit %d; want none", err, f.orDefault(6))
	}
	if err := f.Set("-1"); err == nil {
		t.Fatal("--memory-limit -1: accepted")
	}
}

// TestLaneGCFollowsTheLimit: GOGC is raised only with the limit matriz
// sets, never under a GOMEMLIMIT or over a GOGC the environment sets.
func TestLaneGCFollowsTheLimit(t *testing.T) {
	memBefore := debug.SetMemoryLimit(-1)
	gcBefore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(memBefore); debug.SetGCPercent(gcBefore) })
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	gogc := func() int { v := debug.SetGCPercent(100); return v }
	for _, c := range []struct {
		mib  int
		env  map[string]string
		want int
	}{
		{0, nil, 100}, // no limit: GOGC alone bounds the heap
		{216, map[string]string{"GOMEMLIMIT": "8GiB"}, 100}, // the environment's limit, sized for who knows what
		{216, map[string]string{"GOGC": "150"}, 100},        // the environment's GOGC, which the runtime applied, is left alone
		{216, nil, laneGCPercent},
	} {
		debug.SetGCPercent(100)
		setMemoryLimit(c.mib, env(c.env))
		if got := gogc(); got != c.want {
			t.Errorf("limit %d MiB, env %v: GOGC %d, want %d", c.mib, c.env, got, c.want)
		}
	}
	if got := setLaneGC(env(map[string]string{"GOGC": "off"})); got != "GOGC off (from the environment)" {
		t.Errorf("setLaneGC with GOGC=off says %q", got)
	}
	debug.SetGCPercent(100)
	if got := setLaneGC(env(map[string]string{"GOMEMLIMIT": "1GiB"})); !strings.Contains(got, "GOMEMLIMIT is set") || gogc() != 100 {
		t.Errorf("setLaneGC with GOMEMLIMIT set says %q, GOGC %d", got, gogc())
	}
}
