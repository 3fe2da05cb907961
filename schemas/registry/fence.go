// Fencing: one writer at a time on a shared store.
//
// Several registries may run over one _schemas topic (a second process, a
// restarted one whose predecessor is not quite dead). Each follows the
// topic (follow.go), so each serves what any of them registered. Only one
// writes: the instance whose WRITER claim is the newest on the topic.
//
// The rule, and why: a registry started as a writer appends a claim with
// the next epoch; a claim counts when its epoch is higher than the claim in
// force, so of two claims racing for one epoch the first on the topic wins.
// Every value a writer stores carries its epoch, and a value counts only
// under the claim in force at its place in the log. The topic's order is
// the one clock every instance shares, so every instance, and every replay
// after a restart, counts the same records. A leader lease was the other
// choice; it needs periodic renewals on the topic and clocks that agree
// across machines, and still needs this same fencing for a writer paused
// past its lease. Newest-claim-wins also lets a restarted registry write at
// once instead of waiting out its predecessor's lease.
//
// A write goes: catch up with the topic (so ids and versions are decided
// on everything stored), refuse unless our claim is in force, append the
// stamped records, read the topic back to its end and check that our
// records counted. A claim that landed between our catch-up and our
// records fences them: the client hears that the change did not take
// effect and which instance writes now. A registry started WithReadOnly
// never claims: it serves reads and refuses writes.
//
// Known limit: a tombstone has no value to stamp, so a permanent delete
// from a fenced writer in that window still removes its version; it can
// only remove a version that was soft-deleted when that writer caught up.

package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// WithInstance names this registry instance in its writer claim and in the
// errors other instances give while it is the writer. Default: host name,
// process id and a random suffix.
func WithInstance(name string) Option { return func(c *config) { c.instance = name } }

// WithReadOnly starts the registry without claiming the store: it follows
// the writer's records and serves reads, and refuses writes with 50301.
func WithReadOnly() Option { return func(c *config) { c.readOnly = true } }

func defaultInstance() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "registry"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// claim appends a writer claim with the next epoch and reads it back.
// Losing to a claim stored first for the same epoch is not an error: the
// registry then serves reads only, and says so in its log. A store failure
// is: the claim may or may not be stored, and a registry that cannot
// store a claim could not store a schema either.
func (r *Registry) claim(ctx context.Context) error {
	r.mu.RLock()
	epoch := r.st.writer.Epoch + 1
	r.mu.RUnlock()
	host, _ := os.Hostname()
	me := writerRecordValue{Instance: r.cfg.instance, Epoch: epoch, Host: host, PID: os.Getpid()}
	if err := r.store.Append(ctx, writerRecord(me)); err != nil {
		return fmt.Errorf("%w: storing the writer claim: %w", ErrStorage, err)
	}
	if _, err := r.catchUp(ctx); err != nil {
		return fmt.Errorf("%w: reading the writer claim back: %w", ErrStorage, err)
	}
	r.me = me
	if w := r.writerNow(); w.Epoch != epoch || w.Instance != me.Instance {
		r.cfg.logger.Warn("registry: another instance claimed the store at the same time; serving reads only", "writer", w.Instance, "epoch", w.Epoch)
	}
	return nil
}

// writerNow is the claim in force.
func (r *Registry) writerNow() writerRecordValue {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.writer
}

// isWriter reports whether our claim is in force.
func (r *Registry) isWriter() bool {
	w := r.writerNow()
	return !r.cfg.readOnly && r.me.Epoch > 0 && w.Epoch == r.me.Epoch && w.Instance == r.me.Instance
}

// writable is the first step of every write, with writeMu held: catch up
// with the store, then refuse unless this instance is the writer.
func (r *Registry) writable(ctx context.Context) *Error {
	if r.closed.Load() {
		return apiErr(ErrStorage, "the registry is closed; nothing was changed")
	}
	if r.cfg.readOnly {
		return r.notWriter("this registry instance (%s) was started read-only", r.cfg.instance)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.writeTimeout)
	defer cancel()
	if _, err := r.catchUp(ctx); err != nil {
		return apiErr(ErrStorage, "reading the store before writing failed, so nothing was changed (check the broker, then retry): %v", err)
	}
	if !r.isWriter() {
		return r.notWriter("instance %s took over writing from this one (%s)", quoted(r.writerNow().Instance), r.cfg.instance)
	}
	return nil
}

// notWriter is the error of a write this instance may not make; it names
// the writer in force.
func (r *Registry) notWriter(format string, args ...any) *Error {
	w := r.writerNow()
	who := "no instance holds the writer claim"
	if w.Epoch > 0 {
		who = fmt.Sprintf("the writer is instance %s (epoch %d", quoted(w.Instance), w.Epoch)
		if w.Host != "" {
			who += fmt.Sprintf(", host %s, pid %d", w.Host, w.PID)
		}
		who += ")"
	}
	return apiErr(ErrNotWriter, "%s: %s; send writes to it, or restart this instance as a writer to take over; reads keep working here",
		fmt.Sprintf(format, args...), who)
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }
