package runtime

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
// "<partition>/<stage>"), read when there is no cut. A chunked cut is
// reassembled from the chunks fed to chunks (state_chunks.go).
//
// A cut written under an older generation of a group than one already read
// for the partition is a zombie's (fence.go): it is ignored and logged.
func loadState(ctx context.Context, cl clock.Clock, log *slog.Logger, brokers []string, stateTopic string, partition int32, timeout time.Duration, chunks *stateChunks) (*Checkpoint, map[string][]byte, error) {
	key := StateKey(partition)
	prefix := key + "/"
	var mu sync.Mutex
	var cut []byte
	newest := map[string]int32{} // group → newest generation read for key
	legacy := map[string][]byte{}
	var read atomic.Int64
	tail, err := topics.StartTail(ctx, brokers, stateTopic, func(m topics.Message) {
		read.Add(1)
		k := string(m.Key)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case k == key:
			if group, gen, member, ok := claimOf(m); ok {
				if last, seen := newest[group]; seen && gen < last {
					log.Warn("state record from an older generation ignored", "topic", stateTopic, "partition", partition,
						"offset", m.Offset, "group", group, "generation", gen, "member", member, "newest_generation", last)
					return
				}
				newest[group] = gen
			}
			cut = bytes.Clone(m.Value) // nil for a tombstone
		case chunks.put(k, m.Value):
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
	if ok, err := awaitCaughtUp(ctx, cl, tail.CaughtUp(), &read, timeout); err != nil {
		return nil, nil, err
	} else if !ok {
		return nil, nil, fmt.Errorf("reading the state changelog %s partition %d made no progress for %v (%d records read)", stateTopic, partition, timeout, read.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cut) == 0 {
		return nil, legacy, nil
	}
	cut, err = chunks.assemble(cut)
	if err != nil {
		return nil, nil, fmt.Errorf("state on %s partition %d: %w", stateTopic, partition, err)
	}
	cp, err := DecodeCheckpoint(cut)
	if err != nil {
		return nil, nil, fmt.Errorf("state on %s partition %d: %w", stateTopic, partition, err)
	}
	return cp, nil, nil
}

// restoreState loads the partition's latest cut into the chain. A cut
// whose Resume is at or past the committed offset restores everything,
// the tick's window included; one behind it (the offsets were moved
// forward by hand) restores the stage state only, which then runs behind
// the offsets, never ahead of them.
func (w *partitionWorker) restoreState(ctx context.Context) error {
	lr := w.lane
	w.chunks = newStateChunks(w.partition)
	cp, legacy, err := loadState(ctx, lr.clock, lr.log, lr.cfg.Brokers, lr.topic(topics.KindState), w.partition, w.readTimeout, w.chunks)
	if err != nil {
		return err
	}
	switch {
	case cp != nil:
		if err := w.chain.Restore(cp.State); err != nil {
			return err
		}
		if !resumesFrom(cp, w.claim.Offset) {
			lr.log.Warn("state checkpoint is behind the committed offset (offsets moved forward by hand); restoring stage state only", "lane", lr.lane, "partition", w.partition, "checkpoint", cp.ID(), "resume", cp.Resume, "committed", w.claim.Offset)
			return nil
		}
		// A cut ahead of the committed offset was written, acknowledged,
		// by an owner that died before committing it: every output of the
		// records it counts as done is durable, so it is the position to
		// resume from. The records between are skipped (Checkpoint.Done),
		// not applied to its state a second time. (A backward move by hand
		// always resets the state with the offsets: offsets_reset.go.)
		w.resumeFrom(cp)
		lr.log.Info("state restored", "lane", lr.lane, "partition", w.partition, "checkpoint", cp.ID(), "stages", len(cp.State), "committed", w.claim.Offset)
	case len(legacy) > 0:
		if err := w.chain.Restore(legacy); err != nil {
			return err
		}
		lr.log.Info("state restored (per-stage changelog)", "lane", lr.lane, "partition", w.partition, "stages", len(legacy))
	}
	return nil
}

// resumesFrom reports whether a partition committed at committed resumes
// from cp, its tick window and all: when cp is at or past the commit. One
// behind it gives stage state only.
func resumesFrom(cp *Checkpoint, committed int64) bool { return cp.Resume >= committed }

// resumeFrom makes cp the point the worker continues from.
func (w *partitionWorker) resumeFrom(cp *Checkpoint) {
	w.restored = cp
	fl := cp.Flags
	w.flags = &fl
	for _, id := range cp.Approved {
		w.applied.Approve(id)
	}
}

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
	since := restartScanSince(w.restored) // decisions_since.go
	ask := scanAsk{since: since, until: until}
	var d *Decisions
	if w.scans != nil {
		d, err = w.scans.load(ctx, w.partition, ask, w.readTimeout)
	} else {
		var got map[int32]*Decisions
		got, err = lr.scanDecisions(ctx, map[int32]scanAsk{w.partition: ask}, w.readTimeout)
		d = got[w.partition]
	}
	if err != nil {
		return err
	}
	// Resumed from a cut, frames read below until are re-decided even
	// when no decision was found: an earlier run may have answered them.
	if d.Len() > 0 || (w.restored != nil && until > w.restored.Next) {
		w.decisions, w.scannedSince = d, since
		lr.log.Info("re-deciding from the event log", "lane", lr.lane, "partition", w.partition, "decisions", d.Len(), "until", until, "since", since)
	}
	return nil
}

// saveCut writes cp to the state changelog, and the due checkpoints to the
// checkpoints topic, and waits until Kafka acknowledged them. A cut too big
// for one record is written in chunks (state_chunks.go); a due checkpoint
// too big for one is left out of the checkpoints topic and reported (a
// replay starts from an earlier one).
func (w *partitionWorker) saveCut(cp *Checkpoint, due []*Checkpoint) error {
	lr := w.lane
	if err := w.fence.check(); err != nil {
		return err
	}
	key := StateKey(w.partition)
	var acks []*topics.Ack
	send := func(m topics.Message) {
		a := topics.NewAck()
		acks = append(acks, a)
		m.Ack = a
		w.fence.stamp(&m)
		lr.sinks.of(w.partition).In() <- m
	}
	wait := func() error {
		for _, a := range acks {
			if err := waitAck(w.work, lr, a); err != nil {
				return fmt.Errorf("state changelog: %w", err)
			}
		}
		acks = acks[:0]
		return nil
	}
	for _, c := range due {
		b, err := EncodeCheckpoint(c)
		if err != nil {
			return err
		}
		m := topics.Message{Topic: lr.topic(topics.KindCheckpoints), Key: []byte(key), Value: b,
			Headers: []topics.Header{{Key: HeaderResume, Value: strconv.AppendInt(nil, c.Resume, 10)}}}
		if n := topics.RecordSize(m); n > lr.sinks.maxRecord() {
			lr.reportErr(fmt.Errorf("checkpoint %s of %d bytes is larger than a record may be: not written to %s", c.ID(), n, m.Topic))
			continue
		}
		send(m)
	}
	b, err := EncodeCheckpoint(cp)
	if err != nil {
		return err
	}
	state := lr.topic(topics.KindState)
	if w.chunks == nil {
		w.chunks = newStateChunks(w.partition)
	}
	chunks, head := w.chunks.split(state, key, b)
	for _, c := range chunks {
		send(c)
	}
	if len(chunks) > 0 {
		if err := wait(); err != nil { // every chunk durable before a head names it
			return err
		}
	}
	head.Headers = append(head.Headers, topics.Header{Key: HeaderResume, Value: strconv.AppendInt(nil, cp.Resume, 10)})
	send(head)
	if err := wait(); err != nil {
		return err
	}
	for _, m := range w.chunks.written(state, chunks) {
		w.fence.stamp(&m)
		lr.sinks.of(w.partition).In() <- m
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
