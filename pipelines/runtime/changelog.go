package runtime

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/matriz/pipelines/schemas"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/topics"
)

// The changelog keeps each partition's latest cut (a Checkpoint: every
// stage's state, the tick's window and the offsets they account for) on
// the lane's compacted matriz.<lane>.state topic, key "<partition>", so a
// partition that moves to another worker (or a restarted one) resumes with
// the drift EMAs, breakthrough baselines, fold-guard breakers and the
// guardian's waiting actions it had, at exactly the committed offset.
//
// A worker writes the cut, acknowledged, before it commits the cut's
// Resume offset, so a committed offset never points past state that was
// lost, and restored state never runs ahead of the committed offset.

// loadState reads the lane's changelog to its end and returns partition's
// latest cut, and the per-stage state an older binary wrote (key
// "<partition>/<stage>"), read when there is no cut.
//
// A cut written under an older generation of a group than one already read
// for the partition is a zombie's (fence.go): it is ignored and logged.
//
// A worker writes a cut, then commits it: one that died in between left a
// latest cut past the committed offset. Restoring it would apply the
// records between the two twice, so the cut that was committed (its Resume
// in HeaderResume is the committed offset) is returned instead while the
// log still holds it.
func loadState(ctx context.Context, cl clock.Clock, log *slog.Logger, brokers []string, lane string, partition int32, committed int64, timeout time.Duration) (*Checkpoint, map[string][]byte, error) {
	key := StateKey(partition)
	prefix := key + "/"
	var mu sync.Mutex
	var cut, atCommit []byte
	resume := []byte(strconv.FormatInt(committed, 10))
	newest := map[string]int32{} // group → newest generation read for key
	legacy := map[string][]byte{}
	tail, err := topics.StartTail(ctx, brokers, topics.Name(lane, topics.KindState), func(m topics.Message) {
		k := string(m.Key)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case k == key:
			if group, gen, member, ok := claimOf(m); ok {
				if last, seen := newest[group]; seen && gen < last {
					log.Warn("state record from an older generation ignored", "lane", lane, "partition", partition,
						"offset", m.Offset, "group", group, "generation", gen, "member", member, "newest_generation", last)
					return
				}
				newest[group] = gen
			}
			cut = bytes.Clone(m.Value) // nil for a tombstone
			switch r := m.Header(HeaderResume); {
			case bytes.Equal(r, resume):
				atCommit = cut
			case r == nil:
				atCommit = nil // a tombstone, or an operator's cut (matriz offsets reset): it wins
			}
		case strings.HasPrefix(k, prefix):
			if len(m.Value) == 0 {
				delete(legacy, k[len(prefix):])
				return
			}
			legacy[k[len(prefix):]] = bytes.Clone(m.Value)
		}
	}, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tail.Close()
	t := cl.NewTicker(timeout)
	defer t.Stop()
	select {
	case <-tail.CaughtUp():
	case <-t.C():
		return nil, nil, fmt.Errorf("reading the state changelog of %s partition %d did not reach its end within %v", lane, partition, timeout)
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cut) == 0 {
		return nil, legacy, nil
	}
	cp, err := DecodeCheckpoint(cut)
	if err != nil {
		return nil, nil, fmt.Errorf("state of %s partition %d: %w", lane, partition, err)
	}
	if cp.Resume != committed && atCommit != nil {
		at, err := DecodeCheckpoint(atCommit)
		if err != nil {
			return nil, nil, fmt.Errorf("state of %s partition %d: %w", lane, partition, err)
		}
		log.Warn("the latest state checkpoint was written but not committed; restoring the committed one", "lane", lane, "partition", partition,
			"latest", cp.ID(), "latest_resume", cp.Resume, "restored", at.ID(), "committed", committed)
		return at, nil, nil
	}
	return cp, nil, nil
}

// restoreState loads the partition's latest cut into the chain. A cut
// whose Resume is the committed offset restores everything, the tick's
// window included; one that is not (the offsets were moved forward by
// hand) restores the stage state only, which then runs behind the offsets,
// never ahead of them.
func (w *partitionWorker) restoreState(ctx context.Context) error {
	lr := w.lane
	cp, legacy, err := loadState(ctx, lr.clock, lr.log, lr.cfg.Brokers, string(lr.lane), w.partition, w.claim.Offset, w.readTimeout)
	if err != nil {
		return err
	}
	switch {
	case cp != nil:
		if err := w.chain.Restore(cp.State); err != nil {
			return err
		}
		if cp.Resume != w.claim.Offset {
			lr.log.Warn("state checkpoint does not match the committed offset; restoring stage state only", "lane", lr.lane, "partition", w.partition, "checkpoint", cp.ID(), "resume", cp.Resume, "committed", w.claim.Offset)
			return nil
		}
		w.resumeFrom(cp)
		lr.log.Info("state restored", "lane", lr.lane, "partition", w.partition, "checkpoint", cp.ID(), "stages", len(cp.State))
	case len(legacy) > 0:
		if err := w.chain.Restore(legacy); err != nil {
			return err
		}
		lr.log.Info("state restored (per-stage changelog)", "lane", lr.lane, "partition", w.partition, "stages", len(legacy))
	}
	return nil
}

// resumeFrom makes cp the point the worker continues from.
func (w *partitionWorker) resumeFrom(cp *Checkpoint) {
	w.restored = cp
	fl := cp.Flags
	w.flags = &fl
	for _, id := range cp.Approved {
		w.applied.Approve(id)
	}
}

// decisionSlack is how far before a cut's wall-clock time the scan for the
// decisions made after it starts: the sink stamps records when it writes
// them, which can trail the decision a little.
const decisionSlack = time.Minute

// loadRestartDecisions reads what earlier runs decided past the cut the
// partition resumes from: everything up to the partition's end now may
// have been decided, and is decided the same way again.
func (w *partitionWorker) loadRestartDecisions(ctx context.Context) error {
	lr := w.lane
	if w.restored != nil && w.restored.Final {
		return nil // a clean stop: the run before read nothing past its cut
	}
	ends, err := topics.PartitionEnds(ctx, lr.cfg.Brokers, w.claim.Topic)
	if err != nil {
		return err
	}
	until := ends[int(w.partition)]
	var since time.Time
	if w.restored != nil {
		since = w.restored.Written.Add(-decisionSlack)
	}
	d, err := LoadDecisions(ctx, lr.clock, lr.cfg.Brokers, string(lr.lane), w.partition, since, until, w.decodeEvent, w.readTimeout)
	if err != nil {
		return err
	}
	if d.Len() > 0 {
		w.decisions = d
		lr.log.Info("re-deciding from the event log", "lane", lr.lane, "partition", w.partition, "decisions", d.Len(), "until", until)
	}
	return nil
}

func (w *partitionWorker) decodeEvent(b []byte, ev *schemas.Event) error {
	_, err := schemas.DecodeWire(w.work, w.lane.serde.Lookup(), b, ev)
	return err
}

// saveCut writes cp to the state changelog, and the due checkpoints to the
// checkpoints topic, and waits until Kafka acknowledged them.
func (w *partitionWorker) saveCut(cp *Checkpoint, due []*Checkpoint) error {
	lr := w.lane
	if err := w.fence.check(); err != nil {
		return err
	}
	key := []byte(StateKey(w.partition))
	var acks []*topics.Ack
	send := func(topic string, c *Checkpoint) error {
		b, err := EncodeCheckpoint(c)
		if err != nil {
			return err
		}
		a := topics.NewAck()
		acks = append(acks, a)
		m := topics.Message{Topic: topic, Key: key, Value: b, Ack: a,
			Headers: []topics.Header{{Key: HeaderResume, Value: strconv.AppendInt(nil, c.Resume, 10)}}}
		w.fence.stamp(&m)
		lr.sink.In() <- m
		return nil
	}
	for _, c := range due {
		if err := send(topics.Name(string(lr.lane), topics.KindCheckpoints), c); err != nil {
			return err
		}
	}
	if err := send(topics.Name(string(lr.lane), topics.KindState), cp); err != nil {
		return err
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
