package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
)

// tailCloseTimeout bounds Tail.Close: its readers' connections are cut at
// once, so they stop in milliseconds; the bound is for a reader that
// still would not, which is reported and left behind rather than waited
// for (an operator command must not hang on it).
const tailCloseTimeout = 5 * time.Second

// ErrTailStuck says a Tail's readers did not stop within Close's bound.
var ErrTailStuck = errors.New("readers did not stop")

// Tail follows every partition of a topic from its first record, without a
// consumer group, calling fn for each record in each partition's order. It
// is how a runtime reads compacted tables whose whole content it needs —
// matriz.control (flags and kill switches), a lane's approvals — and keeps
// up with them while running.
type Tail struct {
	topic    string
	fn       func(Message)
	readers  []*kafka.Reader
	caughtUp chan struct{}
	behind   atomic.Int64 // partitions not yet read up to their end at start
	done     chan struct{}
	cancel   context.CancelFunc
	onError  func(error)

	conns        *connSet // every connection the readers dialed: Close cuts them
	clock        clock.Clock
	closeTimeout time.Duration
	closing      sync.Once
}

// StartTail starts following topic. fn runs on the tail's goroutines (one
// per partition), so it must be safe for concurrent use when the topic has
// several partitions. CaughtUp closes once every record that existed at the
// start has been passed to fn.
func StartTail(ctx context.Context, brokers []string, topic string, fn func(Message), onError func(error)) (*Tail, error) {
	return StartTailSince(ctx, brokers, topic, time.Time{}, fn, onError)
}

// StartTailSince is StartTail from the first record of each partition
// whose timestamp is at or after since (the zero time: from the start):
// reading what was written after a point without reading the whole log.
func StartTailSince(ctx context.Context, brokers []string, topic string, since time.Time, fn func(Message), onError func(error)) (*Tail, error) {
	if err := checkAddrs("tail", brokers); err != nil {
		return nil, err
	}
	if err := reachable(ctx, brokers, defaultDialTimeout); err != nil {
		return nil, err
	}
	ends, err := partitionEnds(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithCancel(ctx)
	t := &Tail{topic: topic, fn: fn, caughtUp: make(chan struct{}), done: make(chan struct{}), cancel: cancel, onError: onError,
		conns: newConnSet(defaultDialTimeout), clock: clock.Real{}, closeTimeout: tailCloseTimeout}
	t.behind.Store(int64(len(ends)))
	if len(ends) == 0 {
		close(t.caughtUp)
	}
	var all sync.WaitGroup
	for p, end := range ends {
		rc := kafka.ReaderConfig{
			Brokers: slices.Clone(brokers), Topic: topic, Partition: p,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 250 * time.Millisecond,
			// A stalled batch read gives up after this instead of 10s.
			ReadBatchTimeout: 5 * time.Second,
			Dialer:           SecureDialer(&kafka.Dialer{Timeout: defaultDialTimeout, DialFunc: t.conns.dial}),
		}
		if onError != nil {
			// kafka-go retries most fetch errors inside the reader and only
			// logs them: without this a tail stuck behind a failing
			// partition would be silent.
			rc.ErrorLogger = kafka.LoggerFunc(func(format string, args ...any) {
				if retriedTimeout(args) || tctx.Err() != nil {
					return // a stopping tail's cut connections are no news
				}
				onError(fmt.Errorf("tail %s/%d: "+format, append([]any{topic, p}, args...)...))
			})
		}
		r := kafka.NewReader(rc)
		var err error
		if since.IsZero() {
			err = r.SetOffset(kafka.FirstOffset)
		} else {
			err = r.SetOffsetAt(ctx, since)
		}
		if err != nil {
			r.Close()
			t.stop(&all)
			return nil, fmt.Errorf("tail %s/%d: %w", topic, p, err)
		}
		if !since.IsZero() && (r.Offset() < 0 || r.Offset() >= end) {
			end = 0 // nothing at or after since: caught up from the start
		}
		t.readers = append(t.readers, r)
		all.Add(1)
		go func() {
			defer all.Done()
			t.follow(tctx, r, p, end)
		}()
	}
	go t.closeReaders(&all)
	return t, nil
}

// stop ends a tail that failed to start: its readers so far stop in the
// background.
func (t *Tail) stop(all *sync.WaitGroup) {
	t.cancel()
	t.conns.closeAll()
	go t.closeReaders(all)
}

// closeReaders closes the readers once every partition stopped following,
// all at once (one slow reader does not hold up the others), then done.
func (t *Tail) closeReaders(all *sync.WaitGroup) {
	all.Wait()
	var closing sync.WaitGroup
	for _, r := range t.readers {
		closing.Go(func() { r.Close() })
	}
	closing.Wait()
	close(t.done)
}

// follow reads one partition; it counts the partition caught up once it
// passed end (the high watermark when the tail started). A partition that
// stops before that never counts: CaughtUp promises the whole table.
func (t *Tail) follow(ctx context.Context, r *kafka.Reader, p int, end int64) {
	var once sync.Once
	markCaughtUp := func() {
		once.Do(func() {
			if t.behind.Add(-1) == 0 {
				close(t.caughtUp)
			}
		})
	}
	if end <= 0 {
		markCaughtUp()
	}
	for {
		km, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			if t.onError != nil {
				t.onError(fmt.Errorf("tail %s/%d: %w", t.topic, p, err))
			}
			continue
		}
		t.fn(fromKafka(km, nil))
		if km.Offset+1 >= end {
			markCaughtUp()
		}
	}
}

// CaughtUp closes once the records present at start have been read. It
// stays open if the tail stops first, so wait on it together with the
// tail's context or a timeout.
func (t *Tail) CaughtUp() <-chan struct{} { return t.caughtUp }

// Close stops following and waits for the readers to stop: it cancels
// their fetches and cuts their connections, so a request to a broker that
// stopped answering does not hold it up. A reader that still has not
// stopped after 5s is left to stop in the background: Close reports it to
// the error hook and returns an error wrapping ErrTailStuck.
func (t *Tail) Close() error {
	t.closing.Do(func() {
		t.cancel()
		t.conns.closeAll()
	})
	tick := t.clock.NewTicker(t.closeTimeout)
	defer tick.Stop()
	select {
	case <-t.done:
		return nil
	case <-tick.C():
		err := fmt.Errorf("tail %s: %w within %v of Close; left to stop in the background", t.topic, ErrTailStuck, t.closeTimeout)
		if t.onError != nil {
			t.onError(err)
		}
		return err
	}
}

// partitionEndsTimeout bounds each request of partitionEnds: kafka-go's
// Conn sets no deadline of its own, so a broker that accepted the
// connection and stopped answering would hold a StartTail forever.
const partitionEndsTimeout = 10 * time.Second

// partitionEnds returns each partition's high watermark. Cancelling ctx
// ends it at once.
func partitionEnds(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	d := SecureDialer(&kafka.Dialer{Timeout: defaultDialTimeout, DualStack: true})
	conn, err := d.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, &BrokerUnreachableError{Addrs: brokers[:1], Errs: []error{err}}
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	conn.SetDeadline(time.Now().Add(partitionEndsTimeout))
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		return nil, fmt.Errorf("tail %s: read partitions: %w (run `matriz deploy` to create the lane topics)", topic, err)
	}
	ends := make(map[int]int64, len(parts))
	for _, p := range parts {
		leader := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
		pc, err := d.DialLeader(ctx, "tcp", leader, topic, p.ID)
		if err != nil {
			return nil, fmt.Errorf("tail %s/%d: dial leader %s: %w", topic, p.ID, leader, err)
		}
		stop := context.AfterFunc(ctx, func() { pc.Close() })
		pc.SetDeadline(time.Now().Add(partitionEndsTimeout))
		last, err := pc.ReadLastOffset()
		stop()
		pc.Close()
		if err != nil {
			return nil, fmt.Errorf("tail %s/%d: read last offset: %w", topic, p.ID, err)
		}
		ends[p.ID] = last
	}
	return ends, nil
}

// PartitionEnds returns each partition's high watermark (the offset the
// next record will get): where a restart's re-decided region ends.
func PartitionEnds(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	if err := checkAddrs("partition ends", brokers); err != nil {
		return nil, err
	}
	return partitionEnds(ctx, brokers, topic)
}
