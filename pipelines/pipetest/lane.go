package pipetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/topics"
)

// Run starts run (a lane runtime: it calls ready once it joined its group)
// and returns once it is ready; the returned stop cancels it and returns
// its error. It stops when the test ends anyway. Taking run as a function
// keeps this harness free of the runtime, whose own tests use it.
func Run(t testing.TB, run func(ctx context.Context, ready func()) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	var readyOnce sync.Once
	done := make(chan error, 1)
	go func() { done <- run(ctx, func() { readyOnce.Do(func() { close(ready) }) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("lane runtime stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("lane runtime not ready within 30s")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = fmt.Errorf("lane runtime did not stop within 60s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// Ends returns each partition's end offset of topic.
func (e *Env) Ends(t testing.TB, topic string) map[int]int64 {
	t.Helper()
	ends, err := topics.PartitionEnds(context.Background(), e.Brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	return ends
}

// Committed returns group's committed offset per partition of topic (-1
// where none).
func (e *Env) Committed(t testing.TB, topic, group string) map[int]int64 {
	t.Helper()
	parts := slices.Sorted(maps.Keys(e.Ends(t, topic)))
	tr := topics.SecureTransport(&kafka.Transport{})
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(e.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	resp, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// WaitCommitted waits until group committed every record topic holds now.
func (e *Env) WaitCommitted(t testing.TB, topic, group string, within time.Duration) {
	t.Helper()
	var want, got int64
	for _, end := range e.Ends(t, topic) {
		want += end
	}
	clocktest.WaitFor(t, within, fmt.Sprintf("group %s committed all %d records of %s", group, want, topic), func() bool {
		got = 0
		for _, off := range e.Committed(t, topic, group) {
			got += max(off, 0)
		}
		return got >= want
	}, func() string { return fmt.Sprintf("%d committed", got) })
}
