package bench

// The baselines: kafka-go consume→produce(acks=all)→commit copies, tuned
// to be as fast as kafka-go gets on the embedded broker, so the chain is
// compared with the best a plain client does, not a naive loop. One
// consumer-group Reader feeds batches; up to InFlight batches are written
// at once (one Writer per output topic, each batch's topics written in
// parallel); offsets are committed in input order as batches complete.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/topics"
)

// CopySettings are the kafka-go settings a baseline copy ran with; the
// report prints them. RequiredAcks is always all.
type CopySettings struct {
	MinBytes      int
	MaxBytes      int
	MaxWait       time.Duration
	QueueCapacity int
	Batch         int           // records fetched per batch, at most
	InFlight      int           // batches written at once
	BatchSize     int           // Writer.BatchSize
	BatchBytes    int64         // Writer.BatchBytes
	BatchTimeout  time.Duration // Writer.BatchTimeout
	CommitEvery   time.Duration // Reader.CommitInterval (0: each batch committed synchronously)
}

// DefaultCopySettings are the fastest settings measured on the embedded
// broker (6 partitions, 2 shared cores, each setting varied alone from
// these, 2–3 rounds): several batches in flight pay most (fan-out copy
// 58–62k inputs/s with 4 in flight against 33–40k with 1); fetches of
// 1 MiB beat 4–8 MiB (the in-process broker builds the whole response:
// plain copy 180–330k msgs/s against 80–145k at 4 MiB); a 500 ms MaxWait
// costs a third at the tail. Batch and writer batch sizes, the writer's
// BatchTimeout (1–10 ms), the queue capacity and synchronous commits made
// no difference beyond the machine's noise. BatchBytes stays at the
// broker's 1 MiB message limit: a larger produce request is refused whole.
var DefaultCopySettings = CopySettings{
	MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond, QueueCapacity: 10_000,
	Batch: 2000, InFlight: 4, BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: 5 * time.Millisecond,
	CommitEvery: 100 * time.Millisecond,
}

func (s CopySettings) String() string {
	return fmt.Sprintf("MinBytes %d, MaxBytes %d, MaxWait %v, QueueCapacity %d, batch %d records, %d batches in flight, "+
		"writer BatchSize %d, BatchBytes %d, BatchTimeout %v, RequiredAcks all, commit every %v",
		s.MinBytes, s.MaxBytes, s.MaxWait, s.QueueCapacity, s.Batch, s.InFlight, s.BatchSize, s.BatchBytes, s.BatchTimeout, s.CommitEvery)
}

// copyOutput is one topic a copy writes: Records in total over the n
// inputs, spread evenly, each with a value of ValueSize bytes (<0: the
// input's own value).
type copyOutput struct {
	Topic     string
	Records   int64
	ValueSize int
}

// copyStats is what a copy wrote, as its writers acknowledged it.
type copyStats struct {
	Took    time.Duration
	Records map[string]int64 // per topic
	Bytes   map[string]int64 // key + value bytes per topic
}

// runCopy copies n records of src, read with group, to outs.
func runCopy(ctx context.Context, brokers []string, src, group string, n int, outs []copyOutput, set CopySettings, cl clock.Clock) (copyStats, error) {
	st := copyStats{Records: map[string]int64{}, Bytes: map[string]int64{}}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: slices.Clone(brokers), GroupID: group, GroupTopics: []string{src}, Dialer: topics.NewDialer(),
		MinBytes: set.MinBytes, MaxBytes: set.MaxBytes, MaxWait: set.MaxWait, QueueCapacity: set.QueueCapacity,
		CommitInterval: set.CommitEvery, StartOffset: kafka.FirstOffset,
	})
	defer r.Close()
	// A transport of its own: kafka-go's default one caches metadata
	// from before this copy's topics were created.
	tr := topics.SecureTransport(&kafka.Transport{})
	defer tr.CloseIdleConnections()
	ws := make([]*kafka.Writer, len(outs))
	for i, o := range outs {
		ws[i] = &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: o.Topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Murmur2Balancer{},
			BatchSize: set.BatchSize, BatchBytes: set.BatchBytes, BatchTimeout: set.BatchTimeout, Transport: tr}
		defer ws[i].Close()
	}
	pads := make([][]byte, len(outs))
	for i, o := range outs {
		if o.ValueSize >= 0 {
			pads[i] = make([]byte, o.ValueSize)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		in   []kafka.Message
		done chan error
	}
	inflight := make(chan batch, max(set.InFlight, 1)-1)
	var mu sync.Mutex
	commitErr := make(chan error, 1)
	// The committer: batches complete in any order, offsets are committed
	// in the order they were read.
	go func() {
		for b := range inflight {
			if err := <-b.done; err != nil {
				commitErr <- err
				cancel()
				return
			}
			if err := r.CommitMessages(ctx, b.in...); err != nil {
				commitErr <- err
				cancel()
				return
			}
		}
		commitErr <- nil
	}()

	start := cl.Now()
	read := 0
	var err error
	for read < n && err == nil {
		var in []kafka.Message
		in, err = fetchBatch(ctx, r, min(set.Batch, n-read))
		if err != nil {
			break
		}
		first := read
		read += len(in)
		b := batch{in: in, done: make(chan error, 1)}
		perTopic := make([][]kafka.Message, len(outs))
		for i, o := range outs {
			perTopic[i] = fanMessages(in, first, n, o, pads[i])
		}
		go func() {
			errs := make(chan error, len(outs))
			for i := range outs {
				go func() { errs <- shortWriteError(ws[i].WriteMessages(ctx, perTopic[i]...)) }()
			}
			var werr error
			for range outs {
				if e := <-errs; e != nil && werr == nil {
					werr = e
				}
			}
			if werr == nil {
				mu.Lock()
				for i, o := range outs {
					st.Records[o.Topic] += int64(len(perTopic[i]))
					for _, m := range perTopic[i] {
						st.Bytes[o.Topic] += int64(len(m.Key) + len(m.Value))
					}
				}
				mu.Unlock()
			}
			b.done <- werr
		}()
		select {
		case inflight <- b:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	close(inflight)
	if cerr := <-commitErr; cerr != nil {
		return st, cerr
	}
	if err != nil {
		return st, err
	}
	// Committed offsets leave with the Reader's close; that is part of the copy.
	if err := r.Close(); err != nil {
		return st, err
	}
	st.Took = cl.Now().Sub(start)
	return st, nil
}

// fetchBatch returns what the Reader has queued now: at least one record,
// at most max. One timer per batch, not per record.
func fetchBatch(ctx context.Context, r *kafka.Reader, most int) ([]kafka.Message, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]kafka.Message, 1, most)
	out[0] = m
	if most == 1 {
		return out, nil
	}
	fctx, stop := context.WithTimeout(ctx, time.Millisecond)
	defer stop()
	for len(out) < most {
		m, err := r.FetchMessage(fctx)
		if err != nil {
			if fctx.Err() != nil && ctx.Err() == nil {
				break
			}
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// fanMessages is what inputs in, the first of which is input number
// first of n, write to o: input i writes floor((i+1)·R/n) − floor(i·R/n)
// records, so n inputs write exactly o.Records.
func fanMessages(in []kafka.Message, first, n int, o copyOutput, pad []byte) []kafka.Message {
	out := make([]kafka.Message, 0, len(in))
	for j, m := range in {
		i := int64(first + j)
		k := (i+1)*o.Records/int64(n) - i*o.Records/int64(n)
		v := m.Value
		if pad != nil {
			v = pad
		}
		for range k {
			out = append(out, kafka.Message{Key: m.Key, Value: v})
		}
	}
	return out
}

// ensureCopyTopics creates the copy's output topics, partitions each.
func ensureCopyTopics(ctx context.Context, brokers []string, partitions map[string]int) error {
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return err
	}
	specs := make([]topics.Spec, 0, len(partitions))
	for name, p := range partitions {
		specs = append(specs, topics.Spec{Name: name, Partitions: p, ReplicationFactor: topics.ReplicationByCluster,
			Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete}})
	}
	_, err = admin.Ensure(ctx, specs, false)
	return err
}

// shortWriteError makes kafka-go's per-record errors one line: how many
// records failed and the first reason.
func shortWriteError(err error) error {
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	for _, e := range we {
		if e != nil {
			return fmt.Errorf("%d of %d records not written: %w", we.Count(), len(we), e)
		}
	}
	return err
}
