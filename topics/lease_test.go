package topics

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
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

// TestClaimCheckAsksAgainWhenTheCoordinatorDoesNotAnswer: a heartbeat the
// coordinator does not answer (its connection dropped, as a read timeout on
// a loaded broker) says nothing about the claim: Check asks again while the
// lease runs and confirms the claim, and refuses only when no heartbeat is
// answered at all, without lapsing the lease.
func TestClaimCheckAsksAgainWhenTheCoordinatorDoesNotAnswer(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("checked", 1))
	m := startMember(t, addrs, "g", "checked", memberOpts{})
	m.waitFor("member holds the partition", holdsAll("checked", 1))
	m.mu.Lock()
	claim := m.claimsOf(m.lastGen().ID)[0]
	m.mu.Unlock()

	var mu sync.Mutex
	drop, dropped := 2, 0
	b.cluster.ControlKey(int16(kmsg.Heartbeat), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if kr.GetVersion() != 0 || drop == 0 { // the consumer group's own heartbeats, or done dropping
			return nil, nil, false
		}
		drop--
		dropped++
		return nil, errors.New("dropped"), true
	})
	if err := claim.Check(context.Background()); err != nil {
		t.Fatalf("Check with two unanswered heartbeats, then an answer: %v", err)
	}
	mu.Lock()
	if dropped == 0 {
		mu.Unlock()
		t.Fatal("no lease heartbeat was dropped: the test did not exercise the retry")
	}
	drop = 1 << 30 // from now on the coordinator never answers the lease
	mu.Unlock()
	err := claim.Check(context.Background())
	if err == nil || errors.Is(err, ErrClaimLapsed) {
		t.Fatalf("Check with the coordinator never answering = %v, want a heartbeat error that is not a lapse", err)
	}
	if err := claim.Current(); err != nil {
		t.Fatalf("the lease lapsed because heartbeats went unanswered once: %v", err)
	}
}
