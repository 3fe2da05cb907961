package runtime

// This file is the lane's at-most-once guard around its Executor: an
// external action is called at most once across crashes, redeliveries and
// rebalances, because an "executing" record keyed by the action id is
// acknowledged on matriz.<lane>.actions before each call, and every owner
// of a partition reads that topic before it calls.
//
// Use: NewActionOnce with the lane's serde and the executor the operator
// configured, wait on CaughtUp before joining the consumer group (as for
// the approvals tail), hand it to the chain as the Executor, Close it after
// the group stopped.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// HeaderActionWriter names the ActionOnce instance that wrote an executing
// record, so an instance can tell its own record from an earlier owner's.
const HeaderActionWriter = "matriz-action-writer"

// ErrActionOnceClosed is returned by Execute after Close.
var ErrActionOnceClosed = errors.New("action guard closed: the lane is shutting down; the action was not executed")

// ActionOnceConfig configures NewActionOnce.
type ActionOnceConfig struct {
	Lane    schemas.Lane
	Brokers []string
	// Serde encodes the executing records with the lane's actions schema
	// id and decodes the actions topic; its subjects must include the
	// lane's (serde.Subjects).
	Serde *serde.Serde
	// Executor performs the actions (default stages.RecordOnly).
	Executor stages.Executor
	// OnError reports records of the actions topic it cannot read.
	OnError func(error)
}

// ActionOnce is a stages.Executor that performs each action id at most
// once for the lane, whichever process holds its partition. It keeps an
// index of the actions topic — ids with an executing record and ids with a
// final one (executed or failed) — from a tail that follows the topic from
// its start, plus what this instance did itself. Execute:
//
//  1. a final id is not performed again: executed answers an error
//     wrapping stages.ErrAlreadyExecuted (the guardian reports executed),
//     failed answers a *PriorFailureError with the recorded error (the
//     guardian reports the same failure);
//  2. an id with an executing record and no final one is not performed:
//     the process that wrote it died during the call (or is still in it),
//     so the outcome is unknown; it answers an error wrapping
//     stages.ErrActionUncertain for a human to check;
//  3. otherwise it writes an executing record (key = action id, header
//     matriz-output-id = its event id), waits for Kafka to acknowledge it
//     (acks=all) and for its own tail to read it back, and calls the
//     executor only if no other owner's executing record came before it
//     on that partition. Reading its own record back is the barrier: all
//     records of one action id share a partition, so a slow tail cannot
//     hide an earlier owner's record.
//
// Limits: the final executed/failed events are written by the runtime
// with the frame's outputs (keyed by glyph), so an owner that died after
// the call but before they were acknowledged leaves the action uncertain,
// never executed twice. Two live owners of one partition (a zombie after
// a rebalance) cannot both call: the later one finds the earlier one's
// executing record.
type ActionOnce struct {
	lane     schemas.Lane
	topic    string
	inner    stages.Executor
	serde    *serde.Serde
	schemaID uint32
	writer   string // this instance, in HeaderActionWriter
	// retry: the executor is idempotent (stages.Idempotent), so an action
	// an earlier owner started and left without an outcome is called again
	// rather than reported uncertain.
	retry bool
	ctx   context.Context
	onErr func(error)
	tail  *topics.Tail
	sink  *topics.Sink

	sendMu sync.Mutex // guards sending to sink against Close
	closed bool
	// stopping silences the tail's reports of its own shutdown.
	stopping atomic.Bool

	mu      sync.Mutex
	actions map[string]*onceEntry
	read    map[int]int64 // by partition: the offset after the last record indexed
}

// onceEntry is what the index knows of one action id.
type onceEntry struct {
	first   string // writer of the first executing record read; "" none yet
	claim   string // the claim that record was written under, for the log
	final   string // stages.ActionExecuted or ActionFailed; "" none yet
	failure string // a failed action's recorded error
	written bool   // this instance's executing record was acknowledged
	called  bool   // this instance called the executor
	mine    chan struct{}
	seen    bool // mine is closed: the tail read this instance's record
	// preview is the first preview that waits for an approval, and when
	// the action was decided: what an approval of it is checked against
	// (approval_verdict.go). Previews that wait for none are not kept.
	preview *stages.PreviewFacts
	finalAt time.Time
}

// PriorFailureError answers an action whose one attempt failed: the error
// it failed with, as recorded. It is not tried again: a failed call may
// have done part of its work.
type PriorFailureError struct {
	ActionID string
	Err      string
}

func (e *PriorFailureError) Error() string { return e.Err }

// NewActionOnce starts the tail of lane's actions topic and returns the
// guard. Wait on CaughtUp before taking partitions; Execute waits for it
// too. The tail and the writer live until Close or until ctx ends.
func NewActionOnce(ctx context.Context, cfg ActionOnceConfig) (*ActionOnce, error) {
	if !cfg.Lane.Valid() {
		return nil, fmt.Errorf("action guard: lane %q: want experimental, candidate or prod", cfg.Lane)
	}
	if cfg.Serde == nil {
		return nil, errors.New("action guard: no serde: open one with the lane's subjects (serde.Subjects)")
	}
	if cfg.Executor == nil {
		cfg.Executor = stages.RecordOnly{}
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	topic := topics.Name(string(cfg.Lane), topics.KindActions)
	id, err := cfg.Serde.ID(serde.ValueSubject(topic))
	if err != nil {
		return nil, fmt.Errorf("action guard: %w", err)
	}
	o := &ActionOnce{
		lane: cfg.Lane, topic: topic, inner: cfg.Executor, serde: cfg.Serde, schemaID: id,
		writer: uuid.NewString(), retry: stages.IsIdempotent(cfg.Executor), ctx: ctx, onErr: cfg.OnError, actions: map[string]*onceEntry{},
	}
	// One record at a time, written at once: an action waits on it.
	if o.sink, err = topics.NewSink(ctx, cfg.Brokers, topics.SinkBatchSize(1), topics.SinkOnError(cfg.OnError)); err != nil {
		return nil, err
	}
	tailErr := func(err error) {
		if !o.stopping.Load() && ctx.Err() == nil {
			cfg.OnError(err)
		}
	}
	if o.tail, err = topics.StartTail(ctx, cfg.Brokers, topic, o.observe, tailErr); err != nil {
		close(o.sink.In())
		o.sink.AwaitCompletion()
		return nil, err
	}
	return o, nil
}

// CaughtUp closes once the index holds every record the actions topic had
// when the guard started.
func (o *ActionOnce) CaughtUp() <-chan struct{} { return o.tail.CaughtUp() }

// Close stops the writer and the tail. Execute fails after it.
func (o *ActionOnce) Close() error {
	o.sendMu.Lock()
	if !o.closed {
		o.closed = true
		close(o.sink.In())
	}
	o.sendMu.Unlock()
	o.sink.AwaitCompletion()
	o.stopping.Store(true)
	return o.tail.Close()
}

// Status is what the index knows of actionID: "" (nothing),
// stages.ActionExecuting, stages.ActionExecuted or stages.ActionFailed.
func (o *ActionOnce) Status(actionID string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.actions[actionID]
	switch {
	case e == nil:
		return ""
	case e.final != "":
		return e.final
	case e.first != "" || e.called:
		return stages.ActionExecuting
	}
	return ""
}

// Execute performs a unless the index says it was performed or started
// before (see ActionOnce).
func (o *ActionOnce) Execute(ctx context.Context, lane schemas.Lane, a stages.Action) error {
	select {
	case <-o.tail.CaughtUp():
	case <-ctx.Done():
		return fmt.Errorf("action %s: waiting for %s to be read: %w", a.ID, o.topic, ctx.Err())
	}
	o.mu.Lock()
	e := o.entry(a.ID)
	if err := o.answer(a.ID, e); err != nil {
		o.mu.Unlock()
		return err
	}
	mine, written := e.mine, e.written
	o.mu.Unlock()

	// A worker that lost its partition starts nothing (fence.go).
	fence := fenceFrom(ctx)
	if err := fence.check(); err != nil {
		return fmt.Errorf("action %s: %w; not executed", a.ID, err)
	}
	if !written {
		if err := o.writeExecuting(ctx, a); err != nil {
			return err
		}
		o.mu.Lock()
		e.written = true
		o.mu.Unlock()
	}
	select {
	case <-mine:
	case <-ctx.Done():
		return fmt.Errorf("action %s: waiting to read back its executing record: %w", a.ID, ctx.Err())
	}
	// The coordinator's own word that the claim is current, last thing
	// before the call: a member evicted while it waited calls nothing.
	if err := fence.verify(ctx); err != nil {
		return fmt.Errorf("action %s: %w; not executed", a.ID, err)
	}
	o.mu.Lock()
	if err := o.answer(a.ID, e); err != nil {
		o.mu.Unlock()
		return err
	}
	e.called = true
	o.mu.Unlock()

	err := o.inner.Execute(ctx, lane, a)
	if err == nil || ctx.Err() == nil {
		// An outcome: it is final. A call cut short by ctx has none, and
		// stays uncertain.
		o.mu.Lock()
		if err == nil {
			e.final = stages.ActionExecuted
		} else {
			e.final, e.failure = stages.ActionFailed, err.Error()
		}
		o.mu.Unlock()
	}
	return err
}

// answer returns why a must not be called now, or nil. o.mu is held.
func (o *ActionOnce) answer(id string, e *onceEntry) error {
	switch {
	case e.final == stages.ActionExecuted:
		return fmt.Errorf("action %s: %w", id, stages.ErrAlreadyExecuted)
	case e.final == stages.ActionFailed:
		return &PriorFailureError{ActionID: id, Err: e.failure}
	case e.called:
		return fmt.Errorf("action %s: %w: this process's call was interrupted", id, stages.ErrActionUncertain)
	case e.first != "" && e.first != o.writer && !o.retry:
		return fmt.Errorf("action %s: %w: an executing record (key %s on %s%s) has no executed or failed event",
			id, stages.ErrActionUncertain, id, o.topic, e.claim)
	}
	return nil
}

// entry returns actionID's entry, made on first use. o.mu is held.
func (o *ActionOnce) entry(actionID string) *onceEntry {
	e := o.actions[actionID]
	if e == nil {
		e = &onceEntry{mine: make(chan struct{})}
		o.actions[actionID] = e
	}
	return e
}

// writeExecuting writes a's executing record and waits for Kafka's
// acknowledgement.
func (o *ActionOnce) writeExecuting(ctx context.Context, a stages.Action) error {
	ev := stages.ActionEvent(o.lane, &a, stages.ActionExecuting, a.TS, schemas.Payload{"approved": a.Approved})
	val, err := schemas.AppendWire(nil, o.schemaID, &ev)
	if err != nil {
		return fmt.Errorf("action %s: encode its executing record: %w; not executed", a.ID, err)
	}
	acked := make(chan error, 1)
	m := topics.Message{
		Topic: o.topic, Key: []byte(a.ID), Value: val,
		Headers: actionHeaders(ctx, o.lane, o.schemaID, &a, ev.ID, o.writer),
		Ack:     topics.NewAckFunc(func(err error) { acked <- err }),
	}
	fenceFrom(ctx).stamp(&m)
	o.sendMu.Lock()
	if o.closed {
		o.sendMu.Unlock()
		return fmt.Errorf("action %s: %w", a.ID, ErrActionOnceClosed)
	}
	select {
	case o.sink.In() <- m:
	case <-ctx.Done():
		o.sendMu.Unlock()
		return fmt.Errorf("action %s: writing its executing record: %w", a.ID, ctx.Err())
	}
	o.sendMu.Unlock()
	select {
	case err := <-acked:
		if err != nil {
			return fmt.Errorf("action %s: its executing record was not acknowledged by %s: %w; not executed", a.ID, o.topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("action %s: waiting for its executing record's acknowledgement: %w", a.ID, ctx.Err())
	}
}

// observe indexes one record of the actions topic. It runs on the tail's
// goroutines, one per partition.
func (o *ActionOnce) observe(m topics.Message) {
	o.mu.Lock()
	if o.read == nil {
		o.read = map[int]int64{}
	}
	o.read[int(m.Partition)] = max(o.read[int(m.Partition)], m.Offset+1)
	o.mu.Unlock()
	var ev schemas.Event
	if _, err := schemas.DecodeWire(o.ctx, o.serde.Lookup(), m.Value, &ev); err != nil {
		o.onErr(fmt.Errorf("action guard: %s/%d@%d: %w (skipped)", m.Topic, m.Partition, m.Offset, err))
		return
	}
	id, _ := ev.Payload.String(stages.ApprovalActionKey)
	status, _ := ev.Payload.String("status")
	if ev.Kind != schemas.EventAction || id == "" {
		return
	}
	switch status {
	case stages.ActionExecuting:
		writer := string(m.Header(HeaderActionWriter))
		if writer == "" {
			writer = "unknown" // never this instance
		}
		o.mu.Lock()
		e := o.entry(id)
		if e.first == "" {
			e.first = writer
			if group, gen, member, ok := claimOf(m); ok {
				e.claim = fmt.Sprintf(", written by member %s in generation %d of group %s", member, gen, group)
			}
		}
		if writer == o.writer && !e.seen {
			e.seen = true
			close(e.mine)
		}
		o.mu.Unlock()
	case stages.ActionExecuted, stages.ActionFailed:
		failure, _ := ev.Payload.String("error")
		o.mu.Lock()
		if e := o.entry(id); e.final == "" {
			e.final, e.failure, e.finalAt = status, failure, m.Time
		}
		o.mu.Unlock()
	case stages.ActionPreview:
		facts, ok := stages.PreviewFactsOf(&ev, string(m.Header(HeaderProducer)), m.Time)
		if !ok {
			return
		}
		o.mu.Lock()
		if e := o.entry(id); e.preview == nil || m.Time.Before(e.preview.At) {
			e.preview = &facts
		}
		o.mu.Unlock()
	}
}

// ReadTo reports whether the index has read every partition of the actions
// topic up to ends (PartitionEnds: the offset after each one's last record).
func (o *ActionOnce) ReadTo(ends map[int]int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, end := range ends {
		if end > 0 && o.read[p] < end {
			return false
		}
	}
	return true
}

// Preview returns what the index knows of actionID's preview, nil when no
// preview of it waits for an approval.
func (o *ActionOnce) Preview(actionID string) *stages.PreviewFacts {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.actions[actionID]
	if e == nil || e.preview == nil {
		return nil
	}
	p := *e.preview
	p.Final, p.FinalAt = e.final, e.finalAt
	return &p
}

// actionHeaders are an executing record's headers: its GLYPH identity, the
// traceparent of the span that decided it (the guardian stage's, when
// tracing is on: ctx is the chain's), its event id and writer.
func actionHeaders(ctx context.Context, lane schemas.Lane, schemaID uint32, a *stages.Action, outID, writer string) []topics.Header {
	var tp []byte
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		tp = observe.AppendTraceparent(nil, sc)
	}
	h := make([]topics.Header, 0, 7)
	if a.GlyphID != "" {
		h = append(h, topics.Header{Key: HeaderGlyphID, Value: []byte(a.GlyphID)})
	}
	if a.MsgID != "" {
		h = append(h, topics.Header{Key: HeaderIDMsg, Value: []byte(a.MsgID)})
	}
	return outputHeaders(h, []byte(lane), strconv.AppendUint(nil, uint64(schemaID), 10), tp,
		topics.Header{Key: HeaderOutputID, Value: []byte(outID)}, topics.Header{Key: HeaderActionWriter, Value: []byte(writer)})
}
