package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reugn/go-streams/flow"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// partitionWorker runs one partition through the lane's graph:
//
//	Kafka partition → decode → idle watermark → tick → decimate → chain → outputs → lane sink
//
// From the ring on, one goroutine runs the chain, encodes and hands the
// outputs on (frames.go).
//
// Late and undecodable records travel in band, as frames of their own, so
// the chain meets everything in the same order in every run. A live worker
// commits at cuts (cuts.go); a replaying one (replay.go) reads a bounded
// range, writes into its namespace and commits nothing.
type partitionWorker struct {
	lane      *laneRuntime
	partition int32
	claim     *topics.Claim // nil in a replay
	src       *topics.PartitionSource
	inflight  *inflight
	tick      *operators.Tick
	ring      *operators.Decimate
	outs      *outputs
	outPtrs   []*topics.Message // pointers' reused slice (drain.go)
	// chain is this partition's own chain: its stateful stages hold this
	// partition's state and nothing else's. chainMu hands it between the
	// frame goroutine, which runs it, and whoever reads its gauges.
	chainMu  sync.Mutex
	chain    *stages.Chain
	drift    *stages.Drift    // read for the gauges; nil without one
	learn    *stages.Learn    // read for the learning counters; nil without one
	goals    *stages.Goals    // read for the goal counters; nil without one
	guardian *stages.Guardian // asked for its waiting actions; nil without one
	// learnSeen is learn's figures at its last report: the counters get
	// what it learned since.
	learnSeen stages.LearnStats
	goalsSeen stages.GoalsStats // goals' figures at its last report, likewise
	// canary is the partition's shadow of the lane's canary (canary.go);
	// nil while it runs none. Owned by the frame goroutine.
	canary *partitionCanary
	// work is the context the graph's own work runs on: it outlives the
	// claim's, so the open frame is finished and flushed after revocation,
	// and ends with the bounded drain (drain.go). It carries the fence.
	work       context.Context
	cancelWork context.CancelFunc
	fence      *fence // nil in a replay
	// stop ends when the claim does (revocation or shutdown); nil in a
	// replay. Waits on the registry give up on it, so a signal stops the
	// process even while the registry does not answer.
	stop context.Context
	// left: the chain stopped on a frame because the work context ended;
	// that frame and every later one are left for the next owner
	// (chainfail.go). Owned by the frame goroutine.
	left bool
	// abandoned: a record was left undecoded because the claim ended while
	// the registry did not answer; it and every later record are left for
	// the next owner, so no cut can pass it.
	abandoned bool

	// decisions re-decide the frames an earlier run decided (nil: none),
	// read from the event log from scannedSince on (decisions_since.go).
	decisions    *Decisions
	scannedSince time.Time
	// restored is the cut the partition resumed from, nil for none.
	restored *Checkpoint
	// stopAt ends a replay's range (exclusive); -1 for a live worker.
	stopAt   int64
	stopOnce sync.Once
	onRecord func() // a replay's progress: called for every record of the range
	started  bool   // decode has sent the tick what precedes the first record
	live     bool   // decode is past the re-decided region
	// read is the offset after the last record decode saw, or the
	// claim's when none yet (-1: not known); the lag is counted from it.
	read atomic.Int64
	// handed counts the source's records that are through to the tick:
	// those whose TickInput passed the idle watermark, and those decode
	// gave none (done before a restart, past a replay's range, left for
	// the next owner). When it equals the source's Delivered count,
	// nothing the source delivered is still on its way (caughtUp).
	handed atomic.Int64

	// Frame-level state, owned by the frame goroutine.
	flags   *stages.Flags
	applied *stages.ApprovalSet
	wake    approvalWake // approval_wake.go

	acks      ackBook
	cuts      cutQueue
	committed *Checkpoint  // the last cut written and committed
	chunks    *stateChunks // the partition's chunk records on the state topic

	readTimeout time.Duration // bound on reading the changelog or the event log at start
	parents     [][]byte      // the frame's input traceparents, reused (trace.go)
	decodeOut   []any         // decode's result array, reused record to record
	scans       *restartScans // the generation's shared event log read, until prepare's first attempt is over
	holds       frameHolds    // frame_hold.go
}

func newWorker(lr *laneRuntime, partition int32) *partitionWorker {
	w := &partitionWorker{lane: lr, partition: partition, inflight: newInflight(), applied: stages.NewApprovalSet(), stopAt: -1}
	w.read.Store(-1)
	return w
}

// handlePartition is the Group handler: it returns once the partition's
// work is finished (or abandoned after the drain timeout) and committed.
func (lr *laneRuntime) handlePartition(ctx context.Context, claim topics.Claim) {
	w := newWorker(lr, claim.Partition)
	w.claim = &claim
	w.fence = newFence(lr.cfg.Group, w.claim, lr.clock)
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	w.work, w.cancelWork = withFence(work, w.fence), cancel
	w.stop = ctx
	w.read.Store(max(claim.Offset, -1))
	lr.obs.Claimed(claim.Partition)
	defer lr.obs.Forget(claim.Partition) // every path out: its series go with the partition
	if claim.Offset >= 0 {
		lr.obs.Committed(claim.Partition, claim.Offset)
	}
	lr.log.Info("partition assigned", "lane", lr.lane, "partition", claim.Partition, "offset", claim.Offset, "generation", claim.Generation)
	if err := w.run(ctx); err != nil {
		lr.log.Error("partition worker", "lane", lr.lane, "partition", claim.Partition, "err", err)
		// Returning early would end the generation for every member; wait
		// for the revocation or shutdown instead.
		<-ctx.Done()
	}
	lr.log.Info("partition released", "lane", lr.lane, "partition", claim.Partition, "generation", claim.Generation)
}

// newChain makes the partition's chain.
func (w *partitionWorker) newChain() error {
	var err error
	if w.chain, err = w.lane.chain.Factory.New(); err != nil {
		return err
	}
	w.drift, _ = stages.As[*stages.Drift](w.chain)
	w.learn, _ = stages.As[*stages.Learn](w.chain)
	w.learnSeen = stages.LearnStats{}
	w.goals, _ = stages.As[*stages.Goals](w.chain)
	w.goalsSeen = stages.GoalsStats{}
	w.guardian, _ = stages.As[*stages.Guardian](w.chain)
	return nil
}

func (w *partitionWorker) run(ctx context.Context) error {
	lr := w.lane
	if err := w.prepare(ctx); err != nil {
		return err
	}
	w.commitRestored() // restored_commit.go
	var err error
	w.src, err = topics.NewPartitionSource(w.work, lr.cfg.Brokers, w.claim.Topic, w.partition, w.claim.Offset, lr.sourceOpts...)
	if err != nil {
		return err
	}
	done, err := w.start(true)
	if err != nil {
		w.src.Close()
		return err
	}
	commitEvery := lr.clock.NewTicker(lr.cfg.CommitInterval)
	defer commitEvery.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-commitEvery.C():
			w.commit()
			w.reportOffsets() // offsets.go
			w.tick.RequestCut()
		}
	}
	drainErr := w.drain(done)
	return errors.Join(drainErr, w.src.Close())
}

// prepare makes the partition's chain and restores its checkpoint and the
// decisions recorded past it. Reading the changelog or the event log can
// fail or time out under load; it is retried with backoff until the claim
// ends, since giving the partition up would leave it unworked until the
// next rebalance. Every read runs on the claim's ctx: a signal or a
// revocation during a restore ends it at once (nothing is processed yet).
func (w *partitionWorker) prepare(ctx context.Context) error {
	lr := w.lane
	defer w.restoreFailing(0, nil) // ready or given up: the claim's end says the rest
	// The first attempt reads the event log with the generation's other
	// partitions (restart_scans.go); whatever it did, it then leaves the
	// shared read, so no partition waits on one that failed or retries.
	w.scans = lr.restartScansFor(w.claim.Generation)
	defer w.leaveScans()
	for attempt := 0; ; attempt++ {
		// A log too long to read in one timeout gets a longer one each time.
		w.readTimeout = lr.cfg.DrainTimeout * time.Duration(attempt+1)
		err := w.newChain()
		if err == nil {
			if err = w.restoreState(ctx); err != nil {
				err = fmt.Errorf("restore partition %d's stage state: %w", w.partition, err)
			}
		}
		if err == nil {
			if err = w.loadRestartDecisions(ctx); err != nil {
				err = fmt.Errorf("read partition %d's recorded decisions: %w", w.partition, err)
			}
		}
		if err == nil {
			err = w.reopenFinalCut() // final_cut.go
		}
		w.leaveScans()
		if err == nil {
			if w.guardian != nil {
				w.noteWaiting(w.guardian.Waiting()) // the restored waiting actions, before any frame
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		lr.log.Warn("partition not ready; retrying", "lane", lr.lane, "partition", w.partition, "attempt", attempt+1, "err", err)
		w.restoreFailing(attempt+1, err)
		w.restored, w.decisions, w.flags = nil, nil, nil
		w.applied = stages.NewApprovalSet()
		if !clock.Sleep(ctx, lr.clock, backoff(attempt)) {
			return err
		}
	}
}

// start builds the graph behind w.src and returns a channel closed once
// its last output is handed to the sink. live turns on what only a live
// run does: idle watermarks, adaptive rates, flushes logged as decisions.
func (w *partitionWorker) start(live bool) (<-chan struct{}, error) {
	lr := w.lane
	opts := append(lr.spec.TickOptions(lr.lane),
		operators.TickClock(lr.clock), operators.TickMode(operators.Replay),
		operators.TickDecisions(true), operators.TickLateInBand(true), operators.TickFlushLogged(live),
		operators.TickCheckpointEvery(lr.cfg.CheckpointEvery), operators.TickAdaptive(live),
		operators.TickFlags(lr.flags.Get))
	if w.decisions != nil && w.decisions.Until > 0 {
		d := w.decisions
		opts = append(opts, operators.TickFPSSchedule(func(int32) []operators.GridSwitch { return d.FPSSchedule() }))
	}
	var err error
	if w.tick, err = operators.NewTick(lr.lane, opts...); err != nil {
		return nil, err
	}
	// A dropped frame's records are accounted for by offset: only their
	// Acks are kept, not what decode made of them.
	ringOpts := append(lr.spec.DecimateOptions(), operators.DecimateOnDrop(w.inflight.skip))
	if w.decisions != nil {
		d := w.decisions
		ringOpts = append(ringOpts, operators.DecimateDecided(func(f *stages.Frame) (bool, bool) {
			if !d.redecided(f) {
				return false, false
			}
			return true, d.dropped(f)
		}))
	}
	if w.ring, err = operators.NewDecimate(ringOpts...); err != nil {
		close(w.tick.In())
		return nil, err
	}
	w.outs = newOutputs(string(lr.lane), lr.namespace, lr.ids, w.inflight, lr.reportErr)
	if lr.side != "" {
		w.outs.writeTo(lr.topic)
	}
	w.outs.readerVersion = lr.cfg.ReaderVersion
	w.outs.fence = w.fence
	if lr.sinks != nil {
		w.outs.recordLimit = lr.sinks.maxRecord()
	}

	decode := flow.NewFlatMap(w.decode, 1)
	encode := w.encode
	if lr.glyph != "" {
		encode = w.glyphOutputs
	}

	in := w.src.Via(decode)
	if live {
		in = in.Via(operators.NewIdleWatermark(w.partition, lr.clock, lr.cfg.IdleAfter, w.caughtUp, w.tick.CutPending,
			operators.IdleWake(w.wantWake), operators.IdleDeadlines(lr.cfg.IdleCheck), operators.IdleOnInput(func() { w.handed.Add(1) })))
	}
	in.Via(w.tick)
	operators.FeedDecimate(w.ring, w.tick.Out())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.runFrames(encode) // frames.go
	}()
	return done, nil
}

// caughtUp reports that the partition has nothing left to read: the
// source reached the log's end and every record it delivered is through
// to the tick. Up to its Out buffer (256 records) can sit between the
// two; were they counted as read, a stall in decode would let the idle
// watermark close the frames they belong to and judge them late.
func (w *partitionWorker) caughtUp() bool {
	n, atEnd := w.src.Delivered()
	return atEnd && w.handed.Load() == n
}

// commit writes the newest durable cut and commits its offset; a cut the
// same as the one committed last writes nothing.
func (w *partitionWorker) commit() {
	cp, due := w.cuts.takeDurable(&w.acks)
	if cp == nil {
		return
	}
	if last := w.committed; last != nil && len(due) == 0 && sameCut(last, cp) {
		w.acks.forget(cp) // nothing new; the frame holds before it are resolved
		return
	}
	if err := w.saveCut(cp, due); err != nil {
		w.lane.reportErr(err)
		return
	}
	if err := w.claim.Commit(cp.Resume); err != nil {
		w.lane.reportErr(err)
		return
	}
	w.src.MarkCommitted(cp.Resume)
	w.acks.forget(cp)
	w.committed = cp
	w.lane.obs.Committed(w.partition, cp.Resume)
}

// recordedWatermarks appends the watermarks recorded after offset.
func (w *partitionWorker) recordedWatermarks(out []any, offset int64) []any {
	if w.decisions == nil {
		return out
	}
	for _, wm := range w.decisions.watermarks[offset] {
		out = append(out, operators.TickWatermark{Partition: w.partition, Time: time.Unix(0, wm.to), Why: wm.why, After: &offset})
	}
	return out
}

// restoredItems appends what the tick gets before the first record of a
// worker resumed from a cut: the cut's window state and, when the cut has
// no open frame, the watermarks recorded after its last record. That
// record is never read again (the worker resumes past it), yet an
// approval can wake the idle partition after the cut and the run die
// before its next one: the restart must still close the frame the wake
// closed. One the cut's window already passed is a no-op in the tick.
func (w *partitionWorker) restoredItems(out []any) []any {
	if w.restored == nil {
		return out
	}
	st, ok := w.restored.TickState()
	if !ok {
		return out
	}
	out = append(out, operators.TickRestore{Partition: w.partition, State: st})
	if last := w.restored.Next - 1; last >= 0 && last < w.restored.Resume {
		out = w.recordedWatermarks(out, last)
	}
	return out
}

// decode turns a Kafka record into the tick's input: a Record with its
// message, or a Record already failed with why (it reaches the DLQ in band).
// Before the first record it restores the tick's window state; it skips
// what the restored cut already did, ends the re-decided region, stops a
// replay at its range's end, and follows a record with the watermarks
// recorded after it. Registry outages are not bad input: decode waits them
// out rather than dead-letter good data.
func (w *partitionWorker) decode(m topics.Message) (out []any) {
	lr := w.lane
	w.read.Store(m.Offset + 1)
	// out's array is reused call to call: the FlatMap sends its items on
	// before it calls decode again.
	out = w.decodeOut[:0]
	defer func() { w.decodeOut = out }()
	if !w.started {
		w.started = true
		out = w.restoredItems(out)
	}
	if w.stopAt >= 0 {
		if m.Offset >= w.stopAt {
			m.Ack.Done(nil) // past the range: not ours to answer
			w.handed.Add(1)
			w.stopOnce.Do(w.src.StopFetching)
			return out
		}
		if m.Offset == w.stopAt-1 {
			w.stopOnce.Do(w.src.StopFetching) // the range's last record: read no further
		}
		if w.onRecord != nil {
			w.onRecord()
		}
	}
	if w.restored != nil && w.restored.Done(m.Offset) {
		m.Ack.Done(nil) // the restored cut already accounts for it
		w.handed.Add(1)
		// Not the watermarks recorded after it, though: an idle partition
		// takes its cut first (TickCutNow) and closes its frames at the
		// deadline after, with the watermark after the cut's last record,
		// which is Done. One the cut's window already passed is a no-op
		// in the tick (it never moves back); one decided after the cut is
		// the decision the run that took it made before it died.
		return w.recordedWatermarks(out, m.Offset)
	}
	if w.abandoned {
		m.Ack.Done(errLeftForNextOwner)
		w.handed.Add(1)
		return out
	}
	if !w.live && w.stopAt < 0 && (w.decisions == nil || m.Offset >= w.decisions.Until) {
		w.live = true
		out = append(out, operators.TickLive{})
	}
	lr.obs.MessageIn()
	if w.stopAt < 0 {
		w.acks.put(m.Offset, m.Ack, lr.clock.Now()) // a replay commits nothing
	}
	in := &inputRecord{p: pending{msg: m}, rec: stages.Record{Partition: m.Partition, Offset: m.Offset}}
	p, rec, msg := &in.p, &in.rec, &in.msg
	w.inflight.put(m.Offset, p)
	input := len(out) // where this record's own items start
	out = append(out, operators.TickInput{Record: rec})
	out = w.recordedWatermarks(out, m.Offset)
	stop := w.stop
	if stop == nil {
		stop = w.work
	}
	for attempt := 0; ; attempt++ {
		id, err := schemas.DecodeWireAs(stop, lr.serde.Lookup(), m.Value, msg, lr.cfg.ReaderVersion)
		if attempt > 0 && (err == nil || DecodeReason(err) != "") {
			w.registryDown(nil) // the registry answered
		}
		if err == nil {
			p.schemaID = id
			break
		}
		if reason := DecodeReason(err); reason != "" && stop.Err() == nil {
			p.reason = reason
			rec.Fail("decode", err.Error())
			return out
		}
		if stop.Err() == nil {
			lr.reportErr(fmt.Errorf("decode %s/%d@%d: schema registry: %w (retrying)", m.Topic, m.Partition, m.Offset, err))
			w.registryDown(err)
		}
		if !clock.Sleep(stop, lr.clock, backoff(attempt)) {
			// The claim ended while the registry did not answer: the
			// record never reaches the tick, nor does any after it, so no
			// cut passes it and the next owner decodes it.
			w.abandoned = true
			w.registryDown(nil)
			w.inflight.take(m.Offset)
			m.Ack.Done(errLeftForNextOwner)
			w.handed.Add(1)
			return out[:input]
		}
	}
	if err := msg.Validate(); err != nil {
		p.reason, p.decoded = ReasonContract, msg // its DLQ record still names its glyph
		rec.Fail("decode", err.Error())
		return out
	}
	if reason, detail := checkTimestamp(msg, m.Time, lr.cfg.MaxFutureSkew); reason != "" {
		p.reason, p.decoded = reason, msg
		rec.Fail("decode", detail)
		return out
	}
	rec.Msg = msg
	return out
}

// inputRecord is what decode makes of one Kafka record, in one allocation
// rather than three: the in-flight entry, the tick's Record and the
// decoded message it points to.
type inputRecord struct {
	p   pending
	rec stages.Record
	msg schemas.MatrizMessage
}

// process applies the frame's decisions, runs the chain over it, takes the
// checkpoint the frame carries, and records the frame's figures.
func (w *partitionWorker) process(f *stages.Frame) *stages.Frame {
	lr := w.lane
	late := f.Seq < 0
	w.decideFrame(f)
	f.Replay = w.stopAt >= 0
	start := lr.clock.Now()
	w.chainMu.Lock()
	if w.left {
		w.leave(f) // an earlier frame was left for the next owner: so is every later one
	} else {
		// A frame of late or undecodable records the chain skips is traced
		// too: its DLQ records carry the span that sent them there.
		ctx, span := w.startFrameSpan(f) // trace.go
		// The canary copies its inputs before the chain annotates them.
		err := w.canaryFrame(f) // canary.go
		if err != nil {
			lr.reportErr(fmt.Errorf("partition %d: canary: %w", w.partition, err))
			err = nil
		}
		if !late || anyLive(f) {
			if err = w.chain.Run(ctx, f); err != nil {
				w.chainFailed(w.work, f, err) // chainfail.go
			}
		}
		if w.canary != nil && w.canary.frame != nil {
			if err == nil {
				w.runCanary(ctx, f)
			} else {
				w.dropCanaryFrame()
			}
		}
		w.endFrameSpan(f, span, err)
	}
	var drift stages.DriftStats
	if w.drift != nil {
		drift = w.drift.Stats()
	}
	var learn, learnSeen stages.LearnStats
	if w.learn != nil {
		learn, learnSeen = w.learn.Stats(), w.learnSeen
		w.learnSeen = learn
	}
	var goals, goalsSeen stages.GoalsStats
	if w.goals != nil {
		goals, goalsSeen = w.goals.Stats(), w.goalsSeen
		w.goalsSeen = goals
	}
	var waiting []string
	if w.guardian != nil {
		waiting = w.guardian.Waiting()
		w.noteWaiting(waiting)
	}
	w.holdFrame(f) // before the cut: frame_hold.go
	if f.Cut != nil && w.stopAt < 0 {
		w.takeCut(f) // a replay writes no checkpoint
	}
	w.chainMu.Unlock()
	d := lr.clock.Now().Sub(start)
	if !late {
		w.tick.ObserveFrameDuration(d)
	} else {
		for i := range f.Records {
			if f.Records[i].Late {
				lr.obs.Late()
			}
		}
	}
	lr.obs.Frame(f, d, late, w.ring.Backlog(), w.tick.FPS())
	if w.drift != nil {
		lr.obs.Drift(w.partition, drift)
	}
	if w.learn != nil {
		lr.obs.Learn(w.partition, learn.Learned-learnSeen.Learned, learn.OverCap-learnSeen.OverCap, learn.Glyphs)
	}
	if w.goals != nil {
		lr.obs.Goals(w.partition, goals.Changes-goalsSeen.Changes, goals.Refused-goalsSeen.Refused, goals.Open)
	}
	if w.guardian != nil {
		lr.obs.ApprovalsWaiting(w.partition, waiting)
	}
	return f
}

// glyphOutputs encodes f and keeps only the outputs of the replay's glyph;
// the others count as written, so their inputs resolve.
func (w *partitionWorker) glyphOutputs(f *stages.Frame) []*topics.Message {
	all := w.outs.encode(f)
	keep := all[:0]
	for _, m := range all {
		if string(m.Key) == w.lane.glyph {
			keep = append(keep, m)
		} else if m.Ack != nil {
			m.Ack.Done(nil)
		}
	}
	return w.pointers(keep)
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

// errLeftForNextOwner fails the Ack of a record a stopping worker did not
// decode: it is not committed, and the partition's next owner reads it.
var errLeftForNextOwner = errors.New("left undecoded for the partition's next owner: the claim ended while the schema registry did not answer")

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 5)
	return min(d, 3*time.Second)
}

// sameCut reports whether cp holds nothing last did not: the same place in
// the partition and the same window and stage state. A partition that read
// nothing new can still have moved on: an approval wakes it and closes a
// frame (tick_wake.go), its action executes, and the watermark decision
// is recorded after the last record, which a restart from the earlier cut
// never reads again. That cut must be written, or the restart runs on
// without the decision a replay applies.
func sameCut(last, cp *Checkpoint) bool {
	return last.Next == cp.Next && slices.Equal(last.Open, cp.Open) && last.Final == cp.Final &&
		bytes.Equal(last.Tick, cp.Tick) && maps.EqualFunc(last.State, cp.State, bytes.Equal) &&
		slices.Equal(last.Approved, cp.Approved) && last.Flags == cp.Flags
}
