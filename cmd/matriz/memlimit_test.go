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
