package runtime

// The accounting test: every offset of a lane's messages topic ends in
// exactly one place — a result, a late side-output (a result marked late),
// a DLQ record, or a decimation event listing it — after a live run on a
// drop-oldest lane whose one-frame ring drops frames under the backlog,
// with corrupt and late records interleaved.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// srcOffset is one record of the messages topic.
type srcOffset struct {
	partition int32
	offset    int64
}

func (o srcOffset) String() string { return fmt.Sprintf("%d@%d", o.partition, o.offset) }

// fate is where an input offset ended.
type fate string

const (
	fateResult  fate = "result"
	fateLate    fate = "late side-output"
	fateDLQ     fate = "DLQ"
	fateDropped fate = "decimation drop"
)

// ledger holds each offset's fate, and every offset claimed twice.
type ledger struct {
	fates     map[srcOffset]fate
	counts    map[fate]int
	conflicts []string
}

func newLedger(n int) *ledger {
	return &ledger{fates: make(map[srcOffset]fate, n), counts: map[fate]int{}}
}

// put records that o ended as f; a second fate for o is a conflict.
func (l *ledger) put(o srcOffset, f fate, what string) {
	if prev, ok := l.fates[o]; ok {
		l.conflicts = append(l.conflicts, fmt.Sprintf("%s is a %s and also a %s (%s)", o, prev, f, what))
		return
	}
	l.fates[o] = f
	l.counts[f]++
}

// accountingRecords makes n records for lane's messages topic: valid
// messages 100–400 µs apart in event time, of which about 1% are stamped
// 300 ms early (late: their frame has closed by then), every 37th is
// swapped with its neighbour (out of order within the 5 ms grace), and
// every 100th record is a corrupt one of the four kinds corruptValues
// makes. It returns the records and how many are corrupt.
func accountingRecords(t *testing.T, env *pipetest.Env, lane schemas.Lane, n int) ([]topics.Message, int) {
	t.Helper()
	corrupt := n / 100
	valid := n - corrupt
	gen := devstack.NewSynthetic(lane, 11, 256)
	rng := rand.New(rand.NewPCG(11, 3))
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	msgs := make([]schemas.MatrizMessage, valid)
	at := time.Duration(0)
	for i := range msgs {
		at += time.Duration(100+rng.IntN(301)) * time.Microsecond
		ts := base.Add(at)
		if i%101 == 50 {
			ts = ts.Add(-300 * time.Millisecond)
		}
		msgs[i] = gen.Next(ts)
	}
	for i := 36; i+1 < len(msgs); i += 37 {
		if i%101 != 50 && (i+1)%101 != 50 {
			msgs[i], msgs[i+1] = msgs[i+1], msgs[i]
		}
	}
	good := env.Encode(t, lane, msgs)
	bad := corruptValues(t, env, lane, corrupt)
	out := make([]topics.Message, 0, n)
	for i := 0; len(good)+len(bad) > 0; i++ {
		if i%100 == 99 && len(bad) > 0 {
			out, bad = append(out, bad[0]), bad[1:]
		} else if len(good) > 0 {
			out, good = append(out, good[0]), good[1:]
		} else {
			out, bad = append(out, bad[0]), bad[1:]
		}
	}
	return out, corrupt
}

// waitAllCommitted waits until group's committed offset is the end of every
// partition of lane's messages topic.
func waitAllCommitted(t *testing.T, env *pipetest.Env, lane schemas.Lane, group string, ends map[int]int64, within time.Duration) {
	t.Helper()
	var behind []string
	clocktest.WaitFor(t, within, fmt.Sprintf("group %s committed every offset", group), func() bool {
		behind = behind[:0]
		got := env.Committed(t, topics.Name(string(lane), topics.KindMessages), group)
		for p, end := range ends {
			if got[p] != end {
				behind = append(behind, fmt.Sprintf("partition %d at %d of %d", p, got[p], end))
			}
		}
		return len(behind) == 0
	}, func() string { return strings.Join(behind, ", ") })
}

func TestEveryOffsetAccountedOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: 100,000 records through a drop-oldest lane, every offset accounted for (skipped with -short)")
	}
	const total = 100_000
	lane := schemas.LaneExperimental
	s, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	s.Lanes[lane].Decimate.K = 1 // a frame of backlog: the tick outruns the chain and frames are dropped
	env := pipetest.Start(t, lane)
	recs, corrupt := accountingRecords(t, env, lane, total)
	env.Produce(t, lane, nil, recs)
	messages := topics.Name(string(lane), topics.KindMessages)
	ends, err := topics.PartitionEnds(context.Background(), env.Brokers, messages)
	if err != nil {
		t.Fatal(err)
	}
	var sent int64
	for _, e := range ends {
		sent += e
	}
	if sent != total {
		t.Fatalf("%s holds %d records, want %d", messages, sent, total)
	}

	group := "account-" + string(lane)
	start := time.Now()
	stop := runLane(t, env, Config{Lane: lane, Spec: s, Group: group, IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond})
	waitAllCommitted(t, env, lane, group, ends, 3*time.Minute)
	took := time.Since(start)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	read := time.Now()
	l := newLedger(total)
	ctx, lookup := context.Background(), env.Serde.Lookup()

	// Results, last copy of an output id wins.
	type resultRef struct {
		src  srcOffset
		late bool
	}
	results := map[string]resultRef{}
	resultCopies := 0
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		id := pipetest.Header(m, HeaderOutputID)
		ref := resultRef{srcOffset{int32(pipetest.HeaderInt(t, m, HeaderSrcPartition)), pipetest.HeaderInt(t, m, HeaderSrcOffset)}, pipetest.Header(m, HeaderLate) == "true"}
		if id == "" {
			t.Fatalf("result from %s has no output id", ref.src)
		}
		if prev, ok := results[id]; ok {
			resultCopies++
			if prev.src != ref.src {
				t.Fatalf("output id %s names source %s in one copy and %s in another", id, prev.src, ref.src)
			}
		}
		results[id] = ref
	}
	lateResults := map[srcOffset]bool{}
	for id, r := range results {
		if r.late {
			l.put(r.src, fateLate, "result "+id)
			lateResults[r.src] = true
		} else {
			l.put(r.src, fateResult, "result "+id)
		}
	}

	// DLQ records, named by their source: a copy of the same source is a
	// duplicate write, not a second fate.
	dlq := map[srcOffset]string{}
	dlqCopies, corruptInDLQ := 0, 0
	reasons := map[string]int{}
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindDLQ)) {
		src := srcOffset{int32(pipetest.HeaderInt(t, m, HeaderSrcPartition)), pipetest.HeaderInt(t, m, HeaderSrcOffset)}
		if _, ok := dlq[src]; ok {
			dlqCopies++
			continue
		}
		dlq[src] = string(m.Key)
		reasons[pipetest.Header(m, HeaderDLQReason)]++
		if strings.HasPrefix(string(m.Key), "corrupt-") {
			corruptInDLQ++
		}
		l.put(src, fateDLQ, "DLQ record "+string(m.Key))
	}

	// Decimation and late decisions, last copy of an output id wins.
	events := map[string]*schemas.Event{}
	eventCopies := 0
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindEvents)) {
		ev := &schemas.Event{}
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, ev); err != nil {
			t.Fatalf("event at %d/%d does not decode: %v", m.Partition, m.Offset, err)
		}
		if ev.Kind != schemas.EventDecimation && ev.Kind != schemas.EventLate {
			continue
		}
		if got := pipetest.Header(m, HeaderDecision); got != string(ev.Kind) {
			t.Fatalf("%s event %s has decision header %q: a replay would not find it", ev.Kind, ev.ID, got)
		}
		id := pipetest.Header(m, HeaderOutputID)
		if _, ok := events[id]; ok {
			eventCopies++
		}
		events[id] = ev
	}
	dropEvents, lateEvents := 0, 0
	listedBy := map[srcOffset]string{}
	lateDecided := map[srcOffset]string{}
	for id, ev := range events {
		switch ev.Kind {
		case schemas.EventDecimation:
			dropEvents++
			dec, err := operators.ParseDecimation(*ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range dec.Offsets {
				src := srcOffset{dec.Partition, off}
				if other, ok := listedBy[src]; ok {
					t.Fatalf("offset %s listed by two decimation events, %s and %s", src, other, id)
				}
				listedBy[src] = id
				l.put(src, fateDropped, fmt.Sprintf("decimation %s of frame %d", id, dec.Seq))
			}
		case schemas.EventLate:
			lateEvents++
			p, ok1 := ev.Payload.Int("partition")
			off, ok2 := ev.Payload.Int("offset")
			if !ok1 || !ok2 {
				t.Fatalf("late event %s without partition and offset: %v", id, ev.Payload)
			}
			src := srcOffset{int32(p), off}
			if other, ok := lateDecided[src]; ok {
				t.Fatalf("offset %s judged late by two events, %s and %s", src, other, id)
			}
			lateDecided[src] = id
		}
	}

	if len(l.conflicts) > 0 {
		t.Fatalf("%d offsets in two places, e.g.:\n  %s", len(l.conflicts), strings.Join(l.conflicts[:min(10, len(l.conflicts))], "\n  "))
	}
	var missing []string
	nMissing := 0
	for p, end := range ends {
		for off := int64(0); off < end; off++ {
			if _, ok := l.fates[srcOffset{int32(p), off}]; !ok {
				nMissing++
				if len(missing) < 10 {
					missing = append(missing, srcOffset{int32(p), off}.String())
				}
			}
		}
	}
	if nMissing > 0 {
		t.Fatalf("%d offsets accounted for nowhere, e.g. %v", nMissing, missing)
	}
	if len(l.fates) != total {
		var outside []string
		for o := range l.fates {
			if end, ok := ends[int(o.partition)]; !ok || o.offset < 0 || o.offset >= end {
				outside = append(outside, o.String())
			}
		}
		slices.Sort(outside)
		t.Fatalf("%d offsets accounted for, %d sent: outputs name offsets the topic does not hold: %v", len(l.fates), total, outside[:min(10, len(outside))])
	}
	for src := range lateResults {
		if lateDecided[src] == "" {
			t.Fatalf("late result from %s has no late decision event with its offset", src)
		}
	}
	lateInDLQ := 0
	for src, id := range lateDecided {
		switch l.fates[src] {
		case fateLate:
		case fateDLQ:
			lateInDLQ++ // judged late, then failed by a stage: its DLQ record answers it
		default:
			t.Fatalf("late event %s names %s, which is a %s", id, src, l.fates[src])
		}
	}
	if corruptInDLQ != corrupt {
		t.Fatalf("%d of the %d corrupt records reached the DLQ; DLQ by reason %v", corruptInDLQ, corrupt, reasons)
	}

	t.Logf("%d records (%d corrupt) over %d partitions committed in %v (%.0f records/s), read back and accounted in %v",
		total, corrupt, len(ends), took.Round(time.Millisecond), float64(total)/took.Seconds(), time.Since(read).Round(time.Millisecond))
	t.Logf("by fate: %d results, %d late side-outputs, %d DLQ records, %d dropped by %d decimation events; %d late decisions (%d of them answered in the DLQ); DLQ by reason %v",
		l.counts[fateResult], l.counts[fateLate], l.counts[fateDLQ], l.counts[fateDropped], dropEvents, lateEvents, lateInDLQ, reasons)
	t.Logf("duplicate writes: %d results, %d DLQ records, %d decimation or late events", resultCopies, dlqCopies, eventCopies)
	for _, f := range []fate{fateResult, fateLate, fateDLQ, fateDropped} {
		if l.counts[f] == 0 {
			t.Fatalf("no offset ended as a %s: the run does not exercise it (by fate %v)", f, l.counts)
		}
	}
}
