package topics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
)

// Why this file exists: kafka-go stops heartbeating as soon as a
// generation ends and rejoins only once every handler returned, and a
// process can be paused (a long GC, SIGSTOP, a VM migration) for longer
// than the session timeout. Either way the coordinator evicts the member
// and hands its partitions to another while its handlers still run and
// believe they own them. A Claim's lease says until when the member can be
// sure it is still counted in its generation, so its writes can be fenced
// (see Claim.Current), and Claim.Check asks the coordinator outright.
//
// The lease is renewed by heartbeats of its own, sent every heartbeat
// interval while the generation runs, next to kafka-go's: a heartbeat sent
// at T and answered without error means the coordinator's session for the
// member lasts at least until T + session timeout, so the lease runs until
// T + session timeout − a margin that covers a write's own latency. A
// member paused past it finds its lease lapsed before it writes anything.

// ErrClaimLapsed is wrapped by Claim.Current and Claim.Check when the
// member can no longer be sure it holds the claim's partition.
var ErrClaimLapsed = errors.New("the claim's generation may have ended at the coordinator (its lease lapsed); another member may own the partition")

// lease is one generation's: shared by the generation's claims.
type lease struct {
	clock   clock.Clock
	client  *kafka.Client
	group   string
	gen     int32
	member  string
	session time.Duration
	margin  time.Duration
	until   atomic.Int64 // unix nanoseconds; 0: never renewed

	mu          sync.Mutex
	coordinator string // host:port, found once (lease_wire.go)
}

func newLease(cfg groupConfig, brokers []string, group string, gen *kafka.Generation) *lease {
	return &lease{
		clock: cfg.clock, group: group, gen: gen.ID, member: gen.MemberID,
		// A transport of its own: the shared default keeps idle
		// connections that a broker restart leaves dead, and a lease that
		// cannot find its coordinator never runs.
		client:  &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: cfg.heartbeat, Transport: SecureTransport(&kafka.Transport{DialTimeout: cfg.heartbeat, IdleTimeout: cfg.heartbeat})},
		session: cfg.sessionTimeout, margin: cfg.sessionTimeout / 5,
	}
}

// heartbeat asks the coordinator whether the generation is current; a
// plain yes renews the lease. A rebalance in progress is still current
// (the generation ends when it completes) but renews nothing.
func (l *lease) heartbeat(ctx context.Context) error {
	l.mu.Lock() // one heartbeat at a time: the renewal loop and Check share the coordinator's address
	defer l.mu.Unlock()
	sent := l.clock.Now()
	err := l.sendHeartbeat(ctx)
	switch {
	case err == nil:
		until := sent.Add(l.session - l.margin).UnixNano()
		for {
			cur := l.until.Load()
			if cur >= until || l.until.CompareAndSwap(cur, until) {
				return nil
			}
		}
	case errors.Is(err, kafka.RebalanceInProgress):
		return nil
	case errors.Is(err, kafka.IllegalGeneration), errors.Is(err, kafka.UnknownMemberId), errors.Is(err, kafka.FencedInstanceID):
		l.until.Store(-1) // never current again
		return fmt.Errorf("generation %d of group %s, member %s: %w: %w", l.gen, l.group, l.member, ErrClaimLapsed, err)
	}
	return fmt.Errorf("heartbeat for generation %d of group %s: %w", l.gen, l.group, err)
}

// current returns nil while the lease runs.
func (l *lease) current() error {
	if until := l.until.Load(); until <= 0 || l.clock.Now().UnixNano() >= until {
		return fmt.Errorf("generation %d of group %s, member %s: %w", l.gen, l.group, l.member, ErrClaimLapsed)
	}
	return nil
}

// renew heartbeats every interval until ctx (the generation) ends or the
// lease lapses. It runs as one of the generation's functions, so its
// return ends the generation: a member that cannot be sure it still holds
// its partitions (its heartbeats went unanswered, or the process was
// paused) drains, writing nothing, and joins again, and the next owner
// redoes what was refused from the last commit.
func (l *lease) renew(ctx context.Context, interval time.Duration, report func(error)) {
	t := l.clock.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := l.heartbeat(ctx); err != nil {
				last = err
			}
			if err := l.current(); err != nil && ctx.Err() == nil {
				report(fmt.Errorf("%w; ending the generation (last heartbeat error: %v)", err, last))
				return
			}
		}
	}
}

// Current returns nil while the member can be sure the coordinator still
// counts it in the claim's generation: the lease its heartbeats renew has
// not run out. After the generation ends the lease is no longer renewed
// and runs out within the session timeout, before the coordinator can
// evict the member; a member paused past it is refused at once. A write
// made under the claim should check it just before it is sent.
func (c Claim) Current() error {
	if c.lease == nil {
		return nil // a claim made by hand, outside a Group
	}
	return c.lease.current()
}

// Check asks the group coordinator whether the claim's generation is still
// current (and renews the lease when it is): a fencing check for a write
// that must not happen twice, such as an external action.
func (c Claim) Check(ctx context.Context) error {
	if c.lease == nil {
		return nil
	}
	var err error
	for range checkAttempts {
		if err = c.lease.current(); err != nil {
			return err
		}
		if err = c.lease.heartbeat(ctx); err == nil {
			return c.lease.current()
		}
		if errors.Is(err, ErrClaimLapsed) || ctx.Err() != nil {
			return err
		}
		// The coordinator did not answer (a dial or read timed out on a
		// loaded broker): that says nothing about the claim, so ask again
		// while the lease still runs rather than refuse the write.
	}
	return err
}

// checkAttempts is how many heartbeats Check sends before a coordinator
// that does not answer refuses the write.
const checkAttempts = 3
