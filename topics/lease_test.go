package topics

import (
	"context"
	"errors"
	"testing"
)

// TestClaimLeaseRunsWhileTheGenerationDoes: a claim's lease runs while its
// generation does, and the coordinator confirms it; once a second member
// took the partitions, the first's old claim is refused by the
// coordinator and its lease stays lapsed.
func TestClaimLeaseRunsWhileTheGenerationDoes(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("leased", 2))
	first := startMember(t, addrs, "g", "leased", memberOpts{})
	first.waitFor("first member holds both partitions", holdsAll("leased", 2))
	first.mu.Lock()
	old := first.claimsOf(first.lastGen().ID)[0]
	first.mu.Unlock()
	if err := old.Current(); err != nil {
		t.Fatalf("Current in a running generation: %v", err)
	}
	if err := old.Check(context.Background()); err != nil {
		t.Fatalf("Check in a running generation: %v", err)
	}
	second := startMember(t, addrs, "g", "leased", memberOpts{})
	second.waitFor("second member in a newer generation", func(m *member) bool { return m.lastGen().ID > old.Generation })
	err := old.Check(context.Background())
	if !errors.Is(err, ErrClaimLapsed) {
		t.Fatalf("Check of generation %d after a newer one started = %v, want ErrClaimLapsed", old.Generation, err)
	}
	if err := old.Current(); !errors.Is(err, ErrClaimLapsed) {
		t.Fatalf("Current after the coordinator refused the generation = %v, want ErrClaimLapsed", err)
	}
}
