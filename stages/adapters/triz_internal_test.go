package adapters

import (
	"slices"
	"testing"
)

// TestTRIZTables checks the embedded matrix subset is well formed: every
// cell joins two different parameters of the subset, lists 1–4 distinct
// principles numbered 1..40, and every principle has a name.
func TestTRIZTables(t *testing.T) {
	nums := map[int]bool{}
	slugSeen := map[string]bool{}
	for _, p := range trizParams {
		if p.num < 1 || p.num > 39 || nums[p.num] || slugSeen[p.slug] || p.name == "" {
			t.Fatalf("bad or duplicate parameter %+v", p)
		}
		nums[p.num], slugSeen[p.slug] = true, true
	}
	if len(trizParams) < 10 || len(trizParams) > 15 {
		t.Fatalf("%d parameters; the subset is meant to hold 10–15", len(trizParams))
	}
	for i := 1; i <= 40; i++ {
		if trizPrinciples[i] == "" {
			t.Fatalf("principle %d has no name", i)
		}
	}
	filled := 0
	for k, cell := range trizMatrix {
		if !nums[k[0]] || !nums[k[1]] || k[0] == k[1] {
			t.Fatalf("cell %v is outside the subset or on the diagonal", k)
		}
		if len(cell) < 1 || len(cell) > 4 {
			t.Fatalf("cell %v lists %d principles", k, len(cell))
		}
		for i, p := range cell {
			if p < 1 || p > 40 || slices.Index(cell, p) != i {
				t.Fatalf("cell %v: bad or repeated principle %d", k, p)
			}
		}
		filled++
	}
	// 15×14 ordered pairs; the classic matrix leaves some empty.
	if total := len(trizParams) * (len(trizParams) - 1); filled < total*3/4 || filled > total {
		t.Fatalf("%d of %d cells filled", filled, total)
	}
}
