package replay

// The Kafka side of ScanEvents. One scan:
//
//  1. plan: the topic's partitions and leaders (Metadata), each
//     partition's first and end offsets and, with Since, the first offset
//     at or after it (ListOffsets by timestamp); with Glyph only the
//     partition the glyph's key hashes to.
//  2. read: a goroutine per partition fetches [start, end) over its own
//     connection to the leader, in large fetches, stops at the first
//     record past Until, and cuts what it reads into chunks.
//  3. decode: a pool of GOMAXPROCS workers filters and decodes chunks in
//     any order.
//  4. merge: the calling goroutine takes each partition's chunks in order,
//     waits for them to be decoded, and hands the matched records to fn
//     merged by timestamp.
//
// kafka-go's Reader costs a channel hop and a goroutine switch per record
// and reads 3x slower than fetching batches on a Conn (BenchmarkScanEvents'
// history is in its comment), so the scan drives Conns itself.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// Scan tuning. A fetch asks for up to scanFetchBytes of one partition:
// large enough that the per-request cost vanishes; records are read from
// the connection as they are used, so a fetch's size is not held in
// memory. MinBytes is 1 and the scan never asks past the end it planned,
// so MaxWait only matters if the log was truncated under the scan. What
// the readers hold ahead of the merge is bounded by scanInFlight records
// (tens of MiB) whatever the partition count, through the chunk size and
// the queue depth per partition (see chunking).
const (
	scanFetchBytes = 4 << 20
	scanMaxWait    = 100 * time.Millisecond
	scanInFlight   = 1 << 15
	maxChunk       = 1024 // records per chunk handed to a decoder: amortises the hand-offs
	minChunk       = 64
	dialTimeout    = 3 * time.Second
)

// chunking returns the records per chunk and the chunks each partition
// may queue ahead of the merge when partitions are read at once: 1024 and
// 4 up to 8 partitions, smaller chunks and queues beyond, so the total
// stays near scanInFlight (a 1024-partition topic: 2 chunks of 64).
func chunking(partitions int) (size, depth int) {
	depth = 4
	if partitions > 16 {
		depth = 2
	}
	size = min(maxChunk, max(minChunk, scanInFlight/(partitions*depth)))
	return size, depth
}

// GlyphPartition is the partition of a topic with partitions partitions
// that a record keyed by glyph lands on when written through topics.Sink:
// kafka-go's Murmur2Balancer, murmur2(key) mod partitions, which is also
// the Java client's default partitioner.
func GlyphPartition(glyph string, partitions int) int {
	if partitions < 1 {
		return 0
	}
	return murmur2Balancer.Balance(kafka.Message{Key: []byte(glyph)}, partitionIDs(partitions)...)
}

var murmur2Balancer = kafka.Murmur2Balancer{Consistent: true}

func partitionIDs(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	return ids
}

// partRange is one partition's planned read: offsets [start, end).
type partRange struct {
	part       kafka.Partition
	start, end int64
}

// plan lists the partitions q reads and the offsets to read them between.
func plan(ctx context.Context, q EventQuery, topic string) ([]partRange, error) {
	if err := reachable(ctx, q.Brokers); err != nil {
		return nil, err
	}
	tr := topics.SecureTransport(&kafka.Transport{DialTimeout: dialTimeout})
	defer tr.CloseIdleConnections() // an open pool asks for metadata for as long as the process runs
	client := &kafka.Client{Addr: kafka.TCP(q.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0 {
		var cause error = errors.New("no partitions")
		if len(md.Topics) == 1 && md.Topics[0].Error != nil {
			cause = md.Topics[0].Error
		}
		return nil, fmt.Errorf("topic %s: %w: deploy the lane with `matriz deploy --lanes %s`, or check --lane and --replay", topic, cause, q.Lane)
	}
	parts := md.Topics[0].Partitions
	slices.SortFunc(parts, func(a, b kafka.Partition) int { return a.ID - b.ID })
	if q.Glyph != "" {
		p := GlyphPartition(q.Glyph, len(parts))
		parts = parts[p : p+1]
	}
	reqs := func(at func(p int) kafka.OffsetRequest) []kafka.OffsetRequest {
		out := make([]kafka.OffsetRequest, len(parts))
		for i, p := range parts {
			out[i] = at(p.ID)
		}
		return out
	}
	// kafka-go sends each partition's lookup to its leader.
	ends, err := listOffsets(ctx, client, topic, reqs(kafka.LastOffsetOf))
	if err != nil {
		return nil, err
	}
	starts, err := listOffsets(ctx, client, topic, reqs(kafka.FirstOffsetOf))
	if err != nil {
		return nil, err
	}
	var since map[int]kafka.PartitionOffsets
	if !q.Since.IsZero() {
		// Record timestamps are milliseconds: a bound inside a millisecond
		// is rounded up, so a record before it is never included.
		at := q.Since.Truncate(time.Millisecond)
		if at.Before(q.Since) {
			at = at.Add(time.Millisecond)
		}
		if since, err = listOffsets(ctx, client, topic, reqs(func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, at) })); err != nil {
			return nil, err
		}
	}
	out := make([]partRange, 0, len(parts))
	for _, p := range parts {
		r := partRange{part: p, start: starts[p.ID].FirstOffset, end: ends[p.ID].LastOffset}
		if since != nil {
			// Offset -1: no record at or after Since.
			r.start = r.end
			for off := range since[p.ID].Offsets {
				if off >= 0 {
					r.start = max(off, starts[p.ID].FirstOffset)
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func listOffsets(ctx context.Context, client *kafka.Client, topic string, reqs []kafka.OffsetRequest) (map[int]kafka.PartitionOffsets, error) {
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int]kafka.PartitionOffsets{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po
	}
	for _, r := range reqs {
		if _, ok := out[r.Partition]; !ok {
			return nil, fmt.Errorf("list offsets of %s/%d: no answer", topic, r.Partition)
		}
	}
	return out, nil
}

// reachable fails fast, with the line topics uses, when no broker accepts
// a connection: kafka-go's clients would retry until their timeout.
func reachable(ctx context.Context, addrs []string) error {
	d := net.Dialer{Timeout: dialTimeout}
	errs := make([]error, len(addrs))
	for i, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			return c.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs[i] = err
	}
	return &topics.BrokerUnreachableError{Addrs: addrs, Errs: errs}
}

// chunk is a run of one partition's records on its way through the scan.
type chunk struct {
	part int
	msgs []kafka.Message
	done chan struct{} // closed once a decoder filled what follows

	recs                 []EventRecord // the matches, in offset order
	decoded, undecodable int64
	firstBad             error
	err                  error // the scan cannot go on
}

// scanner is one running scan.
type scanner struct {
	q         EventQuery
	topic     string
	lookup    *schemas.SchemaLookup
	cancel    context.CancelCauseFunc
	keep      func(*schemas.Event) bool // the filter on decoded fields; nil keeps all
	chunkSize int
	pool      sync.Pool // *chunk, their slices reused
}

func scan(ctx context.Context, q EventQuery, lookup *schemas.SchemaLookup, stats *EventScanStats, fn func(EventRecord) error) error {
	ranges, err := plan(ctx, q, stats.Topic)
	if err != nil {
		return err
	}
	ranges = slices.DeleteFunc(ranges, func(r partRange) bool { return r.start >= r.end })
	stats.Partitions = len(ranges)
	if len(ranges) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	size, depth := chunking(len(ranges))
	s := &scanner{q: q, topic: stats.Topic, lookup: lookup, cancel: cancel, chunkSize: size}
	s.keep = s.keepFunc()
	workers := goruntime.GOMAXPROCS(0)
	work := make(chan *chunk, 2*workers)
	queues := make([]chan *chunk, len(ranges))
	// A reader's error is stored before its queue closes, so the merge
	// that sees the queue closed sees the error.
	readErrs := make([]error, len(ranges))
	var readers, decoders sync.WaitGroup
	for i, r := range ranges {
		queues[i] = make(chan *chunk, depth)
		readers.Go(func() {
			if readErrs[i] = s.read(ctx, r, queues[i], work); readErrs[i] != nil {
				cancel(readErrs[i])
			}
			close(queues[i])
		})
	}
	go func() {
		readers.Wait()
		close(work)
	}()
	for range workers {
		decoders.Go(func() {
			d, err := newEventDecoder(lookup)
			if err != nil {
				cancel(err)
			}
			for c := range work {
				switch {
				case d == nil:
					c.err = err
				case ctx.Err() == nil:
					c.err = s.decode(ctx, d, c)
				}
				if c.err != nil {
					cancel(c.err)
				}
				close(c.done)
			}
		})
	}
	err = s.merge(ctx, queues, readErrs, stats, fn)
	cancel(err)
	readers.Wait()
	decoders.Wait()
	return err
}

// read fetches one partition's range into chunks, each sent to queue (the
// partition's order) and then to work (any decoder).
func (s *scanner) read(ctx context.Context, r partRange, queue, work chan<- *chunk) error {
	d := topics.SecureDialer(&kafka.Dialer{Timeout: dialTimeout, DualStack: true})
	conn, err := d.DialPartition(ctx, "tcp", "", r.part)
	if err != nil {
		return fmt.Errorf("%s/%d: dial the leader: %w", s.topic, r.part.ID, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if stop() {
			conn.Close()
		}
	}()
	c := s.newChunk(r.part.ID)
	emit := func() bool {
		select {
		case queue <- c:
		case <-ctx.Done():
			return false
		}
		select {
		case work <- c:
		case <-ctx.Done():
			return false
		}
		c = s.newChunk(r.part.ID)
		return true
	}
	off := r.start
	for off < r.end {
		if _, err := conn.Seek(off, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			return fmt.Errorf("%s/%d: seek to %d: %w", s.topic, r.part.ID, off, err)
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: scanFetchBytes, MaxWait: scanMaxWait})
		from, past := off, false
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break // io.EOF at the batch's end; anything else Close returns
			}
			if m.Offset >= r.end || (!s.q.Until.IsZero() && m.Time.After(s.q.Until)) {
				past = true
				break
			}
			off = m.Offset + 1
			c.msgs = append(c.msgs, m)
			if len(c.msgs) == s.chunkSize && !emit() {
				batch.Close()
				return nil
			}
		}
		if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s/%d: fetch at offset %d: %w", s.topic, r.part.ID, from, err)
		}
		if past {
			break
		}
		if off == from {
			// A fetch below the planned end that returned nothing: the log
			// lost records under the scan (retention, deletion).
			return fmt.Errorf("%s/%d: no records at offset %d, below the end %d planned at the start", s.topic, r.part.ID, off, r.end)
		}
	}
	if len(c.msgs) > 0 {
		emit()
	}
	return nil
}

func (s *scanner) newChunk(part int) *chunk {
	c, _ := s.pool.Get().(*chunk)
	if c == nil {
		c = &chunk{msgs: make([]kafka.Message, 0, s.chunkSize)}
	}
	c.part, c.done = part, make(chan struct{})
	return c
}

func (s *scanner) release(c *chunk) {
	clear(c.msgs)
	clear(c.recs)
	c.msgs, c.recs = c.msgs[:0], c.recs[:0]
	c.decoded, c.undecodable, c.firstBad, c.err = 0, 0, nil, nil
	s.pool.Put(c)
}

// decode filters and decodes c's records into c.recs. Only a failure of
// the registry (not a record's own fault) is an error.
func (s *scanner) decode(ctx context.Context, d *eventDecoder, c *chunk) error {
	var ev schemas.Event
	for i := range c.msgs {
		m := &c.msgs[i]
		if s.q.Glyph != "" && string(m.Key) != s.q.Glyph {
			continue
		}
		if len(s.q.Kinds) > 0 {
			if k := decisionOf(m.Headers); k != "" && !slices.Contains(s.q.Kinds, k) {
				continue
			}
		}
		c.decoded++
		kept, err := d.decode(ctx, m.Value, &ev, s.keep)
		if err != nil {
			if !undecodable(err) {
				if serde.Unreachable(err) {
					err = &serde.RegistryUnreachableError{URL: s.q.RegistryURL, Err: err}
				}
				return fmt.Errorf("%s/%d offset %d: %w", s.topic, c.part, m.Offset, err)
			}
			if c.undecodable++; c.firstBad == nil {
				c.firstBad = fmt.Errorf("partition %d offset %d: %w", c.part, m.Offset, err)
			}
			continue
		}
		if !kept {
			continue
		}
		c.recs = append(c.recs, EventRecord{Partition: int32(c.part), Offset: m.Offset, Time: m.Time, Key: m.Key, Headers: headersOf(m.Headers), Event: ev})
	}
	return nil
}

// keepFunc returns the query's filter on a decoded event, nil when it has
// none.
func (s *scanner) keepFunc() func(*schemas.Event) bool {
	if s.q.Glyph == "" && len(s.q.Kinds) == 0 {
		return nil
	}
	return func(ev *schemas.Event) bool {
		return (s.q.Glyph == "" || ev.GlyphID == s.q.Glyph) && (len(s.q.Kinds) == 0 || slices.Contains(s.q.Kinds, ev.Kind))
	}
}

// decisionOf returns the kind a decision event's header names, or "".
func decisionOf(hs []kafka.Header) schemas.EventKind {
	for _, h := range hs {
		if h.Key == runtime.HeaderDecision {
			return schemas.EventKind(h.Value)
		}
	}
	return ""
}

func headersOf(hs []kafka.Header) []topics.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]topics.Header, len(hs))
	for i, h := range hs {
		out[i] = topics.Header(h)
	}
	return out
}

// undecodable reports whether err is the record's own fault: not the wire
// format, a schema id the registry does not have or that does not read as
// an Event, or a body that does not decode. A registry that does not
// answer is not.
func undecodable(err error) bool {
	var we *schemas.WireError
	var de *schemas.DecodeError
	return errors.As(err, &we) || errors.As(err, &de) ||
		errors.Is(err, schemas.ErrUnknownSchemaID) || errors.Is(err, schemas.ErrSchemaText) || errors.Is(err, schemas.ErrIncompatible)
}

// merge hands the matched records to fn, smallest timestamp first across
// partitions, each partition in offset order.
func (s *scanner) merge(ctx context.Context, queues []chan *chunk, readErrs []error, stats *EventScanStats, fn func(EventRecord) error) error {
	h := make(mergeHeap, 0, len(queues))
	// next returns partition i's next chunk with a match, counting the
	// chunks it passes; nil once the partition is done.
	next := func(i int) (*chunk, error) {
		for {
			var c *chunk
			var ok bool
			select {
			case c, ok = <-queues[i]:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
			if !ok {
				return nil, readErrs[i]
			}
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
			if c.err != nil {
				return nil, c.err
			}
			stats.Scanned += int64(len(c.msgs))
			stats.Decoded += c.decoded
			stats.Undecodable += c.undecodable
			if stats.FirstUndecodable == nil {
				stats.FirstUndecodable = c.firstBad
			}
			if len(c.recs) > 0 {
				return c, nil
			}
			s.release(c)
		}
	}
	for i := range queues {
		c, err := next(i)
		if err != nil {
			return err
		}
		if c != nil {
			h = append(h, &mergeHead{queue: i, c: c})
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		top := h[0]
		rec := top.c.recs[top.i]
		if err := fn(rec); err != nil {
			return err
		}
		stats.Matched++
		if s.q.Limit > 0 && stats.Matched >= int64(s.q.Limit) {
			return nil
		}
		if top.i++; top.i < len(top.c.recs) {
			heap.Fix(&h, 0)
			continue
		}
		s.release(top.c)
		c, err := next(top.queue)
		if err != nil {
			return err
		}
		if c == nil {
			heap.Pop(&h)
			continue
		}
		top.c, top.i = c, 0
		heap.Fix(&h, 0)
	}
	return nil
}

// mergeHead is a partition's position in the merge.
type mergeHead struct {
	queue int
	c     *chunk
	i     int
}

func (m *mergeHead) rec() *EventRecord { return &m.c.recs[m.i] }

// mergeHeap orders partitions by their next record's timestamp, then by
// partition.
type mergeHeap []*mergeHead

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	a, b := h[i].rec(), h[j].rec()
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.Partition < b.Partition
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*mergeHead)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
