package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
)

// Group tests run on kfake, whose group coordinator follows Kafka's: no
// initial rebalance delay, a member that does not rejoin within its
// rebalance timeout is removed, and the session timeout may not be under
// 6s. A 100ms heartbeat makes a member notice a rebalance within 100ms.
func testGroupOpts(extra ...GroupOption) []GroupOption {
	return append([]GroupOption{
		GroupSessionTimeout(6 * time.Second),
		GroupRebalanceTimeout(3 * time.Second),
		GroupHeartbeat(100 * time.Millisecond),
	}, extra...)
}

// member is one Group running in the background with a recording handler:
// it records every generation and claim, and its handler holds its claim
// until its context ends; memberOpts vary what the handler does.
type member struct {
	t      testing.TB
	g      *Group
	cancel context.CancelFunc
	ran    chan error // Run's result
	opts   memberOpts

	mu      sync.Mutex
	gens    []GenerationInfo
	claims  []Claim
	active  map[int32]bool // partitions whose handler has not returned
	endErrs []error        // errors of commitAtEnd
	changed chan struct{}  // a token whenever the fields above change
}

type memberOpts struct {
	// hold, when set, makes the handler ignore its context and return once
	// hold is closed: a handler stuck past its revocation.
	hold chan struct{}
	// drain, when set, makes the handler wait for drain to close after its
	// context ended: a handler finishing its in-flight work.
	drain chan struct{}
	// commitAtEnd, when set, is what the handler commits through its claim
	// for each partition once its context ended (after drain).
	commitAtEnd func(partition int32) int64
	group       []GroupOption
}

func startMember(t testing.TB, addrs []string, group, topic string, mo memberOpts) *member {
	t.Helper()
	m := &member{t: t, ran: make(chan error, 1), active: map[int32]bool{}, changed: make(chan struct{}, 1), opts: mo}
	opts := append(testGroupOpts(mo.group...), GroupOnGeneration(func(gi GenerationInfo) {
		m.mu.Lock()
		m.gens = append(m.gens, gi)
		m.mu.Unlock()
		m.poke()
	}))
	g, err := NewGroup(context.Background(), addrs, group, []string{topic}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	m.g = g
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.ran <- g.Run(ctx, m.handle) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan struct{}{mo.hold, mo.drain} {
			if ch == nil {
				continue
			}
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
		_ = g.Close()
	})
	return m
}

func (m *member) poke() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *member) handle(ctx context.Context, c Claim) {
	m.mu.Lock()
	m.claims = append(m.claims, c)
	m.active[c.Partition] = true
	m.mu.Unlock()
	m.poke()
	defer func() {
		m.mu.Lock()
		delete(m.active, c.Partition)
		m.mu.Unlock()
		m.poke()
	}()
	if m.opts.hold != nil {
		<-m.opts.hold
		return
	}
	<-ctx.Done()
	if m.opts.drain != nil {
		<-m.opts.drain
	}
	if m.opts.commitAtEnd != nil {
		if err := c.Commit(m.opts.commitAtEnd(c.Partition)); err != nil {
			m.mu.Lock()
			m.endErrs = append(m.endErrs, err)
			m.mu.Unlock()
		}
	}
}

// waitFor polls cond (under the member's lock) until it holds or
// testTimeout passes; it wakes on every change and at least every 10ms.
func (m *member) waitFor(what string, cond func(m *member) bool) {
	m.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		m.mu.Lock()
		ok := cond(m)
		m.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.t.Fatalf("%s: not after %v (generations %v, active %v)", what, testTimeout, m.gens, m.active)
		}
		select {
		case <-m.changed:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// lastGen returns the member's latest generation (ID 0 if none yet).
func (m *member) lastGen() GenerationInfo {
	if len(m.gens) == 0 {
		return GenerationInfo{}
	}
	return m.gens[len(m.gens)-1]
}

// claimsOf returns the member's claims of generation id, by partition.
func (m *member) claimsOf(id int32) map[int32]Claim {
	out := map[int32]Claim{}
	for _, c := range m.claims {
		if c.Generation == id {
			out[c.Partition] = c
		}
	}
	return out
}

// holdsAll reports whether the member's latest generation gives it all of
// topic's partitions and every one of them has a running handler.
func holdsAll(topic string, parts int) func(m *member) bool {
	return func(m *member) bool {
		g := m.lastGen()
		return len(g.Partitions[topic]) == parts && len(m.claimsOf(g.ID)) == parts && len(m.active) == parts
	}
}

// stop cancels the member's Run, checks it returns nil once every handler
// returned, and closes the group.
func (m *member) stop() {
	m.t.Helper()
	m.cancel()
	select {
	case err := <-m.ran:
		if err != nil {
			m.t.Fatalf("Run = %v, want nil when its context ends", err)
		}
	case <-time.After(testTimeout):
		m.t.Fatal("Run did not return after its context ended")
	}
	m.mu.Lock()
	active := len(m.active)
	m.mu.Unlock()
	if active != 0 {
		m.t.Fatalf("Run returned with %d handlers still running", active)
	}
	if err := m.g.Close(); err != nil {
		m.t.Fatal(err)
	}
}

func allPartitions(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// TestGroupOneMemberGetsEveryPartitionWithCommittedOffsets: a lone member
// is handed all six partitions, each from FirstOffset in a new group;
// offsets it commits through its claims are stored, and a restarted member
// is handed them back as its claims' Offset.
func TestGroupOneMemberGetsEveryPartitionWithCommittedOffsets(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 6
	ensureTopics(t, addrs, streamSpec("gt", parts))
	produce(t, addrs, "gt", 120)

	a := startMember(t, addrs, "g1", "gt", memberOpts{})
	a.waitFor("first member holds every partition", holdsAll("gt", parts))
	a.mu.Lock()
	gen := a.lastGen()
	claims := a.claimsOf(gen.ID)
	a.mu.Unlock()
	if !slices.Equal(gen.Partitions["gt"], allPartitions(parts)) || len(gen.Partitions) != 1 {
		t.Fatalf("generation %d partitions %v, want gt: 0..5", gen.ID, gen.Partitions)
	}
	want := map[int32]int64{0: 3, 2: 11, 5: 1}
	for p, c := range claims {
		if c.Topic != "gt" || c.Offset != kafka.FirstOffset || c.Generation != gen.ID || c.MemberID != gen.MemberID || c.MemberID == "" {
			t.Fatalf("claim %d = %+v, want topic gt from FirstOffset in generation %d of %s", p, c, gen.ID, gen.MemberID)
		}
		if next, ok := want[p]; ok {
			if err := c.Commit(next); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := committedOffsets(t, addrs, "g1", "gt", parts)
	if !slices.Equal(got, []int64{3, -1, 11, -1, -1, 1}) {
		t.Fatalf("committed %v", got)
	}
	a.stop()

	a2 := startMember(t, addrs, "g1", "gt", memberOpts{})
	a2.waitFor("restarted member holds every partition", holdsAll("gt", parts))
	a2.mu.Lock()
	claims = a2.claimsOf(a2.lastGen().ID)
	a2.mu.Unlock()
	for p, c := range claims {
		wantOff, ok := want[p]
		if !ok {
			wantOff = kafka.FirstOffset
		}
		if c.Offset != wantOff {
			t.Errorf("partition %d: claim offset %d, want %d", p, c.Offset, wantOff)
		}
	}
	a2.stop()
}

// eventually waits for cond, and on failure says each member's state.
func eventually(t testing.TB, what string, cond func() bool, ms ...*member) {
	t.Helper()
	clocktest.WaitFor(t, testTimeout, what, cond, func() string {
		var state []string
		for i, m := range ms {
			m.mu.Lock()
			state = append(state, fmt.Sprintf("member %d: generations %v active %v", i, m.gens, m.active))
			m.mu.Unlock()
		}
		return strings.Join(state, "; ")
	})
}

// snapshot returns the member's latest generation and whether each of its
// partitions has a running handler holding a claim of that generation.
func (m *member) snapshot(topic string) (GenerationInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.lastGen()
	claims := m.claimsOf(g.ID)
	ps := g.Partitions[topic]
	if g.ID == 0 || len(claims) != len(ps) || len(m.active) != len(ps) {
		return g, false
	}
	for _, p := range ps {
		if _, ok := claims[p]; !ok || !m.active[p] {
			return g, false
		}
	}
	return g, true
}

// split waits until a and b are in the same generation with every handler
// running, and returns their partitions.
func split(t testing.TB, a, b *member, topic string) (ga, gb GenerationInfo) {
	t.Helper()
	eventually(t, "both members in one generation", func() bool {
		var okA, okB bool
		ga, okA = a.snapshot(topic)
		gb, okB = b.snapshot(topic)
		return okA && okB && ga.ID == gb.ID
	}, a, b)
	return ga, gb
}

// TestGroupMembersSplitPartitions: a second member joining makes a new
// generation in which the two hold disjoint sets of partitions covering
// the topic, as OnGeneration reports and the claims handed out confirm;
// the first member's handlers of the old generation all returned.
func TestGroupMembersSplitPartitions(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 6
	ensureTopics(t, addrs, streamSpec("gs", parts))

	// The first member commits 10+p for each partition p it is revoked:
	// the generation is still current while the group waits for it to
	// rejoin, so the commit is accepted.
	a := startMember(t, addrs, "g2", "gs", memberOpts{commitAtEnd: func(p int32) int64 { return 10 + int64(p) }})
	a.waitFor("first member holds every partition", holdsAll("gs", parts))
	first := func() int32 { a.mu.Lock(); defer a.mu.Unlock(); return a.lastGen().ID }()
	bm := startMember(t, addrs, "g2", "gs", memberOpts{})
	ga, gb := split(t, a, bm, "gs")
	if ga.ID <= first {
		t.Fatalf("split generation %d, want after the first member's %d", ga.ID, first)
	}
	if ga.MemberID == gb.MemberID {
		t.Fatalf("both members are %s", ga.MemberID)
	}
	union := append(slices.Clone(ga.Partitions["gs"]), gb.Partitions["gs"]...)
	slices.Sort(union)
	if !slices.Equal(union, allPartitions(parts)) {
		t.Fatalf("partitions %v + %v, want each of 0..5 exactly once", ga.Partitions["gs"], gb.Partitions["gs"])
	}
	if len(ga.Partitions["gs"]) == 0 || len(gb.Partitions["gs"]) == 0 {
		t.Fatalf("one member got nothing: %v / %v", ga.Partitions, gb.Partitions)
	}
	for _, m := range []*member{a, bm} {
		m.mu.Lock()
		g := m.lastGen()
		got := slices.Sorted(maps.Keys(m.claimsOf(g.ID)))
		m.mu.Unlock()
		if !slices.Equal(got, g.Partitions["gs"]) {
			t.Fatalf("member %s: claims %v, OnGeneration said %v", g.MemberID, got, g.Partitions["gs"])
		}
	}
	a.mu.Lock()
	endErrs := a.endErrs
	a.mu.Unlock()
	if len(endErrs) != 0 {
		t.Fatalf("commits on revocation failed: %v", endErrs)
	}
	if got := committedOffsets(t, addrs, "g2", "gs", parts); !slices.Equal(got, []int64{10, 11, 12, 13, 14, 15}) {
		t.Fatalf("committed %v, want the revoked member's 10+p", got)
	}
}

// TestGroupSurvivorTakesOverWhenAMemberStops: when one member's context
// ends, its handlers return, Run returns nil, and the other member is
// handed every partition in the next generation, keeping its member id.
// The survivor's handlers take their time to drain (as a lane worker's
// do): the leaving member must not wait for them, and must not rejoin
// first — a rejoin would put the survivor through a generation that still
// counts the leaver, with partitions nobody works on, and leave the
// leaver's Close waiting on the survivor's drain until the rebalance
// timeout evicts the survivor.
func TestGroupSurvivorTakesOverWhenAMemberStops(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 6
	ensureTopics(t, addrs, streamSpec("gv", parts))

	// Each member commits what it holds when its handlers end: the leaver
	// 20+p, the survivor 30+p.
	a := startMember(t, addrs, "g3", "gv", memberOpts{commitAtEnd: func(p int32) int64 { return 20 + int64(p) }})
	a.waitFor("first member holds every partition", holdsAll("gv", parts))
	drain := make(chan struct{})
	bm := startMember(t, addrs, "g3", "gv", memberOpts{drain: drain, commitAtEnd: func(p int32) int64 { return 30 + int64(p) }})
	ga, gb := split(t, a, bm, "gv")

	stopped := time.Now()
	a.stop() // the survivor's handlers are still draining
	stopTook := time.Since(stopped)
	a.mu.Lock()
	endErrs := a.endErrs
	a.mu.Unlock()
	if len(endErrs) != 0 {
		t.Fatalf("the leaver's commits at shutdown failed: %v", endErrs)
	}
	got := committedOffsets(t, addrs, "g3", "gv", parts)
	for _, p := range ga.Partitions["gv"] {
		if got[p] != 20+int64(p) {
			t.Fatalf("committed %v: the leaver's partition %d was not committed at shutdown", got, p)
		}
	}
	close(drain)
	eventually(t, "survivor holds every partition", func() bool {
		g, ok := bm.snapshot("gv")
		return ok && len(g.Partitions["gv"]) == parts
	}, bm)
	bm.mu.Lock()
	var after []GenerationInfo
	for _, g := range bm.gens {
		if g.ID > gb.ID {
			after = append(after, g)
		}
	}
	bm.mu.Unlock()
	t.Logf("leaving member's stop+close took %v; survivor's generations after the split: %v", stopTook, after)
	if len(after) != 1 || after[0].MemberID != gb.MemberID {
		t.Fatalf("survivor (member %s of generation %d) went through %v, want one generation holding every partition under the same member id", gb.MemberID, gb.ID, after)
	}
	bm.mu.Lock()
	endErrs = bm.endErrs
	bm.mu.Unlock()
	got = committedOffsets(t, addrs, "g3", "gv", parts)
	for _, p := range gb.Partitions["gv"] {
		if got[p] != 30+int64(p) {
			t.Fatalf("committed %v: the survivor's drained partition %d was not committed (%v)", got, p, endErrs)
		}
	}
}

// TestGroupCommitFromEndedGenerationFails: a claim kept past its
// generation cannot move the offset any more. kafka-go closes a
// generation's coordinator connection once every handler of it returned,
// so the late Commit fails in the client (a closed-connection error)
// without reaching the broker; the stored offset stays what the live
// generation committed.
func TestGroupCommitFromEndedGenerationFails(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 6
	ensureTopics(t, addrs, streamSpec("ge", parts))
	a := startMember(t, addrs, "g4", "ge", memberOpts{})
	a.waitFor("first member holds every partition", holdsAll("ge", parts))
	a.mu.Lock()
	old := a.claimsOf(a.lastGen().ID)[0]
	a.mu.Unlock()
	if err := old.Commit(5); err != nil {
		t.Fatal(err)
	}
	bm := startMember(t, addrs, "g4", "ge", memberOpts{})
	ga, _ := split(t, a, bm, "ge")
	if ga.ID == old.Generation {
		t.Fatalf("no new generation")
	}
	err := old.Commit(50)
	if err == nil {
		t.Fatal("a claim of an ended generation committed")
	}
	if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), fmt.Sprintf("generation %d", old.Generation)) {
		t.Fatalf("late commit error %q, want a closed connection naming generation %d", err, old.Generation)
	}
	t.Logf("late commit: %v", err)
	if got := committedOffsets(t, addrs, "g4", "ge", parts); got[0] != 5 {
		t.Fatalf("committed %v, want partition 0 still at 5", got)
	}
}

// TestGroupCommitFromEvictedMemberFails: a handler that ignores its
// revocation keeps its generation's connection open, so its late Commit
// does reach the coordinator, which refuses it: the member did not rejoin
// within the rebalance timeout, was removed, and the other member was
// handed every partition. kfake answers UNKNOWN_MEMBER_ID (Kafka does the
// same for a removed member; ILLEGAL_GENERATION is for a member still in
// the group under an older generation, which a kafka-go member never is,
// since it rejoins only after its handlers returned).
func TestGroupCommitFromEvictedMemberFails(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 6
	ensureTopics(t, addrs, streamSpec("gx", parts))
	fast := []GroupOption{GroupRebalanceTimeout(time.Second)}
	hold := make(chan struct{})
	a := startMember(t, addrs, "g5", "gx", memberOpts{hold: hold, group: fast})
	a.waitFor("first member holds every partition", holdsAll("gx", parts))
	a.mu.Lock()
	stale := a.claimsOf(a.lastGen().ID)
	a.mu.Unlock()
	bm := startMember(t, addrs, "g5", "gx", memberOpts{group: fast})
	bm.waitFor("second member holds every partition", holdsAll("gx", parts))
	err := stale[3].Commit(7)
	if !errors.Is(err, kafka.UnknownMemberId) {
		t.Fatalf("evicted member's commit = %v, want UNKNOWN_MEMBER_ID", err)
	}
	if got := committedOffsets(t, addrs, "g5", "gx", parts); !slices.Equal(got, []int64{-1, -1, -1, -1, -1, -1}) {
		t.Fatalf("committed %v, want nothing", got)
	}
	// The live owner's commit goes through.
	bm.mu.Lock()
	live := bm.claimsOf(bm.lastGen().ID)[3]
	bm.mu.Unlock()
	if err := live.Commit(9); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, addrs, "g5", "gx", parts); got[3] != 9 {
		t.Fatalf("committed %v, want partition 3 at 9", got)
	}
	close(hold)
}

// TestGroupRunReturnsWhenContextEnds: Run returns nil at once for a
// context already done, and for a group already closed.
func TestGroupRunReturnsWhenContextEnds(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("gr", 2))
	handled := make(chan Claim, 10)
	handle := func(ctx context.Context, c Claim) { handled <- c; <-ctx.Done() }
	for _, closeFirst := range []bool{false, true} {
		g, err := NewGroup(context.Background(), addrs, "g6", []string{"gr"}, testGroupOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if closeFirst {
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			cancel()
		}
		ran := make(chan error, 1)
		go func() { ran <- g.Run(ctx, handle) }()
		select {
		case err := <-ran:
			if err != nil {
				t.Fatalf("closeFirst=%v: Run = %v", closeFirst, err)
			}
		case <-time.After(testTimeout):
			t.Fatalf("closeFirst=%v: Run did not return", closeFirst)
		}
		cancel()
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(handled) != 0 {
		t.Fatalf("%d partitions handled by groups that never ran", len(handled))
	}
}

// TestGroupRetriesAFailedJoin: the coordinator refuses the first join;
// the error reaches GroupOnError naming the group, Run waits its backoff
// on the group's clock, and the member then joins and gets its partitions.
func TestGroupRetriesAFailedJoin(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("gj", 3))
	b.cluster.ControlKey(int16(kmsg.JoinGroup), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		resp := kr.(*kmsg.JoinGroupRequest).ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = int16(kafka.GroupCoordinatorNotAvailable)
		return resp, nil, true
	})
	fake := clock.NewFake(time.Unix(0, 0))
	errs := make(chan error, 10)
	a := startMember(t, addrs, "g7", "gj", memberOpts{group: []GroupOption{
		GroupClock(fake),
		GroupOnError(func(err error) { errs <- err }),
	}})
	select {
	case err := <-errs:
		if !errors.Is(err, kafka.GroupCoordinatorNotAvailable) || !strings.Contains(err.Error(), "consumer group g7") {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the failed join was not reported")
	}
	// Run waits its backoff on the fake clock: move it until the member joins.
	eventually(t, "member joins after the backoff", func() bool {
		fake.Advance(time.Second)
		_, ok := a.snapshot("gj")
		return ok
	}, a)
	a.mu.Lock()
	g := a.lastGen()
	a.mu.Unlock()
	if !slices.Equal(g.Partitions["gj"], allPartitions(3)) {
		t.Fatalf("partitions %v", g.Partitions)
	}
	a.stop()
}

// TestNewGroupConfigErrors: every option out of range, and a missing
// group id or topic, is a *ConfigError naming the option, before any
// connection is made.
func TestNewGroupConfigErrors(t *testing.T) {
	ok := []string{"127.0.0.1:1"} // never dialled: validation comes first
	for _, c := range []struct {
		brokers []string
		id      string
		topics  []string
		opts    []GroupOption
		option  string
	}{
		{ok, "g", []string{"t"}, []GroupOption{GroupSessionTimeout(500 * time.Millisecond)}, "session timeout"},
		{ok, "g", []string{"t"}, []GroupOption{GroupRebalanceTimeout(0)}, "rebalance timeout"},
		{ok, "g", []string{"t"}, []GroupOption{GroupHeartbeat(0)}, "heartbeat"},
		{ok, "g", []string{"t"}, []GroupOption{GroupSessionTimeout(3 * time.Second), GroupHeartbeat(1500 * time.Millisecond)}, "heartbeat"},
		{ok, "g", []string{"t"}, []GroupOption{GroupClock(nil)}, "clock"},
		{nil, "g", []string{"t"}, nil, "brokers"},
		{[]string{"nohost"}, "g", []string{"t"}, nil, "brokers"},
		{[]string{"h:70000"}, "g", []string{"t"}, nil, "brokers"},
		{ok, "", []string{"t"}, nil, "group/topics"},
		{ok, "g", nil, nil, "group/topics"},
	} {
		g, err := NewGroup(context.Background(), c.brokers, c.id, c.topics, c.opts...)
		var ce *ConfigError
		if g != nil || !errors.As(err, &ce) || ce.Option != c.option || ce.Component != "group" || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v %q %v: err = %v, want group option %q", c.brokers, c.id, c.topics, err, c.option)
		}
	}
}

// TestNewGroupUnreachableBroker: a wrong address is a
// *BrokerUnreachableError at once, not a member joining forever.
func TestNewGroupUnreachableBroker(t *testing.T) {
	addr := closedAddr(t)
	g, err := NewGroup(context.Background(), []string{addr}, "g", []string{"t"})
	var ue *BrokerUnreachableError
	if g != nil || !errors.As(err, &ue) || !errors.Is(err, ErrBrokerUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v", err)
	}
}
