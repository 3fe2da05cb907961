package runtime

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/topics"
)

// The changelog keeps every stage's per-partition state on the lane's
// compacted matriz.<lane>.state topic, so a partition that moves to
// another worker (or a restarted one) resumes with the drift EMAs,
// breakthrough baselines, fold-guard breakers and the guardian's waiting
// actions it had. Key "<partition>/<stage>", value the stage's Snapshot.
//
// A worker writes the snapshots of its partition, acknowledged, before it
// commits the partition's offset, so a committed offset never points past
// state that was lost. Delivery is at least once for state as for output:
// records after the last commit are applied again on top of the snapshot
// after a crash.

// stateKey is the changelog key of a stage's state for a partition.
func stateKey(partition int32, stage string) string {
	return strconv.Itoa(int(partition)) + "/" + stage
}

// loadState reads the lane's changelog to its end and returns partition's
// state by stage.
func loadState(ctx context.Context, cl clock.Clock, brokers []string, lane string, partition int32, timeout time.Duration) (map[string][]byte, error) {
	prefix := strconv.Itoa(int(partition)) + "/"
	var mu sync.Mutex
	state := map[string][]byte{}
	tail, err := topics.StartTail(ctx, brokers, topics.Name(lane, topics.KindState), func(m topics.Message) {
		k := string(m.Key)
		if !strings.HasPrefix(k, prefix) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(m.Value) == 0 {
			delete(state, k[len(prefix):]) // tombstone
			return
		}
		state[k[len(prefix):]] = bytes.Clone(m.Value)
	}, nil)
	if err != nil {
		return nil, err
	}
	defer tail.Close()
	t := cl.NewTicker(timeout)
	defer t.Stop()
	select {
	case <-tail.CaughtUp():
	case <-t.C():
		return nil, fmt.Errorf("reading the state changelog of %s partition %d did not reach its end within %v", lane, partition, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	return state, nil
}

// restoreState loads the partition's state from the changelog into the chain.
func (w *partitionWorker) restoreState() error {
	lr := w.lane
	state, err := loadState(w.work, lr.clock, lr.cfg.Brokers, string(lr.lane), w.claim.Partition, lr.cfg.DrainTimeout)
	if err != nil {
		return err
	}
	if len(state) == 0 {
		return nil
	}
	if err := w.chain.Restore(state); err != nil {
		return err
	}
	w.written = state
	lr.log.Info("state restored", "lane", lr.lane, "partition", w.claim.Partition, "stages", len(state))
	return nil
}

// saveState writes the snapshots that changed since the last save to the
// changelog and waits until Kafka acknowledged them.
func (w *partitionWorker) saveState() error {
	lr := w.lane
	w.chainMu.Lock()
	snap, err := w.chain.Snapshot()
	w.chainMu.Unlock()
	if err != nil {
		return err
	}
	topic := topics.Name(string(lr.lane), topics.KindState)
	var acks []*topics.Ack
	for stage, b := range snap {
		if b == nil || bytes.Equal(w.written[stage], b) {
			continue
		}
		a := topics.NewAck()
		acks = append(acks, a)
		lr.sink.In() <- topics.Message{Topic: topic, Key: []byte(stateKey(w.claim.Partition, stage)), Value: b, Ack: a}
		w.written[stage] = b
	}
	for _, a := range acks {
		if err := waitAck(w.work, lr, a); err != nil {
			return fmt.Errorf("state changelog: %w", err)
		}
	}
	return nil
}

// waitAck waits for one standalone Ack to resolve.
func waitAck(ctx context.Context, lr *laneRuntime, a *topics.Ack) error {
	tk := lr.clock.NewTicker(time.Millisecond)
	defer tk.Stop()
	deadline := lr.clock.Now().Add(lr.cfg.DrainTimeout)
	for !a.Resolved() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tk.C():
			if now.After(deadline) {
				return fmt.Errorf("not acknowledged within %v", lr.cfg.DrainTimeout)
			}
		}
	}
	return a.Err()
}
