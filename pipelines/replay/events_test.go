package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// testEvent is an event and the Kafka record timestamp it is written with.
type testEvent struct {
	schemas.Event
	At time.Time
}

// isDecision: the kinds the runtime writes with the matriz-decision header.
func isDecision(k schemas.EventKind) bool {
	switch k {
	case schemas.EventLate, schemas.EventFPSChange, schemas.EventWatermark, schemas.EventApprovalApplied, schemas.EventDecimation, schemas.EventFlagChange:
		return true
	}
	return false
}

// record encodes te as the runtime writes it: keyed by glyph id (a
// frame-level event without one by "partition:N"), with an output id and,
// for a decision, the decision header.
func (te testEvent) record(t testing.TB, id uint32) topics.Message {
	val, err := schemas.AppendWire(nil, id, &te.Event)
	if err != nil {
		t.Fatal(err)
	}
	h := []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(te.ID)}}
	if isDecision(te.Kind) {
		h = append(h, topics.Header{Key: runtime.HeaderDecision, Value: []byte(te.Kind)})
	}
	return topics.Message{Key: te.key(), Value: val, Time: te.At, Headers: h}
}

// key is te's Kafka key: its glyph id, or "partition:N" for a frame-level
// event without one.
func (te testEvent) key() []byte {
	if te.GlyphID != "" {
		return []byte(te.GlyphID)
	}
	p, _ := te.Payload.Int("partition")
	return []byte("partition:" + strconv.FormatInt(p, 10))
}

// logFixture is a lane's event log written with known kinds, glyphs and
// record timestamps, and where each record must land.
type logFixture struct {
	env    *pipetest.Env
	lane   schemas.Lane
	base   time.Time
	events []testEvent
	where  []placed // per event, in write order
}

type placed struct {
	partition int32
	offset    int64
}

// fixtureGlyphs get uneven shares of the log (glyph i about i+1 parts), so
// the partitions hold different numbers of records.
var fixtureGlyphs = []string{"g-alpha", "g-beta", "g-gamma", "g-delta", "g-epsilon", "g-zeta", "g-eta", "g-theta"}

// newLogFixture writes 400 events, one a millisecond from base: per glyph
// routing, drift alerts, late decisions and guardian decisions, and
// frame-level decimation and watermark decisions keyed by partition.
func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	f := &logFixture{env: pipetest.Start(t, schemas.LaneProd), lane: schemas.LaneProd, base: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	var weights []string
	for i, g := range fixtureGlyphs {
		for range i + 1 {
			weights = append(weights, g)
		}
	}
	counts := map[int32]int64{}
	for j := range 400 {
		at := f.base.Add(time.Duration(j) * time.Millisecond)
		ev := schemas.Event{ID: fmt.Sprintf("ev-%03d", j), TS: at.Add(-time.Second), Lane: f.lane, GlyphID: weights[(j*7)%len(weights)], MsgID: fmt.Sprintf("msg-%03d", j)}
		switch j % 10 {
		case 1, 5:
			ev.Kind, ev.Stage, ev.Payload = schemas.EventDriftAlert, "drift", schemas.Payload{"level": "warn", "ema": 0.25}
		case 3:
			ev.Kind, ev.Stage, ev.Payload = schemas.EventLate, "tick", schemas.Payload{"offset": int64(j)}
		case 7:
			ev.Kind, ev.Stage, ev.Payload = schemas.EventGuardianDecision, "guardian", schemas.Payload{"allowed": true}
		case 8:
			ev.Kind, ev.Stage, ev.GlyphID, ev.MsgID = schemas.EventDecimation, "decimate", "", ""
			ev.Payload = schemas.Payload{"partition": int64(j % 6), "records": int64(3)}
		case 9:
			ev.Kind, ev.Stage, ev.GlyphID, ev.MsgID = schemas.EventWatermark, "watermark", "", ""
			ev.Payload = schemas.Payload{"partition": int64(j % 4)}
		default:
			ev.Kind, ev.Stage, ev.Payload = schemas.EventRouting, "route", schemas.Payload{"topic": "memory", "ok": true}
		}
		te := testEvent{Event: ev, At: at}
		p := int32(GlyphPartition(string(te.key()), 6))
		f.events = append(f.events, te)
		f.where = append(f.where, placed{p, counts[p]})
		counts[p]++
	}
	writeEvents(t, f.env, f.lane, f.events)
	return f
}

// ids returns the ids of the fixture's events that keep says, in write
// order, which is timestamp order.
func (f *logFixture) ids(keep func(i int, te testEvent) bool) []string {
	var out []string
	for i, te := range f.events {
		if keep(i, te) {
			out = append(out, te.ID)
		}
	}
	return out
}

// scan runs q (brokers, registry and lane filled in) and returns the ids
// it matched, checking every record against where the fixture wrote it.
func (f *logFixture) scan(t *testing.T, q EventQuery) ([]string, EventScanStats) {
	t.Helper()
	q.Brokers, q.Serde, q.Lane = f.env.Brokers, f.env.Serde, f.lane
	var got []string
	stats, err := ScanEvents(t.Context(), q, func(r EventRecord) error {
		var j int
		if _, err := fmt.Sscanf(r.Event.ID, "ev-%d", &j); err != nil {
			return err
		}
		want := f.events[j]
		if w := f.where[j]; r.Partition != w.partition || r.Offset != w.offset || !r.Time.Equal(want.At) || !reflect.DeepEqual(r.Event, want.Event) {
			return fmt.Errorf("record %s/%d@%d at %v: %+v, want %d@%d at %v: %+v", r.Event.ID, r.Partition, r.Offset, r.Time, r.Event, w.partition, w.offset, want.At, want.Event)
		}
		got = append(got, r.Event.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Matched != int64(len(got)) {
		t.Fatalf("stats say %d matched, fn saw %d", stats.Matched, len(got))
	}
	return got, stats
}

func TestScanEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	f := newLogFixture(t)
	all := func(int, testEvent) bool { return true }

	t.Run("Sink places each key where GlyphPartition says", func(t *testing.T) {
		recs := f.env.ReadAll(t, topics.Name(string(f.lane), topics.KindEvents))
		if len(recs) != len(f.events) {
			t.Fatalf("read %d records, wrote %d", len(recs), len(f.events))
		}
		sizes := map[int32]int{}
		for _, m := range recs {
			var j int
			fmt.Sscanf(pipetest.Header(m, runtime.HeaderOutputID), "ev-%d", &j)
			if w := f.where[j]; m.Partition != w.partition || m.Offset != w.offset {
				t.Fatalf("%s (key %s) at %d@%d, computed %d@%d", f.events[j].ID, m.Key, m.Partition, m.Offset, w.partition, w.offset)
			}
			sizes[m.Partition]++
		}
		if len(sizes) != 6 || sizes[0] == sizes[1] && sizes[1] == sizes[2] {
			t.Fatalf("partition sizes %v: the fixture should fill all 6, unevenly", sizes)
		}
	})

	t.Run("everything, merged in timestamp order", func(t *testing.T) {
		got, stats := f.scan(t, EventQuery{})
		if want := f.ids(all); !slices.Equal(got, want) {
			t.Fatalf("got %d events %v…, want %d in write order", len(got), got[:min(5, len(got))], len(want))
		}
		if stats.Scanned != 400 || stats.Decoded != 400 || stats.Partitions != 6 || stats.Undecodable != 0 {
			t.Fatalf("stats %+v", stats)
		}
	})

	t.Run("since starts each partition at its first record at or after it", func(t *testing.T) {
		// 150.4ms lies inside a millisecond: the first record is the one
		// at 151ms, in whichever partition it is.
		since := f.base.Add(150*time.Millisecond + 400*time.Microsecond)
		got, stats := f.scan(t, EventQuery{Since: since})
		want := f.ids(func(i int, _ testEvent) bool { return i >= 151 })
		if !slices.Equal(got, want) {
			t.Fatalf("got %d events from %v, want %d from ev-151", len(got), got[:1], len(want))
		}
		// Scanned counts what was fetched: exactly the records from the
		// resolved offsets on, so no partition was read from its start.
		if stats.Scanned != int64(len(want)) {
			t.Fatalf("scanned %d records, want %d: a partition did not start at its offset for %v", stats.Scanned, len(want), since)
		}
	})

	t.Run("until stops each partition at its first record past it", func(t *testing.T) {
		got, stats := f.scan(t, EventQuery{Until: f.base.Add(60 * time.Millisecond)})
		want := f.ids(func(i int, _ testEvent) bool { return i <= 60 })
		if !slices.Equal(got, want) || stats.Scanned != 61 {
			t.Fatalf("got %d events (scanned %d), want ev-000..ev-060", len(got), stats.Scanned)
		}
	})

	t.Run("since and until", func(t *testing.T) {
		got, stats := f.scan(t, EventQuery{Since: f.base.Add(200 * time.Millisecond), Until: f.base.Add(209 * time.Millisecond)})
		want := f.ids(func(i int, _ testEvent) bool { return i >= 200 && i <= 209 })
		if !slices.Equal(got, want) || stats.Scanned != 10 {
			t.Fatalf("got %v (scanned %d), want %v", got, stats.Scanned, want)
		}
	})

	t.Run("since past the end reads nothing", func(t *testing.T) {
		got, stats := f.scan(t, EventQuery{Since: f.base.Add(time.Hour)})
		if len(got) != 0 || stats.Scanned != 0 || stats.Partitions != 0 {
			t.Fatalf("got %v, stats %+v", got, stats)
		}
	})

	t.Run("glyph reads its partition only and skips other keys undecoded", func(t *testing.T) {
		g := "g-delta"
		p := int32(GlyphPartition(g, 6))
		got, stats := f.scan(t, EventQuery{Glyph: g})
		want := f.ids(func(_ int, te testEvent) bool { return te.GlyphID == g })
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		inPartition := f.ids(func(i int, _ testEvent) bool { return f.where[i].partition == p })
		if stats.Partitions != 1 || stats.Scanned != int64(len(inPartition)) || stats.Decoded != int64(len(want)) {
			t.Fatalf("stats %+v: want 1 partition, %d scanned, %d decoded", stats, len(inPartition), len(want))
		}
		if len(inPartition) == len(want) {
			t.Fatalf("partition %d holds only %s: the test shows no key skipping", p, g)
		}
	})

	t.Run("kind of a decision from its header", func(t *testing.T) {
		got, stats := f.scan(t, EventQuery{Kinds: []schemas.EventKind{schemas.EventLate}})
		want := f.ids(func(_ int, te testEvent) bool { return te.Kind == schemas.EventLate })
		otherDecisions := f.ids(func(_ int, te testEvent) bool { return isDecision(te.Kind) && te.Kind != schemas.EventLate })
		if !slices.Equal(got, want) || stats.Decoded != 400-int64(len(otherDecisions)) {
			t.Fatalf("got %d late events (want %d), decoded %d (want %d: the other decisions skipped by header)", len(got), len(want), stats.Decoded, 400-len(otherDecisions))
		}
	})

	t.Run("kind from the decoded event", func(t *testing.T) {
		kinds := []schemas.EventKind{schemas.EventDriftAlert, schemas.EventGuardianDecision}
		got, stats := f.scan(t, EventQuery{Kinds: kinds})
		want := f.ids(func(_ int, te testEvent) bool { return slices.Contains(kinds, te.Kind) })
		decisions := f.ids(func(_ int, te testEvent) bool { return isDecision(te.Kind) })
		if !slices.Equal(got, want) || stats.Decoded != 400-int64(len(decisions)) {
			t.Fatalf("got %d events (want %d), decoded %d (want %d)", len(got), len(want), stats.Decoded, 400-len(decisions))
		}
	})

	t.Run("glyph, kind and window together", func(t *testing.T) {
		q := EventQuery{Glyph: "g-theta", Kinds: []schemas.EventKind{schemas.EventRouting}, Since: f.base.Add(100 * time.Millisecond), Until: f.base.Add(300 * time.Millisecond)}
		got, _ := f.scan(t, q)
		want := f.ids(func(i int, te testEvent) bool {
			return te.GlyphID == "g-theta" && te.Kind == schemas.EventRouting && i >= 100 && i <= 300
		})
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("limit keeps the earliest matches", func(t *testing.T) {
		got, stats := f.scan(t, EventQuery{Limit: 7, Kinds: []schemas.EventKind{schemas.EventDriftAlert}})
		want := f.ids(func(_ int, te testEvent) bool { return te.Kind == schemas.EventDriftAlert })[:7]
		if !slices.Equal(got, want) || stats.Matched != 7 {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("the callback stops the scan", func(t *testing.T) {
		n := 0
		stats, err := ScanEvents(t.Context(), EventQuery{Brokers: f.env.Brokers, Serde: f.env.Serde, Lane: f.lane}, func(EventRecord) error {
			if n++; n == 3 {
				return ErrStopScan
			}
			return nil
		})
		if err != nil || n != 3 || stats.Matched != 2 {
			t.Fatalf("err %v after %d calls, %d matched", err, n, stats.Matched)
		}
		boom := errors.New("boom")
		_, err = ScanEvents(t.Context(), EventQuery{Brokers: f.env.Brokers, Serde: f.env.Serde, Lane: f.lane}, func(EventRecord) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want the callback's", err)
		}
	})
	t.Run("a replay namespace, with records that do not decode", func(t *testing.T) {
		topic := topics.ReplayName(string(f.lane), "r1", topics.KindEvents)
		admin, err := topics.NewAdmin(f.env.Brokers)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Ensure(t.Context(), []topics.Spec{{Name: topic, Partitions: 1, ReplicationFactor: topics.ReplicationByCluster,
			Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete}}}, false); err != nil {
			t.Fatal(err)
		}
		id, err := f.env.Serde.ID(serde.ValueSubject(topics.Name(string(f.lane), topics.KindEvents)))
		if err != nil {
			t.Fatal(err)
		}
		good := f.events[0].record(t, id)
		notAvro := topics.Message{Key: []byte("g-alpha"), Value: []byte("not the wire format"), Time: f.base}
		unknownID := topics.Message{Key: []byte("g-alpha"), Value: schemas.AppendWireHeader(nil, 999_999), Time: f.base}
		f.env.Write(t, topic, []topics.Message{good, notAvro, good, unknownID})
		var got []string
		stats, err := ScanEvents(t.Context(), EventQuery{Brokers: f.env.Brokers, Serde: f.env.Serde, Lane: f.lane, Replay: "r1"}, func(r EventRecord) error {
			got = append(got, fmt.Sprintf("%s@%d", r.Event.ID, r.Offset))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"ev-000@0", "ev-000@2"}) || stats.Undecodable != 2 || stats.Topic != topic {
			t.Fatalf("got %v, stats %+v", got, stats)
		}
		if !errors.Is(stats.FirstUndecodable, schemas.ErrMagic) || !strings.Contains(stats.FirstUndecodable.Error(), "partition 0 offset 1") {
			t.Fatalf("first undecodable %v, want the wire error at partition 0 offset 1", stats.FirstUndecodable)
		}
	})

	t.Run("a topic that does not exist says how to make it", func(t *testing.T) {
		_, err := ScanEvents(t.Context(), EventQuery{Brokers: f.env.Brokers, Serde: f.env.Serde, Lane: f.lane, Replay: "never-ran"}, func(EventRecord) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "matriz.prod.replay.never-ran.events") || !strings.Contains(err.Error(), "matriz deploy") {
			t.Fatalf("err %v", err)
		}
	})
}

// TestScanEventsRefusesBadQueries: a query that cannot run fails before
// any connection, naming the field; an unreachable broker is named with
// what to do.
func TestScanEventsRefusesBadQueries(t *testing.T) {
	ok := EventQuery{Brokers: []string{"127.0.0.1:1"}, RegistryURL: "http://127.0.0.1:1", Lane: schemas.LaneProd}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for field, q := range map[string]EventQuery{
		"lane":     func() EventQuery { q := ok; q.Lane = "staging"; return q }(),
		"brokers":  func() EventQuery { q := ok; q.Brokers = nil; return q }(),
		"registry": func() EventQuery { q := ok; q.RegistryURL = ""; return q }(),
		"limit":    func() EventQuery { q := ok; q.Limit = -1; return q }(),
		"until":    func() EventQuery { q := ok; q.Since, q.Until = now, now.Add(-time.Second); return q }(),
		"kinds":    func() EventQuery { q := ok; q.Kinds = []schemas.EventKind{"lat"}; return q }(),
		"replay":   func() EventQuery { q := ok; q.Replay = "a.b"; return q }(),
	} {
		_, err := ScanEvents(t.Context(), q, func(EventRecord) error { return nil })
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != field || !errors.Is(err, ErrBadQuery) {
			t.Errorf("%s: err %v, want a QueryError on %s", field, err, field)
		}
	}
	env := pipetest.Start(t, schemas.LaneProd)
	q := ok
	q.RegistryURL = env.RegistryURL
	_, err := ScanEvents(t.Context(), q, func(EventRecord) error { return nil })
	var ue *topics.BrokerUnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--brokers") {
		t.Fatalf("err %v, want the broker named unreachable", err)
	}
}

func TestParseTimeBound(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-03-01T09:00:00Z":        now.Add(-time.Hour),
		"2026-03-01T11:00:00.5+02:00": now.Add(-time.Hour + 500*time.Millisecond),
		"15m":                         now.Add(-15 * time.Minute),
		"1h30m":                       now.Add(-90 * time.Minute),
		"0s":                          now,
	} {
		got, err := ParseTimeBound(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "2026-03-01", "-5m", "2026-03-01 09:00:00"} {
		if _, err := ParseTimeBound(in, now); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestParseEventKinds(t *testing.T) {
	got, err := ParseEventKinds("late, decimation,late,")
	if err != nil || !slices.Equal(got, []schemas.EventKind{schemas.EventLate, schemas.EventDecimation}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseEventKinds("late,lat"); err == nil || !strings.Contains(err.Error(), "fps_change") {
		t.Fatalf("err %v, want one listing the kinds", err)
	}
}

// TestEventRecordFormats: the text line has the fields in order with "-"
// for empty ones and the payload as sorted compact JSON; the JSON line
// parses back to the record, non-finite numbers as strings.
func TestEventRecordFormats(t *testing.T) {
	r := EventRecord{Partition: 2, Offset: 41, Time: time.Date(2026, 3, 1, 10, 0, 0, 7e6, time.UTC), Key: []byte("partition:2"),
		Headers: []topics.Header{{Key: runtime.HeaderDecision, Value: []byte("decimation")}},
		Event: schemas.Event{ID: "ev-1", TS: time.Date(2026, 3, 1, 9, 59, 59, 123456e3, time.UTC), Kind: schemas.EventDecimation, Lane: schemas.LaneProd,
			Stage: "decimate", Payload: schemas.Payload{"records": int64(3), "ratio": math.NaN(), "v": []float64{1, math.Inf(1)}, "tags": []string{"a"}}}}
	text := string(r.AppendText(nil))
	if want := `2026-03-01T09:59:59.123456Z  decimation        -  decimate  -  {"ratio":"NaN","records":3,"tags":["a"],"v":[1,"+Inf"]}` + "\n"; text != want {
		t.Fatalf("text\n%q\nwant\n%q", text, want)
	}
	var back map[string]any
	line := r.AppendJSON(nil)
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	want := map[string]any{"partition": 2.0, "offset": 41.0, "timestamp": "2026-03-01T10:00:00.007Z", "key": "partition:2",
		"headers": map[string]any{runtime.HeaderDecision: "decimation"}, "id": "ev-1", "ts": "2026-03-01T09:59:59.123456Z",
		"kind": "decimation", "lane": "prod", "glyph_id": "", "msg_id": "", "stage": "decimate",
		"payload": map[string]any{"records": 3.0, "ratio": "NaN", "v": []any{1.0, "+Inf"}, "tags": []any{"a"}}}
	if !reflect.DeepEqual(back, want) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("json %s\nparsed %v\nwant   %v", line, back, want)
	}
}

// TestChunkingBoundsReadAhead: the records the readers may hold ahead of
// the merge (queued chunks and the one being filled) stay within twice
// scanInFlight until chunks reach their 64-record floor (past ~170
// partitions), and a few partitions get full chunks.
func TestChunkingBoundsReadAhead(t *testing.T) {
	for p := 1; p <= topics.MaxLanePartitions; p++ {
		size, depth := chunking(p)
		if held := p * (depth + 1) * size; held > 2*scanInFlight && size > minChunk {
			t.Fatalf("%d partitions: chunks of %d, %d deep: %d records held", p, size, depth, held)
		}
		if p <= 8 && size != maxChunk {
			t.Fatalf("%d partitions: chunks of %d, want %d", p, size, maxChunk)
		}
	}
}
