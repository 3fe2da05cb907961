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

// BenchmarkKafkaStartup measures a registry start over a _schemas topic
// holding 1000 records (100 subjects × 10 versions): connect, read the
// topic to its end, replay.
func BenchmarkKafkaStartup(b *testing.B) {
	broker := startBrokerB(b)
	ctx := context.Background()
	store, err := NewKafkaStore(ctx, broker.ListenAddrs())
	if err != nil {
		b.Fatal(err)
	}
	var recs []Record
	for s := range 100 {
		for v := range 10 {
			recs = append(recs, schemaRecord(schemaRecordValue{Subject: fmt.Sprintf("s%d", s), Version: v + 1, ID: v + 1, Schema: glyphVersion(v)}))
		}
	}
	if err := store.Append(ctx, recs...); err != nil {
		b.Fatal(err)
	}
	store.Close()
	b.ResetTimer()
	for b.Loop() {
		st, err := NewKafkaStore(ctx, broker.ListenAddrs())
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
