package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
)

// instance starts a registry named name over a store shared with others,
// as a second process on the same topic would.
func instance(t *testing.T, store Store, name string, opts ...Option) *harness {
	t.Helper()
	return newHarness(t, sharedStore{store}, append([]Option{WithInstance(name), WithDefaultLevel(LevelNone)}, opts...)...)
}

// sharedStore lets several registries use one store: each Close leaves
// it open for the others.
type sharedStore struct{ Store }

func (sharedStore) Close() error { return nil }

func (h *harness) sync() {
	h.t.Helper()
	if err := h.reg.Sync(context.Background()); err != nil {
		h.t.Fatalf("Sync: %v", err)
	}
}

// schemaByID returns the schema text the registry serves for id.
func (h *harness) schemaByID(id int) string {
	h.t.Helper()
	var out struct{ Schema string }
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d", id), nil, &out)
	return out.Schema
}

// TestFollowerServesWhatTheWriterRegistered: a second instance follows the
// store; what the first registers is served by the second once it caught
// up, by its own follow loop.
func TestFollowerServesWhatTheWriterRegistered(t *testing.T) {
	store := NewMemoryStore()
	a := instance(t, store, "a")
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	b := instance(t, store, "b", WithReadOnly(), WithClock(clk), WithFollowInterval(time.Second))
	id := a.register("s", `"int"`)
	b.fail("GET", fmt.Sprintf("/schemas/ids/%d", id), nil, CodeSchemaNotFound) // not caught up yet
	clk.Advance(time.Second)
	clocktest.WaitFor(t, 5*time.Second, "b serves the schema a registered", func() bool {
		return b.do("GET", fmt.Sprintf("/schemas/ids/%d", id), nil).Code == http.StatusOK
	})
	if got := b.schemaByID(id); got != `"int"` {
		t.Fatalf("b serves %q for id %d", got, id)
	}
	var versions []int
	b.ok("GET", "/subjects/s/versions", nil, &versions)
	if len(versions) != 1 {
		t.Fatalf("b's versions of s: %v", versions)
	}
}

// TestReadOnlyInstanceRefusesWrites: while a is the writer, b refuses every
// write with 503 and a message naming a; its reads keep working.
func TestReadOnlyInstanceRefusesWrites(t *testing.T) {
	store := NewMemoryStore()
	a := instance(t, store, "writer-a")
	b := instance(t, store, "b", WithReadOnly())
	a.register("s", `"int"`)
	b.sync()
	for _, w := range []struct{ method, path, body string }{
		{"POST", "/subjects/s/versions", `{"schema":"\"long\""}`},
		{"PUT", "/config", `{"compatibility":"FULL"}`},
		{"PUT", "/config/s", `{"compatibility":"FULL"}`},
		{"DELETE", "/subjects/s/versions/1", ""},
		{"DELETE", "/subjects/s", ""},
		{"DELETE", "/config/s", ""},
	} {
		var body any
		if w.body != "" {
			body = w.body
		}
		msg := b.fail(w.method, w.path, body, CodeNotWriter)
		if !strings.Contains(msg, "writer-a") {
			t.Errorf("%s %s: message %q does not name the writer", w.method, w.path, msg)
		}
	}
	if b.schemaByID(1) != `"int"` {
		t.Fatal("b's reads stopped")
	}
	if id := a.register("s2", `"long"`); id != 2 {
		t.Fatalf("a's next id = %d, want 2", id)
	}
}

// TestNewerClaimFencesTheOlderWriter: an instance started as a writer
// claims the store; the one it displaced refuses writes from then on,
// naming the new writer, and ids continue without reuse.
func TestNewerClaimFencesTheOlderWriter(t *testing.T) {
	store := NewMemoryStore()
	a := instance(t, store, "a")
	idA := a.register("s", `"int"`)
	c := instance(t, store, "c")
	msg := a.fail("POST", "/subjects/t/versions", map[string]string{"schema": `"long"`}, CodeNotWriter)
	if !strings.Contains(msg, `"c"`) {
		t.Errorf("message %q does not name c", msg)
	}
	idC := c.register("t", `"long"`)
	if idC == idA {
		t.Fatalf("c reused id %d", idA)
	}
	a.sync()
	if a.schemaByID(idC) != `"long"` {
		t.Fatal("a does not serve c's schema")
	}
}

// TestWriteInterleavedWithATakeoverTakesNoEffect: a writes a registration
// after c claimed the store and registered under the same id (a had caught
// up just before c's claim). a's record is in the store but fenced: a's
// client gets 503, and every instance, a restarted one too, serves c's
// schema for the id.
func TestWriteInterleavedWithATakeoverTakesNoEffect(t *testing.T) {
	mem := NewMemoryStore()
	hook := &hookStore{Store: mem}
	a := instance(t, hook, "a")
	var c *harness
	hook.beforeAppend = func(recs []Record) {
		if c != nil || !strings.Contains(string(recs[0].Key), keyTypeSchema) {
			return
		}
		c = instance(t, mem, "c")
		if id := c.register("t", `"string"`); id != 1 {
			t.Errorf("c's id = %d, want 1", id)
		}
	}
	msg := a.fail("POST", "/subjects/s/versions", map[string]string{"schema": `"int"`}, CodeNotWriter)
	if !strings.Contains(msg, "did not take effect") {
		t.Errorf("message %q does not say the change did not take effect", msg)
	}
	if got := a.schemaByID(1); got != `"string"` {
		t.Fatalf("a serves %q for id 1, want c's", got)
	}
	a.fail("GET", "/subjects/s/versions", nil, CodeSubjectNotFound)
	fresh := instance(t, mem, "fresh", WithReadOnly())
	if got := fresh.schemaByID(1); got != `"string"` {
		t.Fatalf("a restarted instance serves %q for id 1, want c's", got)
	}
	checkNoDuplicateIDs(t, mem)
}

// yieldingStore lets other goroutines run around every store call, as a
// store over the network would, so writes of several instances interleave.
type yieldingStore struct{ Store }

func (y yieldingStore) ReadFrom(ctx context.Context, from int64) ([]Record, int64, error) {
	runtime.Gosched()
	defer runtime.Gosched()
	return y.Store.ReadFrom(ctx, from)
}

func (y yieldingStore) Append(ctx context.Context, recs ...Record) error {
	runtime.Gosched()
	defer runtime.Gosched()
	return y.Store.Append(ctx, recs...)
}

// hookStore runs beforeAppend before each Append and afterAppend after.
type hookStore struct {
	Store
	beforeAppend, afterAppend func([]Record)
}

func (h *hookStore) Append(ctx context.Context, recs ...Record) error {
	if h.beforeAppend != nil {
		h.beforeAppend(recs)
	}
	err := h.Store.Append(ctx, recs...)
	if h.afterAppend != nil {
		h.afterAppend(recs)
	}
	return err
}

// TestFencedWriteIsReportedWhenTheFollowLoopReadItFirst: the follow loop
// may read a's fenced record back before the write itself does; a's
// client still hears that the change did not take effect.
func TestFencedWriteIsReportedWhenTheFollowLoopReadItFirst(t *testing.T) {
	mem := NewMemoryStore()
	hook := &hookStore{Store: mem}
	a := instance(t, hook, "a")
	var c *harness
	hook.beforeAppend = func(recs []Record) {
		if c == nil && strings.Contains(string(recs[0].Key), keyTypeSchema) {
			c = instance(t, mem, "c")
			c.register("t", `"string"`)
		}
	}
	hook.afterAppend = func(recs []Record) {
		if strings.Contains(string(recs[0].Key), keyTypeSchema) {
			if _, err := a.reg.catchUp(context.Background()); err != nil { // what a's follow loop does meanwhile
				t.Error(err)
			}
		}
	}
	a.fail("POST", "/subjects/s/versions", map[string]string{"schema": `"int"`}, CodeNotWriter)
	if got := a.schemaByID(1); got != `"string"` {
		t.Fatalf("a serves %q for id 1, want c's", got)
	}
}

// TestConcurrentWritersNeverShareAnID: registrations sent to three
// instances at once, while they take the store over from each other, never
// give one id to two schemas, and every id a client was told still maps to
// that client's schema after a restart.
func TestConcurrentWritersNeverShareAnID(t *testing.T) {
	mem := yieldingStore{NewMemoryStore()}
	type told struct {
		id     int
		schema string
	}
	var (
		mu sync.Mutex
		// Follow loops run all the time, reading writes back alongside
		// the writes' own read-backs.
		fast  = WithFollowInterval(time.Millisecond)
		insts = []*harness{instance(t, mem, "i0", fast), instance(t, mem, "i1", fast), instance(t, mem, "i2", fast)}
		oks   []told
		wg    sync.WaitGroup
	)
	pick := func(n int) *harness {
		mu.Lock()
		defer mu.Unlock()
		return insts[n%len(insts)]
	}
	// Each writer goes on past its 40 until it has written once to every
	// instance after the last takeover, so some write lands on the last
	// instance, which nothing fences: on a fast run all 40 could
	// otherwise fall while the instances take each other over, and the
	// test would check nothing.
	const takeovers = 8
	takenOver := make(chan struct{})
	settled := func() bool {
		select {
		case <-takenOver:
			return true
		default:
			return false
		}
	}
	for g := range 6 {
		wg.Go(func() {
			after := 0 // writes since the last takeover
			for i := 0; i < 999 && (i < 40 || after < 3+takeovers); i++ {
				if settled() {
					after++
				}
				schema := fixedSchema(g*1000 + i + 1)
				body, _ := json.Marshal(map[string]string{"schema": schema})
				w := pick(g+i).do("POST", fmt.Sprintf("/subjects/s%d/versions", i%5), string(body))
				if w.Code == http.StatusOK {
					var out struct{ ID int }
					if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					oks = append(oks, told{out.ID, schema})
					mu.Unlock()
				} else if w.Code != http.StatusServiceUnavailable {
					t.Errorf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
	// Take the store over a few times while the writes run.
	for i := range takeovers {
		late := instance(t, mem, fmt.Sprintf("late%d", i), fast)
		mu.Lock()
		insts = append(insts, late)
		mu.Unlock()
	}
	close(takenOver)
	wg.Wait()
	if len(oks) == 0 {
		t.Fatal("no registration succeeded")
	}
	checkNoDuplicateIDs(t, mem)
	fresh := instance(t, mem, "fresh", WithReadOnly())
	for _, o := range oks {
		if got := fresh.schemaByID(o.id); got != o.schema {
			t.Fatalf("id %d: a client was told it is %s, after a restart it is %s", o.id, o.schema, got)
		}
	}
	t.Logf("%d registrations succeeded, %d records in the store", len(oks), len(mustRead(t, mem)))
}

func mustRead(t *testing.T, s Store) []Record {
	t.Helper()
	recs, _, err := s.ReadFrom(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// checkNoDuplicateIDs replays the store's records with the fencing rules
// and fails when two accepted registrations give one id to two schemas.
func checkNoDuplicateIDs(t *testing.T, s Store) {
	t.Helper()
	st := newState()
	texts := map[int]string{}
	fenced := 0
	for i, rec := range mustRead(t, s) {
		accepted, err := st.apply(rec)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !accepted {
			fenced++
			continue
		}
		var k anyRecordKey
		_ = json.Unmarshal(rec.Key, &k)
		if k.KeyType != keyTypeSchema || len(rec.Value) == 0 {
			continue
		}
		var v schemaRecordValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			t.Fatal(err)
		}
		if old, ok := texts[v.ID]; ok && old != v.Schema {
			t.Fatalf("id %d is %s and %s in accepted records", v.ID, old, v.Schema)
		}
		texts[v.ID] = v.Schema
	}
	t.Logf("%d ids, %d fenced records", len(texts), fenced)
}

// TestFencedRecordDoesNotShadowAfterCompaction: a fenced writer's record
// stored after a valid one with the same key would be the one compaction
// keeps; the writer stores the valid state again after it, so a registry
// started over the compacted log still serves the valid version.
func TestFencedRecordDoesNotShadowAfterCompaction(t *testing.T) {
	log := newFakeLog()
	logStore, err := NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	hook := &hookStore{Store: logStore}
	a := instance(t, hook, "a")
	var c *harness
	hook.beforeAppend = func(recs []Record) {
		if c != nil || !strings.Contains(string(recs[0].Key), keyTypeSchema) {
			return
		}
		c = instance(t, logStore, "c", WithFollowInterval(0))
		c.register("s", `"string"`) // s version 1, the same key a is about to write
	}
	a.fail("POST", "/subjects/s/versions", map[string]string{"schema": `"int"`}, CodeNotWriter)
	c.sync() // c sees a's fenced record and stores s/1 again after it
	log.compact()
	fresh := instance(t, sharedStore{mustLogStore(t, log.reopen())}, "fresh", WithReadOnly())
	var v subjectSchema
	fresh.ok("GET", "/subjects/s/versions/1", nil, &v)
	if v.Schema != `"string"` || v.ID != 1 {
		t.Fatalf("after compaction s/1 is %+v, want c's \"string\" under id 1", v)
	}
}

func mustLogStore(t *testing.T, log Log) *LogStore {
	t.Helper()
	s, err := NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blockingStore's reads after the first hang until their context ends, as
// reads from an unreachable broker do.
type blockingStore struct {
	Store
	reads   chan struct{}
	started bool
}

func (b *blockingStore) ReadFrom(ctx context.Context, from int64) ([]Record, int64, error) {
	if !b.started {
		b.started = true
		return b.Store.ReadFrom(ctx, from)
	}
	b.reads <- struct{}{}
	<-ctx.Done()
	return nil, from, ctx.Err()
}

// TestCloseDoesNotWaitOnAHungRead: Close ends the follow loop's read in
// progress instead of waiting out its timeout.
func TestCloseDoesNotWaitOnAHungRead(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	bs := &blockingStore{Store: NewMemoryStore(), reads: make(chan struct{}, 1)}
	reg, err := New(bs, WithReadOnly(), WithClock(clk), WithFollowInterval(time.Second), WithWriteTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	<-bs.reads // the loop is in its read
	closed := make(chan error, 1)
	go func() { closed <- reg.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited on the follow loop's hung read")
	}
}

func TestFollowOptionsAreChecked(t *testing.T) {
	for name, opt := range map[string]Option{
		"nil clock":       WithClock(nil),
		"negative follow": WithFollowInterval(-time.Second),
	} {
		if _, err := New(NewMemoryStore(), opt); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}
