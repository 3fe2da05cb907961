package operators

import "testing"

// TestForwardSinkDropsOnceRefused: outputs are handed on until send
// refuses one; the rest are read and dropped (never offered again), so
// the graph feeding the sink still completes.
func TestForwardSinkDropsOnceRefused(t *testing.T) {
	var offered []any
	s := NewForwardSink(func(e any) bool {
		offered = append(offered, e)
		return e != 2
	})
	for i := range 5 {
		s.In() <- i
	}
	close(s.In())
	s.AwaitCompletion()
	if len(offered) != 3 || offered[0] != 0 || offered[1] != 1 || offered[2] != 2 {
		t.Fatalf("offered %v, want [0 1 2] and nothing after the refusal", offered)
	}
}
