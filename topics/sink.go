package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reugn/go-streams"
	"github.com/segmentio/kafka-go"
)

// Sink is a go-streams Sink that writes Messages to their Topic with a
// kafka-go Writer and acks each Message's input once Kafka acknowledged it
// with acks=all.
//
// It collects up to BatchSize Messages (or BatchBytes, or whatever arrived
// within BatchTimeout) and writes them with one synchronous WriteMessages,
// one batch at a time, so a key's records reach their partition in the
// order they arrived. Keys pick partitions with kafka-go's
// Murmur2Balancer: murmur2(key) mod partitions, the Java client's default
// partitioner, so Java, librdkafka (murmur2_random) and this Sink put a
// key on the same partition. Records with a nil key are spread randomly.
//
// A failed write is retried, only the records that failed, up to Retries
// times with doubling backoff; a write failing for a broker outage
// (connection refused or reset, no leader, a timeout) goes on being
// retried for the retry window (SinkRetryFor, 30s), with backoff capped
// at 2s and a *RetryingError to the error hook once per few seconds, so a
// broker restart delays the records instead of failing them. Then each of
// their Acks gets Done(err), a *WriteError goes to the error hook, and the
// Sink goes on with the next batch. A topic that does not exist fails
// only its own records: when the whole call fails, the batch is retried
// topic by topic.
type Sink struct {
	in    chan any
	w     *kafka.Writer
	tr    *kafka.Transport // the writer's connection pool
	meta  *partitionCounts // the writer's partition-count lookups (sink_metadata.go)
	cfg   sinkConfig
	ctx   context.Context // the caller's, ended by Abort too
	abort context.CancelCauseFunc

	windowEnded chan struct{} // closed by EndRetryWindow
	endWindow   sync.Once

	lastReport time.Time // of a RetryingError; the Sink's goroutine only

	done    chan struct{}
	written atomic.Int64
	failed  atomic.Int64
	fenced  atomic.Int64

	errMu sync.Mutex
	err   error
}

var _ streams.Sink = (*Sink)(nil)

// NewSink returns a Sink writing to the cluster behind brokers. It returns
// a *BrokerUnreachableError if no broker answers within the dial timeout.
// Cancelling ctx (or Abort) fails the writes in flight and every Message
// received after it (their Acks get ctx's error); close In to finish
// normally.
func NewSink(ctx context.Context, brokers []string, opts ...SinkOption) (*Sink, error) {
	cfg := defaultSinkConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkAddrs("sink", brokers); err != nil {
		return nil, err
	}
	if err := reachable(ctx, brokers, cfg.dialTimeout); err != nil {
		return nil, err
	}
	sctx, abort := context.WithCancelCause(ctx)
	tr := SecureTransport(&kafka.Transport{DialTimeout: cfg.dialTimeout})
	meta := newPartitionCounts(tr, cfg.clock)
	s := &Sink{
		tr:    tr,
		meta:  meta,
		in:    make(chan any, min(cfg.batchSize, sinkInBuffer)),
		cfg:   cfg,
		ctx:   sctx,
		abort: abort,

		windowEnded: make(chan struct{}),
		w: &kafka.Writer{
			Addr:         kafka.TCP(brokers...),
			Balancer:     &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			// A partial partition batch goes out at once instead of
			// waiting kafka-go's 1s default: the Sink already did the
			// waiting. A partition's share of one Sink batch goes out as
			// one or a few requests, sent in order by kafka-go's
			// partition writer.
			BatchSize:    cfg.writerBatch(),
			BatchBytes:   min(int64(cfg.batchBytes), maxRequestBytes),
			BatchTimeout: time.Microsecond,
			MaxAttempts:  1, // retries are the Sink's, bounded and per record
			WriteTimeout: cfg.writeTimeout,
			ReadTimeout:  cfg.writeTimeout,
			Transport:    meta,
		},
		done: make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// In returns the channel the Sink consumes: send Message or *Message, close
// it when done. A *Message sent is the Sink's: it copies and clears it.
func (s *Sink) In() chan<- any { return s.in }

// AwaitCompletion blocks until In is closed and every received Message is
// written and acked (or failed), and the writer is closed.
func (s *Sink) AwaitCompletion() { <-s.done }

// Done closes when AwaitCompletion would return.
func (s *Sink) Done() <-chan struct{} { return s.done }

// Abort stops the Sink's retries and writes at once, as cancelling its
// context would: what is not acknowledged yet, and every Message received
// after, fails with ErrSinkAborted. It is how a shutdown bounds a Sink
// riding out a broker outage on a context that never ends. In must still
// be closed for AwaitCompletion to return.
func (s *Sink) Abort() { s.abort(ErrSinkAborted) }

// EndRetryWindow ends the outage window (SinkRetryFor) for good: a write
// failing for an outage now fails once its Retries are spent, like any
// other, and one already waiting out an outage fails at once. Writes that
// go through still do. It is the first step of a shutdown: the drain
// waits for what the broker acknowledges, not for the broker to return.
func (s *Sink) EndRetryWindow() { s.endWindow.Do(func() { close(s.windowEnded) }) }

func (s *Sink) windowOpen() bool {
	select {
	case <-s.windowEnded:
		return false
	default:
		return true
	}
}

// Written counts Messages Kafka acknowledged.
func (s *Sink) Written() int64 { return s.written.Load() }

// Failed counts Messages whose Ack got an error.
func (s *Sink) Failed() int64 { return s.failed.Load() }

// Err returns the first write failure or bad element, or nil.
func (s *Sink) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Sink) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	if s.cfg.onError != nil {
		s.cfg.onError(err)
	}
}

// WriteError reports records the Sink gave up on.
type WriteError struct {
	Topic    string
	Records  int
	Attempts int
	Err      error
}

func (e *WriteError) Error() string {
	if e.Attempts == 0 {
		return fmt.Sprintf("write %d records to %s not attempted: %v", e.Records, e.Topic, e.Err)
	}
	return fmt.Sprintf("write %d records to %s failed after %d attempts: %v", e.Records, e.Topic, e.Attempts, e.Err)
}

// Unwrap exposes the last Kafka error.
func (e *WriteError) Unwrap() error { return e.Err }

func (s *Sink) run() {
	defer close(s.done)
	defer s.abort(nil) // releases the context; every write is over
	defer func() {
		if err := s.w.Close(); err != nil {
			s.fail(fmt.Errorf("close writer: %w", err))
		}
		// kafka-go's Writer.Close leaves a transport it was given open,
		// and each of a transport's pools keeps a goroutine and a
		// connection asking the cluster for metadata until it is closed.
		s.tr.CloseIdleConnections()
	}()
	t := s.cfg.clock.NewTicker(s.cfg.batchTimeout)
	defer t.Stop()
	batch := make([]Message, 0, s.cfg.batchSize)
	bytes := 0
	var ordered aheadSplit
	flush := func() {
		if len(batch) > 0 {
			ordered.write(s, batch)
			clear(batch)
			batch, bytes = batch[:0], 0
		}
	}
	add := func(m Message) {
		if m.Topic == "" {
			s.reject(m, ErrNoTopic)
			return
		}
		// kafka-go fails a whole WriteMessages call for one record over
		// its BatchBytes, so an oversized record is refused alone here.
		n := RecordSize(m)
		if limit := s.MaxRecord(); n > limit {
			s.reject(m, fmt.Errorf("%w: record of about %d bytes, at most %d", kafka.MessageSizeTooLarge, n, limit))
			return
		}
		if bytes+n > s.cfg.batchBytes {
			flush()
		}
		batch = append(batch, m)
		bytes += n
		if len(batch) >= s.cfg.batchSize {
			flush()
		}
	}
	for {
		select {
		case e, ok := <-s.in:
			if !ok {
				flush()
				return
			}
			m, ok := asMessage(e)
			if !ok {
				s.fail(fmt.Errorf("%w: got %T", ErrNotMessage, e))
				continue
			}
			add(m)
		case <-t.C():
			flush()
		}
	}
}

func (s *Sink) reject(m Message, err error) {
	s.failed.Add(1)
	m.Ack.Done(err)
	s.fail(&WriteError{Topic: m.Topic, Records: 1, Attempts: 0, Err: err})
}

// asMessage copies the Message e is, or points to. A *Message is cleared
// once copied: the Sink owns it from the send on, and the sender's array
// it points into (one per frame of outputs, say) would otherwise keep
// every written record's key, value and headers until the array's last
// record is received.
func asMessage(e any) (Message, bool) {
	switch m := e.(type) {
	case Message:
		return m, true
	case *Message:
		if m != nil {
			v := *m
			*m = Message{}
			return v, true
		}
	}
	return Message{}, false
}

// MaxRecord is the largest record, as RecordSize counts it, the Sink
// writes; a larger one is refused (its Ack fails, a *WriteError goes to
// the error hook).
func (s *Sink) MaxRecord() int { return min(s.cfg.batchBytes, maxRequestBytes) }

// RecordSize over-estimates kafka-go's accounting of a record (its
// Message.totalSize), so a batch the Sink cut at BatchBytes is never split
// again by the writer. It is the size MaxRecord bounds.
func RecordSize(m Message) int {
	n := 32 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// write sends batch, retrying what fails, and resolves every Ack. Records
// failing for a broker outage are retried until the retry window, counted
// from the batch's first failure, is over; the others until Retries. It
// reports whether it gave any record up (a fenced record is refused, not
// given up).
func (s *Sink) write(batch []Message) (gaveUp bool) {
	pending := batch
	var errs []error
	var failingSince time.Time
	for attempt := 1; ; attempt++ {
		if pending = s.dropFenced(pending); len(pending) == 0 {
			return gaveUp
		}
		pending, errs = s.try(pending)
		if len(pending) == 0 {
			return gaveUp
		}
		if s.ctx.Err() != nil {
			s.giveUp(pending, errs, attempt)
			return true
		}
		if slices.ContainsFunc(errs, outage) {
			// The pool keeps a connection per partition written to at
			// once; a broker restart kills them all, and each would fail
			// one attempt of its own. A new pool dials afresh and reads
			// the leaders again. Nothing else is in flight: the Sink
			// writes one batch at a time.
			s.tr.CloseIdleConnections()
			s.meta.forget()
		}
		now := s.cfg.clock.Now()
		if failingSince.IsZero() {
			failingSince = now
		}
		if attempt > s.cfg.retries {
			inWindow := s.windowOpen() && now.Sub(failingSince) < s.cfg.retryFor
			var drop []Message
			var dropErrs []error
			pending, errs, drop, dropErrs = splitBy(pending, errs, func(err error) bool { return inWindow && outage(err) })
			if len(drop) > 0 {
				s.giveUp(drop, dropErrs, attempt)
				gaveUp = true
			}
			if len(pending) == 0 {
				return gaveUp
			}
			s.reportRetrying(now, pending, attempt, now.Sub(failingSince), errs[len(errs)-1])
		}
		if !s.backOff(attempt) {
			s.giveUp(pending, errs, attempt)
			return true
		}
	}
}

// backOff waits before retry attempt+1; it returns false if the Sink was
// aborted meanwhile. A wait past Retries (in the outage window) also ends
// when the window is ended, so the next round gives up at once.
func (s *Sink) backOff(attempt int) bool {
	t := s.cfg.clock.NewTicker(sinkBackoff(s.cfg.backoff, attempt))
	defer t.Stop()
	var ended <-chan struct{}
	if attempt > s.cfg.retries {
		ended = s.windowEnded
	}
	select {
	case <-t.C():
	case <-ended:
	case <-s.ctx.Done():
		return false
	}
	return true
}

// sinkBackoff is the wait before retry attempt+1: backoff doubling per
// attempt, at most maxSinkBackoff.
func sinkBackoff(backoff time.Duration, attempt int) time.Duration {
	if attempt > 30 || backoff<<(attempt-1) <= 0 {
		return maxSinkBackoff
	}
	return min(backoff<<(attempt-1), maxSinkBackoff)
}

// splitBy keeps the records whose error keep accepts and returns the others
// apart, each with its error, in their original order.
func splitBy(msgs []Message, errs []error, keep func(error) bool) (kept []Message, keptErrs []error, dropped []Message, droppedErrs []error) {
	for i, m := range msgs {
		if keep(errs[i]) {
			kept, keptErrs = append(kept, m), append(keptErrs, errs[i])
		} else {
			dropped, droppedErrs = append(dropped, m), append(droppedErrs, errs[i])
		}
	}
	return kept, keptErrs, dropped, droppedErrs
}

// reportRetrying tells the error hook the Sink is riding out an outage, at
// most once per sinkRetryReportEvery.
func (s *Sink) reportRetrying(now time.Time, pending []Message, attempts int, since time.Duration, err error) {
	if s.cfg.onError == nil || (!s.lastReport.IsZero() && now.Sub(s.lastReport) < sinkRetryReportEvery) {
		return
	}
	s.lastReport = now
	s.cfg.onError(&RetryingError{Topics: topicsOf(pending), Records: len(pending), Attempts: attempts, Since: since, Window: s.cfg.retryFor, Err: err})
}

// giveUp fails pending, reporting one WriteError per topic.
func (s *Sink) giveUp(pending []Message, errs []error, attempts int) {
	perTopic := map[string]*WriteError{}
	var order []string
	for i, m := range pending {
		err := errs[i]
		if s.ctx.Err() != nil {
			err = context.Cause(s.ctx)
		}
		m.Ack.Done(err)
		we := perTopic[m.Topic]
		if we == nil {
			we = &WriteError{Topic: m.Topic, Attempts: attempts, Err: err}
			perTopic[m.Topic] = we
			order = append(order, m.Topic)
		}
		we.Records++
	}
	s.failed.Add(int64(len(pending)))
	for _, t := range order {
		s.fail(perTopic[t])
	}
}

// try writes msgs once; it acks what Kafka acknowledged and returns the
// rest with their errors, in their original order.
func (s *Sink) try(msgs []Message) ([]Message, []error) {
	err := s.send(msgs)
	if err == nil {
		s.ack(msgs)
		return nil, nil
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(msgs) {
		var failed []Message
		var errs []error
		for i, m := range msgs {
			if werrs[i] == nil {
				m.Ack.Done(nil)
				s.written.Add(1)
			} else {
				failed, errs = append(failed, m), append(errs, werrs[i])
			}
		}
		return failed, errs
	}
	// The whole call failed before anything was sent: typically one topic
	// unknown to the cluster. Try topic by topic so the others go through.
	topics := topicsOf(msgs)
	if len(topics) == 1 || s.ctx.Err() != nil {
		return msgs, repeat(err, len(msgs))
	}
	var failed []Message
	var errs []error
	for _, t := range topics {
		group := slices.DeleteFunc(slices.Clone(msgs), func(m Message) bool { return m.Topic != t })
		f, e := s.try(group)
		failed, errs = append(failed, f...), append(errs, e...)
	}
	return failed, errs
}

func (s *Sink) send(msgs []Message) error {
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		kms[i] = toKafka(m)
	}
	return s.w.WriteMessages(s.ctx, kms...)
}

func (s *Sink) ack(msgs []Message) {
	for _, m := range msgs {
		if s.cfg.onWritten != nil {
			s.cfg.onWritten(m)
		}
		m.Ack.Done(nil)
	}
	s.written.Add(int64(len(msgs)))
}

func topicsOf(msgs []Message) []string {
	var ts []string
	for _, m := range msgs {
		if !slices.Contains(ts, m.Topic) {
			ts = append(ts, m.Topic)
		}
	}
	return ts
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}
