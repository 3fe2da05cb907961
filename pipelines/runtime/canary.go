package runtime

// A lane's canary: a candidate chain run in shadow beside the lane's own
// on the glyphs whose Kafka key hashes into the canary's share
// (stages.CanarySampler). Each partition worker keeps a shadow chain of its
// own; per frame it copies the sampled inputs, before the lane's
// chain annotates them, into a shadow frame marked Replay (the guardian
// calls no executor, only records would_execute) with approvals of its own
// (none: the lane's are never consumed), runs it after the lane's chain,
// and compares each input's decision (stages.DecisionOf). The shadow's
// results, events, traces and actions go to matriz.<lane>.canary.*, never
// to the lane's own topics.
//
// Once a partition compared min_samples inputs at an agreement below
// min_agreement, the canary aborts: a canary_abort event on the lane's
// event log, CANARY_ENABLED written off for the lane on matriz.control (so
// every member stops at its next frame, and a restart does not resume),
// and no more shadowing in this process from the next frame.
//
// The shadow's state is not checkpointed: a partition's shadow chain
// starts fresh when the partition is assigned, and its agreement count
// with it. Its outputs count against their input's Ack like the lane's, so
// an offset commits once the shadow's outputs of it are durable too; a
// restart redoes them under the same deterministic ids.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// StageCanary names the canary on the events it writes.
const StageCanary = "canary"

// errCanaryExecutes is what the shadow's executor answers: its frames are
// Replay frames, so the guardian never calls it; were it called, nothing
// runs.
var errCanaryExecutes = errors.New("a canary never executes actions")

// laneCanary is what a lane's canary shares across its partitions.
type laneCanary struct {
	spec    *spec.Canary
	chain   *spec.Chain
	sampler stages.CanarySampler
	floor   stages.CanaryFloor
	// stopped: this process aborted the canary; no partition shadows until
	// CANARY_ENABLED is turned on again.
	stopped atomic.Bool
	// started counts the times CANARY_ENABLED was turned on: a partition
	// whose shadow dates from an earlier one starts afresh, even when it
	// ran no frame while the flag was off (an idle partition that aborted
	// would otherwise keep its aborted shadow).
	started atomic.Int64
	// executorCalls counts calls that reached the shadow's executor: the
	// guard that it stays 0.
	executorCalls atomic.Int64
}

func newLaneCanary(lane schemas.Lane, c *spec.Canary) (*laneCanary, error) {
	lc := &laneCanary{spec: c, floor: c.Floor()}
	var err error
	if lc.sampler, err = stages.NewCanarySampler(c.Fraction); err != nil {
		return nil, err
	}
	if err := lc.floor.Validate(); err != nil {
		return nil, err
	}
	refuse := stages.ExecutorFunc(func(context.Context, schemas.Lane, stages.Action) error {
		lc.executorCalls.Add(1)
		return errCanaryExecutes
	})
	if lc.chain, err = c.Lane.Chain(lane, spec.ChainOptions{Executor: refuse}); err != nil {
		return nil, fmt.Errorf("lane %s's canary: %w", lane, err)
	}
	return lc, nil
}

// partitionCanary is one partition's shadow: its chain, its outputs and
// its agreement count.
type partitionCanary struct {
	chain    *stages.Chain
	outs     *outputs
	inflight *inflight
	agree    stages.Agreement
	aborted  bool  // this partition aborted the canary: it compares no more
	started  int64 // laneCanary.started when this shadow was made
	// frame is the shadow of the frame being processed and base the index
	// of each of its records in that frame; nil when it has none.
	frame *stages.Frame
	base  []int
	ptrs  []*topics.Message
}

// canaryFrame copies f's sampled inputs into the shadow frame, before the
// lane's chain annotates them, and holds each input's Ack for the
// shadow's outputs. Only a live run on the lane's own topics shadows; a
// late record's frame is shadowed like any other, so every sampled input
// the lane answers is compared. With CANARY_ENABLED off, or the canary
// aborted here, it drops the shadow chain, so the canary starts afresh
// when the flag is turned on again.
func (w *partitionWorker) canaryFrame(f *stages.Frame) error {
	lr := w.lane
	if lr.canary == nil || w.stopAt >= 0 || lr.namespace != "" || lr.side != "" {
		return nil
	}
	if !f.Flags.Canary || lr.canary.stopped.Load() {
		w.canary = nil
		return nil
	}
	pc := w.canary
	if pc != nil && pc.started != lr.canary.started.Load() {
		pc = nil // made before the canary was last turned on
	}
	if pc == nil {
		chain, err := lr.canary.chain.Factory.New()
		if err != nil {
			return err
		}
		pc = &partitionCanary{chain: chain, inflight: newInflight(), started: lr.canary.started.Load()}
		pc.outs = newOutputs(string(lr.lane), "", lr.ids, pc.inflight, lr.reportErr)
		pc.outs.writeTo(func(k topics.Kind) string { return topics.CanaryName(string(lr.lane), k) })
		pc.outs.readerVersion, pc.outs.fence = lr.cfg.ReaderVersion, w.fence
		if lr.sinks != nil {
			pc.outs.recordLimit = lr.sinks.maxRecord()
		}
		w.canary = pc
	}
	if pc.aborted {
		return nil
	}
	sf := &stages.Frame{Lane: f.Lane, Partition: f.Partition, Seq: f.Seq, Start: f.Start, End: f.End, FPS: f.FPS,
		Flags: f.Flags, Replay: true, Through: f.Through, Approvals: stages.NewApprovalSet()}
	pc.base = pc.base[:0]
	for i := range f.Records {
		r := &f.Records[i]
		if r.Msg == nil || !r.Live() {
			continue
		}
		p := w.inflight.peek(r.Offset)
		if p == nil || !lr.canary.sampler.Sampled(p.msg.Key) {
			continue
		}
		p.msg.Ack.Add(1) // the shadow's hold, released when its outputs are counted
		pc.inflight.put(r.Offset, &pending{msg: p.msg, schemaID: p.schemaID})
		sf.Records = append(sf.Records, stages.Record{Partition: r.Partition, Offset: r.Offset, Msg: r.Msg, Late: r.Late})
		pc.base = append(pc.base, i)
	}
	if f.Seq < 0 && len(sf.Records) == 0 {
		return nil // a late frame with nothing to compare: the shadow skips it as the chain does
	}
	pc.frame = sf
	return nil
}

// runCanary runs the shadow chain over the shadow frame once the lane's
// chain ran over f, compares their decisions and aborts the canary when
// the partition's agreement falls below the floor.
func (w *partitionWorker) runCanary(ctx context.Context, f *stages.Frame) {
	pc := w.canary
	if pc == nil || pc.frame == nil {
		return
	}
	lr := w.lane
	sf := pc.frame
	if err := pc.chain.Run(ctx, sf); err != nil {
		lr.reportErr(fmt.Errorf("partition %d: canary frame %d: %w", w.partition, f.Seq, err))
		w.dropCanaryFrame()
		return
	}
	for i := range sf.Records {
		pc.agree.Add(stages.DecisionOf(&f.Records[pc.base[i]]), stages.DecisionOf(&sf.Records[i]))
	}
	if !pc.aborted && lr.canary.floor.Abort(pc.agree) {
		pc.aborted = true
		// Partitions below the floor at once abort it once per process.
		if lr.canary.stopped.CompareAndSwap(false, true) {
			w.abortCanary(f)
		}
	}
}

// dropCanaryFrame forgets the shadow frame without outputs, releasing the
// holds it took on its inputs.
func (w *partitionWorker) dropCanaryFrame() {
	pc := w.canary
	for i := range pc.frame.Records {
		if p := pc.inflight.take(pc.frame.Records[i].Offset); p != nil {
			p.msg.Ack.Done(nil)
		}
	}
	pc.frame = nil
}

// abortCanary records the abort with frame f's outputs, turns the lane's
// canary off in this process at once and in every member through
// matriz.control, and says so.
func (w *partitionWorker) abortCanary(f *stages.Frame) {
	lr, pc := w.lane, w.canary
	c := lr.canary.spec
	f.Events = append(f.Events, schemas.Event{
		ID:   stages.DerivedID(stages.FrameSubject(f.Lane, f.Partition, f.FPS, f.Seq), StageCanary, string(schemas.EventCanaryAbort)),
		TS:   f.End,
		Kind: schemas.EventCanaryAbort, Lane: f.Lane, Stage: StageCanary,
		Payload: schemas.Payload{
			"agreement": pc.agree.Rate(), "samples": pc.agree.Samples, "agreed": pc.agree.Agreed,
			"min_agreement": c.MinAgreement, "min_samples": int64(c.MinSamples),
			"fraction": c.Fraction, "canary_lane": string(c.From), "partition": int64(f.Partition), "seq": f.Seq,
		},
	})
	lr.writeCanaryOff()
	lr.log.Warn("canary aborted: its decisions agree with the lane's below the spec's floor; "+FlagCanary+" written off on "+topics.ControlTopic,
		"lane", lr.lane, "partition", f.Partition, "agreement", pc.agree.Rate(), "samples", pc.agree.Samples, "min_agreement", c.MinAgreement, "min_samples", c.MinSamples)
}

// encodeCanary encodes the shadow frame's outputs into the canary's
// namespace, fenced like the lane's, and forgets the frame.
func (w *partitionWorker) encodeCanary() []*topics.Message {
	pc := w.canary
	if pc == nil || pc.frame == nil {
		return nil
	}
	out := w.fence.stampAll(pc.outs.encode(pc.frame))
	pc.frame = nil
	pc.ptrs = pc.ptrs[:0]
	from := []byte(w.lane.canary.spec.From)
	for i := range out {
		m := &out[i]
		m.Headers = append(m.Headers[:len(m.Headers):len(m.Headers)], topics.Header{Key: HeaderCanary, Value: from})
		pc.ptrs = append(pc.ptrs, m)
	}
	return pc.ptrs
}

// canaryOffTimeout bounds the control write of an abort.
const canaryOffTimeout = 30 * time.Second

// writeCanaryOff writes the lane's CANARY_ENABLED=false to matriz.control
// through a sink of its own, in the background. Not through the lane's
// sinks: under `deploy --acls` only the operator may write matriz.control,
// and a refused write there would stop the lane. Off is the safe
// direction, so a write that fails is logged, with what to run, and the
// lane goes on with this process's canary stopped.
func (lr *laneRuntime) writeCanaryOff() {
	key := stages.ControlKey(lr.lane, FlagCanary)
	failed := func(err error) {
		lr.reportErr(fmt.Errorf("canary abort: could not write %s=false to %s (%v); the canary stopped in this process only: turn it off for every process with matriz flags set %s false --lane %s",
			key, topics.ControlTopic, err, FlagCanary, lr.lane))
	}
	if lr.cfg.Brokers == nil {
		failed(fmt.Errorf("no brokers"))
		return
	}
	parent := lr.work
	if parent == nil {
		parent = context.Background()
	}
	go func() {
		ctx, cancel := context.WithTimeout(parent, canaryOffTimeout)
		defer cancel()
		sink, err := topics.NewSink(ctx, lr.cfg.Brokers, topics.SinkRetryFor(canaryOffTimeout/3))
		if err != nil {
			failed(err)
			return
		}
		ack := topics.NewAck()
		sink.In() <- topics.Message{Topic: topics.ControlTopic, Key: []byte(key), Value: []byte("false"), Ack: ack}
		close(sink.In())
		sink.AwaitCompletion()
		switch {
		case ack.Err() != nil:
			failed(ack.Err())
		case !ack.Resolved():
			failed(fmt.Errorf("not acknowledged"))
		}
	}()
}
