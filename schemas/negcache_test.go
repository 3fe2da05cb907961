package schemas

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
)

// unknownIDRecord is a wire-format value whose schema id no registry has.
func unknownIDRecord(id uint32) []byte { return append(AppendWireHeader(nil, id), 2, 'x') }

// TestUnknownIDsAreCachedByDefault: a stream of records with one unknown
// schema id costs one registry request, not one per record.
func TestUnknownIDsAreCachedByDefault(t *testing.T) {
	cf := &countingFetcher{next: StaticFetcher(ownTexts(t))}
	l, err := NewSchemaLookup(cf.fetch)
	if err != nil {
		t.Fatal(err)
	}
	b := unknownIDRecord(4242)
	for i := range 1000 {
		var m MatrizMessage
		_, err := DecodeWire(context.Background(), l, b, &m)
		var se *SchemaIDError
		if !errors.Is(err, ErrUnknownSchemaID) || !errors.As(err, &se) || se.ID != 4242 {
			t.Fatalf("record %d: got %v, want a *SchemaIDError wrapping ErrUnknownSchemaID", i, err)
		}
	}
	if n := cf.count(4242); n > 1 {
		t.Fatalf("1000 records with one unknown id made %d registry requests, want at most 1", n)
	}
}

// TestUnknownIDCacheExpires: the negative answer is kept for the TTL on
// the lookup's clock, then asked again, so an id the registry learns late
// (a follower that had not caught up) is found.
func TestUnknownIDCacheExpires(t *testing.T) {
	known := false
	texts := ownTexts(t)
	cf := &countingFetcher{next: func(ctx context.Context, id uint32) (string, error) {
		if known {
			return texts[2], nil
		}
		return "", fmt.Errorf("registry: %w", ErrUnknownSchemaID)
	}}
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	l, err := NewSchemaLookup(cf.fetch, WithUnknownIDTTL(10*time.Second), WithLookupClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const id = 77
	for ttl := range 3 {
		for range 1000 {
			if _, err := l.Writer(ctx, id); !errors.Is(err, ErrUnknownSchemaID) {
				t.Fatalf("got %v, want ErrUnknownSchemaID", err)
			}
		}
		if n := cf.count(id); n != ttl+1 {
			t.Fatalf("after %d TTLs: %d registry requests, want %d (one per TTL)", ttl, n, ttl+1)
		}
		clk.Advance(9 * time.Second)
		if _, err := l.Writer(ctx, id); !errors.Is(err, ErrUnknownSchemaID) || cf.count(id) != ttl+1 {
			t.Fatalf("inside the TTL: %v, %d requests", err, cf.count(id))
		}
		clk.Advance(time.Second)
	}
	known = true
	if _, err := l.Writer(ctx, id); err != nil {
		t.Fatalf("id known after the TTL: %v", err)
	}
	if _, err := l.Writer(ctx, id); err != nil || cf.count(id) != 4 {
		t.Fatalf("a known id is cached for good: %v, %d requests, want 4", err, cf.count(id))
	}
}

// TestUnknownIDCacheIsBounded: a flood of distinct unknown ids keeps at
// most the configured number of negative entries.
func TestUnknownIDCacheIsBounded(t *testing.T) {
	cf := &countingFetcher{next: StaticFetcher(nil)}
	l, err := NewSchemaLookup(cf.fetch, WithUnknownIDLimit(100))
	if err != nil {
		t.Fatal(err)
	}
	for id := range uint32(10_000) {
		_, _ = l.Writer(context.Background(), 1000+id)
	}
	if n := l.unknownLen(); n > 100 {
		t.Fatalf("%d negative entries after 10,000 unknown ids, want at most 100", n)
	}
}

func TestLookupOptionsAreChecked(t *testing.T) {
	f := StaticFetcher(nil)
	for name, opt := range map[string]LookupOption{
		"negative ttl": WithUnknownIDTTL(-time.Second),
		"nil clock":    WithLookupClock(nil),
		"zero limit":   WithUnknownIDLimit(0),
	} {
		if _, err := NewSchemaLookup(f, opt); !errors.Is(err, ErrLookupConfig) {
			t.Errorf("%s: got %v, want ErrLookupConfig", name, err)
		}
	}
}
