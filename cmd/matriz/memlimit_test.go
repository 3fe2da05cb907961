package main

import (
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: --memory-limit sets the soft heap limit in MiB;
// GOMEMLIMIT in the environment wins, and 0 leaves the limit alone.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
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
