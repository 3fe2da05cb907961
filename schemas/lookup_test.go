package schemas

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// countingFetcher wraps a FetchFunc and counts its calls per id.
type countingFetcher struct {
	mu    sync.Mutex
	calls map[uint32]int
	next  FetchFunc
}

func (c *countingFetcher) fetch(ctx context.Context, id uint32) (string, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[uint32]int{}
	}
	c.calls[id]++
	c.mu.Unlock()
	return c.next(ctx, id)
}

func (c *countingFetcher) count(id uint32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func ownTexts(t testing.TB) map[uint32]string {
	t.Helper()
	texts := map[uint32]string{}
	for i, n := range Names {
		text, err := Text(n)
		if err != nil {
			t.Fatal(err)
		}
		texts[uint32(i+1)] = text
	}
	// The older versions, at ids 10 + the latest's id.
	for i, n := range Names {
		for _, v := range Versions(n) {
			if v == LatestVersion(n) {
				continue
			}
			text, err := TextOf(n, v)
			if err != nil {
				t.Fatal(err)
			}
			texts[uint32(10+i+1)] = text
		}
	}
	return texts
}

// ownID returns the id ownTexts gives version v of name.
func ownID(name Name, v Version) uint32 {
	for i, n := range Names {
		if n == name {
			if v == LatestVersion(n) || v == Latest {
				return uint32(i + 1)
			}
			return uint32(10 + i + 1)
		}
	}
	panic("ownID: unknown schema " + string(name))
}

func TestNewSchemaLookupNeedsFetcher(t *testing.T) {
	if _, err := NewSchemaLookup(nil); !errors.Is(err, ErrNoFetcher) {
		t.Fatalf("got %v, want ErrNoFetcher", err)
	}
}

// TestLookupCaches: one fetch per id however often it is used, and the
// binary's own schema resolves to itself (no resolution cost).
func TestLookupCaches(t *testing.T) {
	cf := &countingFetcher{next: StaticFetcher(ownTexts(t))}
	l, err := NewSchemaLookup(cf.fetch)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := messageFixture()
	b, err := AppendWire(nil, 2, &want)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		var got MatrizMessage
		if _, err := DecodeWire(ctx, l, b, &got); err != nil {
			t.Fatal(err)
		}
		for _, d := range diffValues(&want, &got) {
			t.Fatal(d)
		}
	}
	if n := cf.count(2); n != 1 {
		t.Fatalf("id 2 fetched %d times, want 1", n)
	}
	w1, err := l.Writer(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := l.Writer(ctx, 2)
	r1, err := ResolveID[MatrizMessage](ctx, l, 2)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := Schema(NameMessage)
	if w1 != w2 || r1 != own {
		t.Fatalf("cache returned new schemas: writer %p %p, resolved %p, own %p", w1, w2, r1, own)
	}
	// The same id read as another type is resolved separately and fails:
	// a MatrizMessage cannot be read as an Event.
	if _, err := ResolveID[Event](ctx, l, 2); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("message schema as Event: got %v, want ErrIncompatible", err)
	}
	if n := cf.count(2); n != 1 {
		t.Fatalf("id 2 fetched %d times, want 1", n)
	}
}

// TestLookupErrorCaching: permanent failures (bad text, incompatible) are
// cached; unknown ids for the negative cache's TTL (negcache_test.go);
// transient fetch errors are asked again.
func TestLookupErrorCaching(t *testing.T) {
	transient := errors.New("registry unreachable")
	var flaky atomic.Int32
	cf := &countingFetcher{next: func(ctx context.Context, id uint32) (string, error) {
		switch id {
		case 1:
			return `{"type": "record", "name": "Broken", "fields": [`, nil
		case 2:
			return `{"type":"record","name":"MatrizMessage","namespace":"matriz","fields":[{"name":"msg_id","type":"string"}]}`, nil
		case 3:
			if flaky.Add(1) == 1 {
				return "", fmt.Errorf("fetch id 3: %w", transient)
			}
			return Text(NameEvent)
		}
		return "", fmt.Errorf("registry says: %w", ErrUnknownSchemaID)
	}}
	l, err := NewSchemaLookup(cf.fetch)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if _, err := l.Writer(ctx, 1); !errors.Is(err, ErrSchemaText) {
			t.Fatalf("id 1: got %v, want ErrSchemaText", err)
		}
		if _, err := ResolveID[MatrizMessage](ctx, l, 2); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("id 2: got %v, want ErrIncompatible", err)
		}
		if _, err := l.Writer(ctx, 4); !errors.Is(err, ErrUnknownSchemaID) {
			t.Fatalf("id 4: got %v, want ErrUnknownSchemaID", err)
		}
	}
	if cf.count(1) != 1 || cf.count(2) != 1 {
		t.Fatalf("permanent failures fetched again: id 1 %d times, id 2 %d times", cf.count(1), cf.count(2))
	}
	if cf.count(4) != 1 {
		t.Fatalf("unknown id fetched %d times, want 1 (cached for the TTL)", cf.count(4))
	}
	var se *SchemaIDError
	if _, err := ResolveID[Event](ctx, l, 3); !errors.Is(err, transient) || !errors.As(err, &se) || se.ID != 3 {
		t.Fatalf("first fetch of id 3: got %v, want the transient error", err)
	}
	if _, err := ResolveID[Event](ctx, l, 3); err != nil {
		t.Fatalf("second fetch of id 3: %v", err)
	}
}

func TestLookupHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l, err := NewSchemaLookup(StaticFetcher(ownTexts(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Writer(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// A fetcher that ignores the context and fails still reports it.
	l2, err := NewSchemaLookup(func(context.Context, uint32) (string, error) { return "", errors.New("boom") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Writer(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// After cancellation the lookup works for a live context: nothing was cached.
	if _, err := l.Writer(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

// TestLookupConcurrent decodes from many goroutines at once over several
// ids; run with -race. Every goroutine must see the same cached schemas.
func TestLookupConcurrent(t *testing.T) {
	cf := &countingFetcher{next: StaticFetcher(ownTexts(t))}
	l, err := NewSchemaLookup(cf.fetch)
	if err != nil {
		t.Fatal(err)
	}
	msg := messageFixture()
	ev := Event{ID: "e", TS: tsFixture, Kind: EventAction, Lane: LaneProd, GlyphID: uuidGlyph}
	msgWire, err := AppendWire(nil, 2, &msg)
	if err != nil {
		t.Fatal(err)
	}
	evWire, err := AppendWire(nil, 4, &ev)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				var err error
				if (g+i)%2 == 0 {
					var m MatrizMessage
					_, err = DecodeWire(context.Background(), l, msgWire, &m)
					if err == nil && m.MsgID != msg.MsgID {
						err = fmt.Errorf("decoded msg_id %q", m.MsgID)
					}
				} else {
					var e Event
					_, err = DecodeWire(context.Background(), l, evWire, &e)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range []uint32{2, 4} {
		if n := cf.count(id); n < 1 || n > 8 {
			t.Errorf("id %d fetched %d times, want between 1 and 8", id, n)
		}
	}
}

func TestAppendWire(t *testing.T) {
	m := messageFixture()
	b, err := AppendWire([]byte("x"), 0x01020304, &m)
	if err != nil {
		t.Fatal(err)
	}
	id, body, err := ParseWire(b[1:])
	if err != nil || id != 0x01020304 {
		t.Fatalf("header: %d %v", id, err)
	}
	var got MatrizMessage
	if err := Decode(body, &got); err != nil {
		t.Fatal(err)
	}
	m.Lane = "nope"
	if b, err := AppendWire([]byte("x"), 1, &m); !errors.Is(err, ErrEncode) || string(b) != "x" {
		t.Fatalf("bad value: got %q, %v; want dst unextended and ErrEncode", b, err)
	}
}
