package topics

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
)

// TestTailCloseIsBoundedWhenTheBrokerStopsAnswering: the broker stops
// answering a caught-up Tail's reader mid-request (a fetch refused as
// NOT_LEADER sends it to look up its partition again, and the broker
// never answers the offsets request that follows, holding the connection
// open). Close returns within its bound instead of waiting on the
// request's own deadline, or forever where there is none.
func TestTailCloseIsBoundedWhenTheBrokerStopsAnswering(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("mute", 1))
	produce(t, addrs, "mute", 5)
	var log tailLog
	tail := startTail(t, addrs, "mute", log.fn, nil)
	select {
	case <-tail.CaughtUp():
	case <-time.After(testTimeout):
		t.Fatal("tail did not catch up")
	}

	wake := make(chan struct{})
	t.Cleanup(func() { close(wake) }) // runs before the broker closes
	var held atomic.Int64
	b.cluster.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		held.Add(1)
		b.cluster.SleepControl(func() { <-wake })
		return nil, nil, false
	})
	var once atomic.Bool
	refuseFetches(b, kafka.NotLeaderForPartition, func() bool { return once.CompareAndSwap(false, true) }, nil)
	clocktest.WaitFor(t, testTimeout, "the reader waiting on an unanswered request", func() bool { return held.Load() > 0 })

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- tail.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close = %v, want the readers stopped", err)
		}
		t.Logf("Close returned after %v", time.Since(start).Round(time.Microsecond))
	case <-time.After(2 * time.Second):
		t.Fatalf("Close still blocked %v after the broker stopped answering", time.Since(start).Round(time.Millisecond))
	}
	if log.count() != 5 {
		t.Fatalf("delivered %d records, want 5", log.count())
	}
}

// TestTailCloseLeavesAStuckReaderBehind: readers that do not stop are
// reported and left behind once Close's bound passes (on a fake clock).
func TestTailCloseLeavesAStuckReaderBehind(t *testing.T) {
	fake := clock.NewFake(time.Unix(0, 0))
	var reported atomic.Value
	tail := &Tail{topic: "stuck", done: make(chan struct{}), cancel: func() {}, conns: newConnSet(time.Second),
		clock: fake, closeTimeout: tailCloseTimeout, onError: func(err error) { reported.Store(err) }}
	closed := make(chan error, 1)
	go func() { closed <- tail.Close() }()
	var err error
	clocktest.WaitFor(t, testTimeout, "Close returning past its bound", func() bool {
		fake.Advance(time.Second)
		select {
		case err = <-closed:
			return true
		default:
			return false
		}
	})
	if !errors.Is(err, ErrTailStuck) {
		t.Fatalf("Close = %v, want ErrTailStuck", err)
	}
	if got, _ := reported.Load().(error); !errors.Is(got, ErrTailStuck) {
		t.Fatalf("error hook got %v", got)
	}
	if elapsed := fake.Now().Sub(time.Unix(0, 0)); elapsed < tailCloseTimeout {
		t.Fatalf("gave up after %v of fake time, before the %v bound", elapsed, tailCloseTimeout)
	}
}

// TestStartTailEndsWithItsContextWhenTheBrokerStopsAnswering: the broker
// accepts connections but never answers the metadata request StartTail
// reads the partitions with; cancelling the context ends StartTail.
func TestStartTailEndsWithItsContextWhenTheBrokerStopsAnswering(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("silent", 1))
	wake := make(chan struct{})
	t.Cleanup(func() { close(wake) })
	var held atomic.Int64
	b.cluster.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		held.Add(1)
		b.cluster.SleepControl(func() { <-wake })
		return nil, nil, false
	})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() {
		tail, err := StartTail(ctx, addrs, "silent", func(Message) {}, nil)
		if err == nil {
			tail.Close()
		}
		started <- err
	}()
	clocktest.WaitFor(t, testTimeout, "StartTail waiting on an unanswered request", func() bool { return held.Load() > 0 })
	cancel()
	select {
	case err := <-started:
		if err == nil {
			t.Fatal("StartTail succeeded against a broker that never answered")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("StartTail still blocked 2s after its context was cancelled")
	}
}
