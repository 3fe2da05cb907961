package bench

// End-to-end latency, measured from outside the chain: the probe follows a
// lane's messages topic and its results topic as any consumer would. An
// input's start is its Kafka record timestamp (the producer's clock when
// it produced the record); its end is its result's record timestamp,
// which the lane's writer stamps as it sends the acks=all produce request
// the result goes out in (the in-process broker appends and acknowledges
// it within the same round trip). The probe joins the two by the source
// coordinates every result carries in its headers (matriz-src-partition,
// matriz-src-offset), so it needs neither the messages' ids nor a decode.
// It also notes when it read each result itself: an upper bound that adds
// its own fetch delay.

import (
	"slices"
	"strconv"
	"time"
)

// LatencySummary is a latency distribution: how many samples and where its
// percentiles fall. Zero durations with Count 0 are not measured.
type LatencySummary struct {
	Count               int
	P50, P90, P99, Max  time.Duration
	Min                 time.Duration
	Unanswered, Ignored int // inputs without a result; results whose input the probe did not see
}

// summarize returns the distribution of ds (which it sorts in place).
func summarize(ds []time.Duration) LatencySummary {
	if len(ds) == 0 {
		return LatencySummary{}
	}
	slices.Sort(ds)
	return LatencySummary{Count: len(ds), Min: ds[0], P50: percentile(ds, 0.50), P90: percentile(ds, 0.90), P99: percentile(ds, 0.99), Max: ds[len(ds)-1]}
}

// percentile returns the nearest-rank q-quantile of sorted (ascending):
// the smallest sample with at least q of all samples at or below it, so
// p99 of 100 samples is the 99th and of 10 samples the 10th. Empty gives 0.
func percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(q*float64(n) + 0.999999999) // ⌈q·n⌉ without float noise turning 99.0 into 100
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// String renders a summary in one line.
func (s LatencySummary) String() string {
	if s.Count == 0 {
		return "no samples"
	}
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return "p50 " + r(s.P50).String() + ", p90 " + r(s.P90).String() + ", p99 " + r(s.P99).String() + ", max " + r(s.Max).String() +
		" over " + strconv.Itoa(s.Count) + " results"
}

// probePart is one partition's bookkeeping, indexed by offset − base.
type probePart struct {
	started bool
	base    int64   // offset of index 0; set by the first input seen
	sent    []int64 // input record timestamps, Unix ns; 0: not seen
	acked   []int64 // result record timestamps, Unix ns; 0: no result yet
	seen    []int64 // when the probe read the result, Unix ns
	inSeen  []int64 // when the probe read the input, Unix ns; 0: not noted
	nSent   int
	nAcked  int // inputs seen with a result
	early   []earlyResult
}

// earlyResult is a result read before its input (the two topics are read
// by separate readers); it is placed once the input is.
type earlyResult struct{ off, acked, seen int64 }

// latencyBook joins inputs and results per partition. It is not safe for
// concurrent use: the probe serialises calls.
type latencyBook struct {
	parts   map[int32]*probePart
	ignored int
}

func newLatencyBook() *latencyBook { return &latencyBook{parts: map[int32]*probePart{}} }

func grow(s []int64, n int) []int64 {
	if n <= len(s) {
		return s
	}
	return append(s, make([]int64, n-len(s))...)
}

func (b *latencyBook) part(p int32) *probePart {
	pp, ok := b.parts[p]
	if !ok {
		pp = &probePart{}
		b.parts[p] = pp
	}
	return pp
}

// inputSeen is input, noting also when the probe read the record.
func (b *latencyBook) inputSeen(p int32, off int64, at, seen time.Time) {
	b.input(p, off, at)
	pp := b.parts[p]
	if i := off - pp.base; i >= 0 && !at.IsZero() {
		pp.inSeen = grow(pp.inSeen, int(i)+1)
		pp.inSeen[i] = seen.UnixNano()
	}
}

// input records that partition p's record at off has timestamp at.
func (b *latencyBook) input(p int32, off int64, at time.Time) {
	pp := b.part(p)
	if !pp.started {
		pp.started, pp.base = true, off
	}
	i := off - pp.base
	if i < 0 || at.IsZero() {
		return // before the first input the probe saw: not this phase's
	}
	pp.sent = grow(pp.sent, int(i)+1)
	if pp.sent[i] == 0 {
		pp.nSent++
	}
	pp.sent[i] = at.UnixNano()
	if len(pp.early) > 0 {
		rest := pp.early[:0]
		for _, e := range pp.early {
			if e.off == off {
				b.place(pp, i, e.acked, e.seen)
			} else {
				rest = append(rest, e)
			}
		}
		pp.early = rest
	}
}

// result records that the input at partition p, offset off was answered by
// a result stamped acked, which the probe read at seen. A result read
// before its input waits for it.
func (b *latencyBook) result(p int32, off int64, acked, seen time.Time) {
	pp := b.part(p)
	if pp.started && off < pp.base {
		b.ignored++ // an input from before this phase
		return
	}
	i := off - pp.base
	if !pp.started || i >= int64(len(pp.sent)) || pp.sent[i] == 0 {
		pp.early = append(pp.early, earlyResult{off, acked.UnixNano(), seen.UnixNano()})
		return
	}
	b.place(pp, i, acked.UnixNano(), seen.UnixNano())
}

func (b *latencyBook) place(pp *probePart, i int64, acked, seen int64) {
	pp.acked, pp.seen = grow(pp.acked, int(i)+1), grow(pp.seen, int(i)+1)
	if pp.acked[i] != 0 {
		return // a duplicate (a redelivery): the first answer counts
	}
	pp.acked[i], pp.seen[i] = acked, seen
	pp.nAcked++
}

// counts returns how many inputs the book saw and how many of them have a
// result.
func (b *latencyBook) counts() (sent, answered int) {
	for _, pp := range b.parts {
		sent += pp.nSent
		answered += pp.nAcked
	}
	return sent, answered
}

// summaries returns the distributions of input → result stamped (acked)
// and input → result read by the probe (seen).
func (b *latencyBook) summaries() (acked, seen LatencySummary) {
	var da, ds []time.Duration
	unanswered, ignored := 0, b.ignored
	for _, pp := range b.parts {
		ignored += len(pp.early)
		for i, s := range pp.sent {
			if s == 0 {
				continue
			}
			if i >= len(pp.acked) || pp.acked[i] == 0 {
				unanswered++
				continue
			}
			da = append(da, time.Duration(pp.acked[i]-s))
			ds = append(ds, time.Duration(pp.seen[i]-s))
		}
	}
	acked, seen = summarize(da), summarize(ds)
	acked.Unanswered, acked.Ignored = unanswered, ignored
	seen.Unanswered, seen.Ignored = unanswered, ignored
	return acked, seen
}

// legs splits the answered inputs whose reading the probe noted into
// record timestamp → the probe read the input (the producer's writer and
// the broker), and the probe read the input → result stamped (the chain,
// less the probe's own fetch delay).
func (b *latencyBook) legs() (toBroker, chain LatencySummary) {
	var db, dc []time.Duration
	for _, pp := range b.parts {
		for i, s := range pp.sent {
			if s == 0 || i >= len(pp.acked) || pp.acked[i] == 0 || i >= len(pp.inSeen) || pp.inSeen[i] == 0 {
				continue
			}
			db = append(db, time.Duration(pp.inSeen[i]-s))
			dc = append(dc, time.Duration(pp.acked[i]-pp.inSeen[i]))
		}
	}
	return summarize(db), summarize(dc)
}
