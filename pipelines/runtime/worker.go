package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reugn/go-streams/flow"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// partitionWorker runs one claimed partition through the lane's graph:
//
//	Kafka partition → decode → idle watermark → tick ─→ decimate ─┐
//	                                             └→ late frames ──┴→ chain → outputs → lane sink
//
// and commits the partition's offset, through the claim's generation, up
// to the contiguous run of records whose every output Kafka acknowledged.
type partitionWorker struct {
	lane     *laneRuntime
	claim    topics.Claim
	src      *topics.PartitionSource
	inflight *inflight
	tick     *operators.Tick
	ring     *operators.Decimate
	outs     *outputs
	// chain is this partition's own chain: its stateful stages hold this
	// partition's state and nothing else's, without locks of their own.
	// chainMu hands the chain between the frame goroutine, which runs it,
	// and the commit loop, which snapshots it between two frames; it is
	// contended only at a commit.
	chainMu sync.Mutex
	chain   *stages.Chain
	drift   *stages.Drift // the chain's drift stage, read for the gauges; nil without one
	// work is the context the graph's own work runs on: it outlives the
	// claim's, so the open frame is finished and flushed after revocation.
	work context.Context
	// written is the state last written to the changelog, by stage.
	written map[string][]byte
}

// handlePartition is the Group handler: it returns once the partition's
// work is finished (or abandoned after the drain timeout) and committed.
func (lr *laneRuntime) handlePartition(ctx context.Context, claim topics.Claim) {
	w := &partitionWorker{lane: lr, claim: claim, inflight: newInflight(), work: context.WithoutCancel(ctx), written: map[string][]byte{}}
	lr.log.Info("partition assigned", "lane", lr.lane, "partition", claim.Partition, "offset", claim.Offset, "generation", claim.Generation)
	if err := w.run(ctx); err != nil {
		lr.log.Error("partition worker", "lane", lr.lane, "partition", claim.Partition, "err", err)
		// Returning early would end the generation for every member; wait
		// for the revocation or shutdown instead.
		<-ctx.Done()
	}
	lr.log.Info("partition released", "lane", lr.lane, "partition", claim.Partition, "generation", claim.Generation)
}

func (w *partitionWorker) run(ctx context.Context) error {
	lr := w.lane
	var err error
	if w.chain, err = lr.chain.Factory.New(); err != nil {
		return err
	}
	w.drift, _ = stages.As[*stages.Drift](w.chain)
	if err := w.restoreState(); err != nil {
		return fmt.Errorf("restore partition %d's stage state: %w", w.claim.Partition, err)
	}
	w.src, err = topics.NewPartitionSource(w.work, lr.cfg.Brokers, w.claim.Topic, w.claim.Partition, w.claim.Offset, lr.sourceOpts...)
	if err != nil {
		return err
	}
	// The tick closes frames by event time (replay mode) with the idle
	// watermark below, so a backlog is never judged late; adaptive fps
	// stays on for a live lane.
	w.tick, err = operators.NewTick(lr.lane, append(lr.spec.TickOptions(lr.lane),
		operators.TickClock(lr.clock), operators.TickMode(operators.Replay), operators.TickAdaptive(true),
		operators.TickFlags(lr.flags.Get))...)
	if err != nil {
		w.src.Close()
		return err
	}
	w.ring, err = operators.NewDecimate(lr.spec.DecimateOptions()...)
	if err != nil {
		w.src.Close()
		return err
	}
	w.outs = newOutputs(string(lr.lane), lr.ids, w.inflight, lr.reportErr)
	w.outs.readerVersion = lr.cfg.ReaderVersion

	decode := flow.NewMap(w.decode, 1)
	idle := operators.NewIdleWatermark(w.claim.Partition, lr.clock, lr.cfg.IdleAfter, lr.cfg.IdleAllowance, func() bool { return w.src.Lag() == 0 })
	ring := operators.NewDecimateFlow(w.ring)
	lateFrames := flow.NewMap(w.lateFrame, 1)
	process := flow.NewMap(w.process, 1)
	encode := flow.NewFlatMap(w.outs.encode, 1)
	sink := operators.NewForwardSink(lr.sink.In())

	w.src.Via(decode).Via(idle).Via(w.tick)
	w.tick.Via(ring)
	flow.DoStream(w.tick.Late(), lateFrames)
	done := make(chan struct{})
	go func() {
		defer close(done)
		flow.Merge(ring, lateFrames).Via(process).Via(encode).To(sink)
	}()

	commitEvery := lr.clock.NewTicker(lr.cfg.CommitInterval)
	defer commitEvery.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-commitEvery.C():
			w.commit()
		}
	}
	// Revoked or stopping: stop fetching, let the graph finish the open
	// frames, wait (bounded) for their outputs, and commit what is durable.
	w.src.StopFetching()
	<-done
	drainCtx, cancel := context.WithTimeout(w.work, lr.cfg.DrainTimeout)
	drainErr := w.src.Drain(drainCtx)
	cancel()
	w.commit()
	lr.obs.Forget(w.claim.Partition)
	return errors.Join(drainErr, w.src.Close())
}

// commit stores the partition's committable offset, if it moved, after the
// stage state is durable on the changelog.
func (w *partitionWorker) commit() {
	next, ok := w.src.Committable()
	if !ok {
		return
	}
	if err := w.saveState(); err != nil {
		w.lane.reportErr(err)
		return
	}
	if err := w.claim.Commit(next); err != nil {
		w.lane.reportErr(err)
		return
	}
	w.src.MarkCommitted(next)
}

// decode turns a Kafka record into the tick's input: a Record with its
// message, or a Record already failed with why (it leaves the tick through
// the late outlet and reaches the DLQ). Registry outages are not bad input:
// decode waits them out rather than dead-letter good data.
func (w *partitionWorker) decode(m topics.Message) any {
	lr := w.lane
	lr.obs.MessageIn()
	p := &pending{msg: m}
	w.inflight.put(m.Offset, p)
	rec := &stages.Record{Partition: m.Partition, Offset: m.Offset}
	var msg schemas.MatrizMessage
	for attempt := 0; ; attempt++ {
		id, err := schemas.DecodeWireAs(w.work, lr.serde.Lookup(), m.Value, &msg, lr.cfg.ReaderVersion)
		if err == nil {
			p.schemaID = id
			break
		}
		if reason := DecodeReason(err); reason != "" {
			p.reason = reason
			rec.Fail("decode", err.Error())
			return operators.TickInput{Record: rec}
		}
		lr.reportErr(fmt.Errorf("decode %s/%d@%d: schema registry: %w (retrying)", m.Topic, m.Partition, m.Offset, err))
		if !clock.Sleep(w.work, lr.clock, backoff(attempt)) {
			break
		}
	}
	if err := msg.Validate(); err != nil {
		p.reason = ReasonContract
		rec.Fail("decode", err.Error())
		return operators.TickInput{Record: rec}
	}
	rec.Msg = &msg
	return operators.TickInput{Record: rec}
}

// lateFrame gives a record that missed its frame (or never had one) a
// frame of its own, so it is still answered exactly once: late records go
// through the chain and are marked late on their result; failed ones go
// straight to the DLQ.
func (w *partitionWorker) lateFrame(r *stages.Record) *stages.Frame {
	f := &stages.Frame{Lane: w.lane.lane, Partition: r.Partition, Seq: -1, FPS: w.tick.FPS(), Flags: w.lane.flags.Get(), Records: []stages.Record{*r}}
	if r.Msg != nil {
		f.Start, f.End = r.Msg.TS, r.Msg.TS
	}
	if r.Late {
		w.lane.obs.Late()
	}
	return f
}

// process runs the chain over a frame and records the frame's figures.
func (w *partitionWorker) process(f *stages.Frame) *stages.Frame {
	lr := w.lane
	late := f.Seq < 0
	if late && !anyLive(f) {
		return f // only failed records: nothing for the chain to do
	}
	start := lr.clock.Now()
	w.chainMu.Lock()
	err := w.chain.Run(w.work, f)
	var drift stages.DriftStats
	if w.drift != nil {
		drift = w.drift.Stats()
	}
	w.chainMu.Unlock()
	if err != nil {
		lr.reportErr(fmt.Errorf("chain on %s/%d frame %d: %w", lr.lane, f.Partition, f.Seq, err))
	}
	d := lr.clock.Now().Sub(start)
	if !late {
		w.tick.ObserveFrameDuration(d)
	}
	lr.obs.Frame(f, d, late, w.ring.Backlog(), w.tick.FPS())
	if w.drift != nil {
		lr.obs.Drift(w.claim.Partition, drift)
	}
	return f
}

func anyLive(f *stages.Frame) bool {
	for i := range f.Records {
		if f.Records[i].Live() {
			return true
		}
	}
	return false
}

// DecodeReason classifies a decode failure for the DLQ, or returns "" for
// a transient failure (the registry did not answer) worth retrying.
func DecodeReason(err error) string {
	var wire *schemas.WireError
	var dec *schemas.DecodeError
	switch {
	case errors.Is(err, schemas.ErrUnknownSchemaID):
		return ReasonUnknownSchemaID
	case errors.As(err, &wire), errors.As(err, &dec),
		errors.Is(err, schemas.ErrSchemaText), errors.Is(err, schemas.ErrIncompatible):
		return ReasonUndecodable
	case errors.Is(err, schemas.ErrContract):
		return ReasonContract
	}
	return ""
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 5)
	return min(d, 3*time.Second)
}
