package schemas

import (
	"errors"
	"fmt"
	"time"
)

// The negative cache: a schema id the registry says it does not know is
// remembered for a while, so a stream of records carrying one bad id costs
// one registry request per TTL instead of one per record. It expires, and
// is not kept for good like a known id, because a registry may learn an id
// later: a follower that had not caught up with its topic, or a producer
// that wrote before its registration was read back.

// LookupOption configures a SchemaLookup.
type LookupOption func(*lookupConfig)

// Clock is what a SchemaLookup reads the time from; clock.Clock satisfies
// it. The package names its own interface because the ground floor imports
// none of the project's packages.
type Clock interface{ Now() time.Time }

type lookupConfig struct {
	unknownTTL   time.Duration
	unknownLimit int
	clock        Clock
}

// Defaults of the negative cache.
const (
	DefaultUnknownIDTTL   = 30 * time.Second
	DefaultUnknownIDLimit = 10_000
)

// ErrLookupConfig is wrapped by NewSchemaLookup's errors for a bad option.
var ErrLookupConfig = errors.New("schemas: invalid schema lookup option")

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func defaultLookupConfig() lookupConfig {
	return lookupConfig{unknownTTL: DefaultUnknownIDTTL, unknownLimit: DefaultUnknownIDLimit, clock: wallClock{}}
}

func (c lookupConfig) validate() error {
	if c.unknownTTL < 0 {
		return fmt.Errorf("%w: unknown-id TTL %v, want >= 0 (0 turns the negative cache off)", ErrLookupConfig, c.unknownTTL)
	}
	if c.unknownLimit < 1 {
		return fmt.Errorf("%w: unknown-id limit %d, want at least 1", ErrLookupConfig, c.unknownLimit)
	}
	if c.clock == nil {
		return fmt.Errorf("%w: clock is nil", ErrLookupConfig)
	}
	return nil
}

// WithUnknownIDTTL sets how long an id the registry does not know is
// answered from memory before the registry is asked again. Default 30 s;
// 0 asks every time.
func WithUnknownIDTTL(d time.Duration) LookupOption {
	return func(c *lookupConfig) { c.unknownTTL = d }
}

// WithUnknownIDLimit bounds how many unknown ids are remembered at once, so
// a flood of random ids cannot grow the cache without limit; past it the
// oldest entry goes. Default 10,000.
func WithUnknownIDLimit(n int) LookupOption { return func(c *lookupConfig) { c.unknownLimit = n } }

// WithLookupClock sets the clock the negative cache expires by. Default:
// the wall clock.
func WithLookupClock(c Clock) LookupOption { return func(cfg *lookupConfig) { cfg.clock = c } }

// negCache remembers unknown ids until their expiry, oldest first. Guarded
// by the lookup's mutex.
type negCache struct {
	until map[uint32]negEntry
	order []uint32 // insertion order, for eviction past the limit
}

type negEntry struct {
	until time.Time
	err   error
}

// get returns the remembered error for id while it has not expired.
func (n *negCache) get(id uint32, now time.Time) (error, bool) {
	e, ok := n.until[id]
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.err, true
}

// put remembers err for id until now+ttl, evicting the oldest entries past
// limit.
func (n *negCache) put(id uint32, err error, now time.Time, ttl time.Duration, limit int) {
	if ttl <= 0 {
		return
	}
	if n.until == nil {
		n.until = map[uint32]negEntry{}
	}
	if _, ok := n.until[id]; !ok {
		n.order = append(n.order, id)
	}
	n.until[id] = negEntry{until: now.Add(ttl), err: err}
	for len(n.until) > limit && len(n.order) > 0 {
		old := n.order[0]
		n.order = n.order[1:]
		delete(n.until, old)
	}
}

// forget drops id, once the registry knows it.
func (n *negCache) forget(id uint32) {
	// order keeps the id; eviction passes over ids no longer in until.
	delete(n.until, id)
}

func (n *negCache) len() int { return len(n.until) }

// unknownLen is the number of remembered unknown ids, for tests.
func (l *SchemaLookup) unknownLen() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.unknown.len()
}
