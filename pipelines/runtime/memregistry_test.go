package runtime

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/schemas/registry"
)

// memRegistry serves an in-memory schema registry holding every version of
// lane's subjects, as deploy registers them, and returns a Serde opened on
// it: the unit tests that decode or encode records need no broker.
func memRegistry(t testing.TB, lane schemas.Lane) *serde.Serde {
	t.Helper()
	s, err := serde.Open(context.Background(), memRegistryURL(t, lane), serde.Subjects([]schemas.Lane{lane}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// memRegistryURL is memRegistry's registry, by its URL.
func memRegistryURL(t testing.TB, lane schemas.Lane) string {
	t.Helper()
	reg, err := registry.New(registry.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(func() { srv.Close(); reg.Close() })
	cl, err := serde.NewRegistryClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subs := serde.Subjects([]schemas.Lane{lane})
	for _, sub := range subs {
		for _, v := range schemas.Versions(sub.Schema) {
			text, err := schemas.TextOf(sub.Schema, v)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.RegisterSchema(ctx, sub.Name, sr.Schema{Schema: text, Type: sr.TypeAvro}, -1, -1); err != nil {
				t.Fatalf("register %s %s: %v", sub.Name, v, err)
			}
		}
	}
	return srv.URL
}
