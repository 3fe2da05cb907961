package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeLog is an in-memory Log with what the registry relies on from Kafka:
// order, durability across a restart (reopen) and compaction (compact). A
// test can make appends fail after a number of them, or reads fail.
type fakeLog struct {
	d      *logData
	mu     sync.Mutex
	closed int // Close calls
}

// logData is what survives a restart: the records and the faults.
type logData struct {
	mu        sync.Mutex
	recs      []Record
	offs      []int64 // each record's offset; compaction leaves gaps
	appends   int     // successful appends
	failAfter int     // appends that succeed before every later one fails; -1: none fails
	readErr   error   // ReadAll fails with it when set
}

var errLogDown = errors.New("injected: log unreachable")

func newFakeLog() *fakeLog { return &fakeLog{d: &logData{failAfter: -1}} }

// reopen returns a new handle on the same records, as a log opened again
// after the registry and its broker restarted.
func (l *fakeLog) reopen() *fakeLog { return &fakeLog{d: l.d} }

// failAppendsAfter makes every append after the next n fail.
func (l *fakeLog) failAppendsAfter(n int) {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	l.d.failAfter = l.d.appends + n
}

// heal makes appends succeed again.
func (l *fakeLog) heal() {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	l.d.failAfter = -1
}

func (l *fakeLog) ReadFrom(ctx context.Context, from int64, fn func(offset int64, key, value []byte) error) (int64, error) {
	l.d.mu.Lock()
	recs, offs, readErr, end := append([]Record(nil), l.d.recs...), append([]int64(nil), l.d.offs...), l.d.readErr, int64(l.d.appends)
	l.d.mu.Unlock()
	if readErr != nil {
		return from, readErr
	}
	for i, r := range recs {
		if offs[i] < from {
			continue
		}
		if err := fn(offs[i], clone(r.Key), clone(r.Value)); err != nil {
			return from, err
		}
	}
	return end, nil
}

func (l *fakeLog) Append(_ context.Context, key, value []byte) error {
	l.mu.Lock()
	closed := l.closed > 0
	l.mu.Unlock()
	if closed {
		return errors.New("fake log: append after Close")
	}
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	if l.d.failAfter >= 0 && l.d.appends >= l.d.failAfter {
		return errLogDown
	}
	l.d.offs = append(l.d.offs, int64(l.d.appends))
	l.d.appends++
	l.d.recs = append(l.d.recs, Record{Key: clone(key), Value: clone(value)})
	return nil
}

func (l *fakeLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed++
	return nil
}

func (l *fakeLog) closeCalls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *fakeLog) records() []Record {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	return append([]Record(nil), l.d.recs...)
}

// compact does what Kafka's cleaner does to a whole log with
// delete.retention.ms=0: it keeps only the latest record of each key, in
// log order, and drops tombstones.
func (l *fakeLog) compact() {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	latest := map[string]int{}
	for i, r := range l.d.recs {
		latest[string(r.Key)] = i
	}
	var kept []Record
	var offs []int64
	for i, r := range l.d.recs {
		if latest[string(r.Key)] == i && r.Value != nil {
			kept = append(kept, r)
			offs = append(offs, l.d.offs[i])
		}
	}
	l.d.recs, l.d.offs = kept, offs
}

func logRegistry(t *testing.T, log Log) (*harness, *LogStore) {
	t.Helper()
	store, err := NewLogStore(log)
	if err != nil {
		t.Fatalf("NewLogStore: %v", err)
	}
	return newHarness(t, store), store
}

// snapshot is everything a client can see of a registry's state.
type snapshot struct {
	Subjects []string
	Versions map[string][]subjectSchema // with soft-deleted versions
	Live     map[string][]int
	Levels   map[string]string
	Global   string
}

func takeSnapshot(h *harness) snapshot {
	h.t.Helper()
	s := snapshot{Versions: map[string][]subjectSchema{}, Live: map[string][]int{}, Levels: map[string]string{}}
	h.ok("GET", "/subjects?deleted=true", nil, &s.Subjects)
	for _, sub := range s.Subjects {
		var vs []int
		h.ok("GET", "/subjects/"+sub+"/versions?deleted=true", nil, &vs)
		for _, v := range vs {
			var ss subjectSchema
			h.ok("GET", "/subjects/"+sub+"/versions/"+strconv.Itoa(v)+"?deleted=true", nil, &ss)
			s.Versions[sub] = append(s.Versions[sub], ss)
		}
		if w := h.do("GET", "/subjects/"+sub+"/versions", nil); w.Code == 200 {
			var live []int
			h.ok("GET", "/subjects/"+sub+"/versions", nil, &live)
			s.Live[sub] = live
		}
		var lvl levelBody
		if w := h.do("GET", "/config/"+sub, nil); w.Code == 200 {
			h.ok("GET", "/config/"+sub, nil, &lvl)
			s.Levels[sub] = string(lvl.Level)
		}
	}
	var g levelBody
	h.ok("GET", "/config", nil, &g)
	s.Global = string(g.Level)
	return s
}

func TestLogStoreRegistrySurvivesRestart(t *testing.T) {
	log := newFakeLog()
	h, _ := logRegistry(t, log)

	ids := map[string]int{}
	ids["glyph v1"] = h.register("matriz.glyph-value", schemaV1)
	ids["glyph v2"] = h.register("matriz.glyph-value", schemaV2)
	ids["shared"] = h.register("matriz.event-value", schemaV2) // same id as glyph v2
	ids["event v2"] = h.register("matriz.event-value", rec(fID, fNote2))
	ids["key"] = h.register("matriz.glyph-key", `"string"`)
	ids["doomed"] = h.register("doomed", rec(fID, fCountLong))
	if ids["shared"] != ids["glyph v2"] {
		t.Fatalf("same schema under two subjects: ids %d and %d", ids["shared"], ids["glyph v2"])
	}
	h.ok("PUT", "/config", map[string]string{"compatibility": "FULL"}, nil)
	h.ok("PUT", "/config/matriz.glyph-key", map[string]string{"compatibility": "NONE"}, nil)
	h.ok("DELETE", "/subjects/matriz.event-value/versions/1", nil, nil)
	h.ok("DELETE", "/subjects/doomed", nil, nil)
	h.ok("DELETE", "/subjects/doomed?permanent=true", nil, nil)
	before := takeSnapshot(h)
	if len(before.Subjects) != 3 || len(before.Versions["matriz.event-value"]) != 2 || before.Levels["matriz.glyph-key"] != "NONE" || before.Global != "FULL" {
		t.Fatalf("state before restart is not what the test set up: %+v", before)
	}

	// Stop the registry; start it again over the same records.
	if err := h.reg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := log.closeCalls(); n != 1 {
		t.Fatalf("closing the registry closed the log %d times, want 1", n)
	}
	h2, _ := logRegistry(t, log.reopen())

	after := takeSnapshot(h2)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed across the restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// Lookups by id and the id counter come back too.
	var s struct{ Schema string }
	h2.ok("GET", "/schemas/ids/"+strconv.Itoa(ids["glyph v1"]), nil, &s)
	if s.Schema != schemaV1 {
		t.Fatalf("schema %d after restart = %q", ids["glyph v1"], s.Schema)
	}
	if id := h2.register("matriz.glyph-value", schemaV2); id != ids["glyph v2"] {
		t.Fatalf("re-registering after restart: id %d, want %d", id, ids["glyph v2"])
	}
	if id := h2.register("fresh", `"bytes"`); id <= ids["doomed"] {
		t.Fatalf("new id after restart = %d, want above %d (the permanently deleted one)", id, ids["doomed"])
	}
}

func TestLogStoreIDsSurviveCompaction(t *testing.T) {
	log := newFakeLog()
	h, _ := logRegistry(t, log)
	h.register("a", schemaV1)
	top := h.register("b", schemaV2)
	h.ok("DELETE", "/subjects/b", nil, nil)
	h.ok("DELETE", "/subjects/b?permanent=true", nil, nil)
	_ = h.reg.Close()
	log.compact()

	h2, store := logRegistry(t, log.reopen())
	recs, _, err := store.ReadFrom(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	recs = withoutClaims(recs)
	if len(recs) != 2 {
		t.Fatalf("compacted log holds %d records, want 2 (a's schema and MAX_ID)", len(recs))
	}
	for _, r := range recs {
		if strings.Contains(string(r.Key), `"subject":"b"`) {
			t.Fatalf("compaction left a record of subject b: %s = %s; the test shows nothing", r.Key, r.Value)
		}
	}
	if id := h2.register("c", `"int"`); id <= top {
		t.Fatalf("id after compaction = %d, want above %d", id, top)
	}
}

func TestLogStoreWriteFailureIs50001(t *testing.T) {
	log := newFakeLog()
	h, _ := logRegistry(t, log)
	h.register("s", schemaV1)
	log.failAppendsAfter(0)
	msg := h.fail("POST", "/subjects/s/versions", map[string]string{"schema": schemaV2}, CodeStorage)
	if !strings.Contains(msg, errLogDown.Error()) || !strings.Contains(msg, "nothing was changed") {
		t.Fatalf("50001 message %q does not carry the cause", msg)
	}
	var versions []int
	h.ok("GET", "/subjects/s/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1}) {
		t.Fatalf("versions after a failed write = %v, want [1]", versions)
	}
}

// TestLogStorePartialWriteTakesEffectAsStored fails a soft delete of three
// versions after its first record: the registry shows what the log holds,
// a restart shows the same, and retrying finishes the delete.
func TestLogStorePartialWriteTakesEffectAsStored(t *testing.T) {
	log := newFakeLog()
	h, _ := logRegistry(t, log)
	for v := range 3 {
		h.register("s", glyphVersion(v))
	}
	log.failAppendsAfter(1)
	msg := h.fail("DELETE", "/subjects/s", nil, CodeStorage)
	if !strings.Contains(msg, "after 1 of its 3 records") || !strings.Contains(msg, errLogDown.Error()) {
		t.Fatalf("50001 message %q does not say how far the write got", msg)
	}
	var live []int
	h.ok("GET", "/subjects/s/versions", nil, &live)
	if !reflect.DeepEqual(live, []int{2, 3}) {
		t.Fatalf("live versions after a partial delete = %v, want [2 3]", live)
	}
	before := takeSnapshot(h)
	_ = h.reg.Close()

	log.heal()
	h2, _ := logRegistry(t, log.reopen())
	if after := takeSnapshot(h2); !reflect.DeepEqual(before, after) {
		t.Fatalf("the registry showed what the log does not hold:\nbefore %+v\nafter  %+v", before, after)
	}
	var deleted []int
	h2.ok("DELETE", "/subjects/s", nil, &deleted)
	if !reflect.DeepEqual(deleted, []int{2, 3}) {
		t.Fatalf("retried delete removed %v, want [2 3]", deleted)
	}
	h2.fail("GET", "/subjects/s/versions", nil, CodeSubjectNotFound)
}

func TestLogStoreAppendsInOrderAndKeepsTombstones(t *testing.T) {
	log := newFakeLog()
	store, err := NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := []Record{
		schemaRecord(schemaRecordValue{Subject: "s", Version: 1, ID: 1, Schema: `"int"`}),
		maxIDRecord(1),
		schemaTombstone("s", 1),
	}
	if err := store.Append(ctx, want...); err != nil {
		t.Fatal(err)
	}
	got, _, err := store.ReadFrom(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(log.records(), want) {
		t.Fatalf("Load = %q\nlog holds %q\nwant %q", got, log.records(), want)
	}
	if got[2].Value != nil {
		t.Fatalf("tombstone loaded as %q, want nil", got[2].Value)
	}

	log.failAppendsAfter(1)
	err = store.Append(ctx, maxIDRecord(2), maxIDRecord(3), maxIDRecord(4))
	if !errors.Is(err, errLogDown) || !strings.Contains(err.Error(), "record 2 of 3") {
		t.Fatalf("Append failing at the second record: err = %v", err)
	}
	if recs := log.records(); len(recs) != 4 || !bytes.Equal(recs[3].Value, maxIDRecord(2).Value) {
		t.Fatalf("log after a partial append holds %q, want the first record of it last", recs)
	}
}

func TestLogStoreCloseClosesTheLogOnce(t *testing.T) {
	log := newFakeLog()
	store, err := NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := log.closeCalls(); n != 1 {
		t.Fatalf("log closed %d times, want 1", n)
	}
	if err := store.Append(context.Background(), Record{Key: []byte("k")}); !errors.Is(err, errStoreClosed) {
		t.Fatalf("Append after Close: err = %v, want the store-closed error", err)
	}
	if len(log.records()) != 0 {
		t.Fatal("Append after Close reached the log")
	}
}

func TestNewLogStoreRefusesNilAndReportsReadFailures(t *testing.T) {
	if _, err := NewLogStore(nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("nil log: err = %v, want ErrConfig", err)
	}
	log := newFakeLog()
	log.d.readErr = errLogDown
	store, err := NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(store)
	if !errors.Is(err, ErrStorage) || !errors.Is(err, errLogDown) {
		t.Fatalf("New over an unreadable log: err = %v, want ErrStorage wrapping the cause", err)
	}
}

// BenchmarkLogStoreStartup measures a registry start over a log holding
// 1000 records (100 subjects × 10 versions): read the log, decode and
// replay every record. The Kafka half of a start (connect, read the topic)
// is measured in topics (BenchmarkCompactedLogOpenAndReadAll).
func BenchmarkLogStoreStartup(b *testing.B) {
	log := newFakeLog()
	for s := range 100 {
		for v := range 10 {
			r := schemaRecord(schemaRecordValue{Subject: fmt.Sprintf("s%d", s), Version: v + 1, ID: v + 1, Schema: glyphVersion(v)})
			if err := log.Append(context.Background(), r.Key, r.Value); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := NewLogStore(log.reopen())
		if err != nil {
			b.Fatal(err)
		}
		reg, err := New(st)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(reg.subjects(false, false, "")); got != 100 {
			b.Fatalf("%d subjects", got)
		}
		reg.Close()
	}
}

// withoutClaims drops the writer claims from recs.
func withoutClaims(recs []Record) []Record {
	var out []Record
	for _, r := range recs {
		if !strings.Contains(string(r.Key), keyTypeWriter) {
			out = append(out, r)
		}
	}
	return out
}
