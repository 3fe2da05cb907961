package schemas

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestKeyOrderSortsLikeStrings: keys that share their first eight bytes,
// that are prefixes of one another, empty, or hold zero and 0xff bytes
// come out of keyOrder in the order of Go's string comparison.
func TestKeyOrderSortsLikeStrings(t *testing.T) {
	pool := []string{"", "a", "ab", "a\x00", "a\x00\x00", "\x00", "\xff", "\xff\xff",
		"frame_fps", "frame_seq", "frame_start", "frame_", "frame_s", "frame_st",
		"glyph_consent", "glyph_consent_purpose", "glyph_provenance", "glyph_subject_sid",
		"abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgg\xff", "abcdefg"}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		n := 1 + rng.IntN(entriesOnStack)
		perm := rng.Perm(len(pool))[:min(n, len(pool))]
		var (
			keys  [entriesOnStack]string
			order keyOrder
		)
		for i, p := range perm {
			keys[i] = pool[p]
			order.prefix[i] = keyPrefix(keys[i])
		}
		n = len(perm)
		order.sort(&keys, n)
		got := make([]string, n)
		for i, j := range order.idx[:n] {
			got[i] = keys[j]
		}
		want := slices.Clone(keys[:n])
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: keyOrder gives %q, want %q", round, got, want)
		}
	}
}
