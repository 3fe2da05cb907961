package registry

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// glyphVersion returns a record schema with n optional fields, so every
// version is BACKWARD compatible with the one before.
func glyphVersion(n int) string {
	fields := []string{fID}
	for i := range n {
		fields = append(fields, fmt.Sprintf(`{"name":"f%d","type":["null","string"],"default":null}`, i))
	}
	return rec(fields...)
}

func BenchmarkCheckFullTransitive10Versions(b *testing.B) {
	existing := make([]string, 10)
	for i := range existing {
		existing[i] = glyphVersion(i)
	}
	next := glyphVersion(10)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := Check(LevelFullTransitive, next, existing); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkRegisterIdempotent(b *testing.B) {
	reg, _ := New(NewMemoryStore())
	h := reg.Handler()
	body := `{"schema":` + jsonString(glyphVersion(5)) + `}`
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/subjects/s/versions", strings.NewReader(body)))
		if w.Code != 200 {
			b.Fatal(w.Body)
		}
	}
}

func BenchmarkGetSchemaByID(b *testing.B) {
	reg, _ := New(NewMemoryStore())
	if _, aerr := reg.register(context.Background(), "s", schemaRequest{Schema: glyphVersion(5)}); aerr != nil {
		b.Fatal(aerr)
	}
	h := reg.Handler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/schemas/ids/1", nil))
		if w.Code != 200 {
			b.Fatal(w.Body)
		}
	}
}
