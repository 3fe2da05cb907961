package serde

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/schemas/registry"
)

// TestUnknownSchemaIDCostsOneRequestPerTTL: 1,000 records carrying one
// schema id the registry does not know make at most one registry request
// per TTL, over HTTP against the embedded registry.
func TestUnknownSchemaIDCostsOneRequestPerTTL(t *testing.T) {
	reg, err := registry.New(registry.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	var byID atomic.Int64
	h := reg.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			byID.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client, err := NewRegistryClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	s, err := New(client, schemas.WithUnknownIDTTL(30*time.Second), schemas.WithLookupClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	rec := append(schemas.AppendWireHeader(nil, 999), 0)
	decodeAll := func() {
		for i := range 1000 {
			var m schemas.MatrizMessage
			if _, err := schemas.DecodeWire(context.Background(), s.Lookup(), rec, &m); !errors.Is(err, schemas.ErrUnknownSchemaID) {
				t.Fatalf("record %d: got %v, want ErrUnknownSchemaID", i, err)
			}
		}
	}
	decodeAll()
	if n := byID.Load(); n != 1 {
		t.Fatalf("1,000 records with an unknown id: %d registry requests, want 1", n)
	}
	clk.Advance(29 * time.Second)
	decodeAll()
	if n := byID.Load(); n != 1 {
		t.Fatalf("within the TTL: %d registry requests, want 1", n)
	}
	clk.Advance(time.Second)
	decodeAll()
	if n := byID.Load(); n != 2 {
		t.Fatalf("after the TTL: %d registry requests, want 2", n)
	}
}
