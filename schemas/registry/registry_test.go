package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil store: err = %v", err)
	}
	for name, opt := range map[string]Option{
		"unknown default level": WithDefaultLevel("SOMETIMES"),
		"nil logger":            WithLogger(nil),
		"zero request bytes":    WithMaxRequestBytes(0),
		"zero write timeout":    WithWriteTimeout(0),
	} {
		if _, err := New(NewMemoryStore(), opt); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	reg, err := New(NewMemoryStore(), nil, WithLogger(slog.Default()), WithWriteTimeout(time.Second))
	if err != nil {
		t.Fatalf("nil option and valid options: %v", err)
	}
	reg.Close()
}

type loadFailStore struct{ Store }

func (loadFailStore) ReadFrom(context.Context, int64) ([]Record, int64, error) {
	return nil, 0, errInjected
}

func TestNewReportsStoreAndRecordFailures(t *testing.T) {
	if _, err := New(loadFailStore{NewMemoryStore()}); !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) {
		t.Fatalf("load failure: err = %v", err)
	}
	cases := map[string]Record{
		"key not JSON":          {Key: []byte("nope"), Value: []byte("{}")},
		"schema key no subject": {Key: []byte(`{"keytype":"SCHEMA","version":1}`), Value: []byte(`{}`)},
		"schema value not JSON": {Key: []byte(`{"keytype":"SCHEMA","subject":"s","version":1}`), Value: []byte(`{`)},
		"schema id zero":        {Key: []byte(`{"keytype":"SCHEMA","subject":"s","version":1}`), Value: []byte(`{"id":0,"schema":"\"int\""}`)},
		"schema does not parse": {Key: []byte(`{"keytype":"SCHEMA","subject":"s","version":1}`), Value: []byte(`{"id":2,"schema":"{\"type\":\"nosuch\"}"}`)},
		"config not JSON":       {Key: []byte(`{"keytype":"CONFIG","subject":null}`), Value: []byte(`[`)},
		"config bad level":      {Key: []byte(`{"keytype":"CONFIG","subject":null}`), Value: []byte(`{"compatibilityLevel":"MAYBE"}`)},
		"max id not JSON":       {Key: []byte(`{"keytype":"MAX_ID"}`), Value: []byte(`x`)},
	}
	for name, r := range cases {
		store := NewMemoryStore()
		_ = store.Append(context.Background(), schemaRecord(schemaRecordValue{Subject: "ok", Version: 1, ID: 1, Schema: `"int"`}), r)
		_, err := New(store)
		var ce *CorruptRecordError
		if !errors.As(err, &ce) || ce.Index != 1 || !strings.Contains(err.Error(), "record 1") {
			t.Errorf("%s: err = %v, want a CorruptRecordError at record 1", name, err)
		}
	}
}

func TestReplayIgnoresForeignRecordsAndAppliesTombstones(t *testing.T) {
	store := NewMemoryStore()
	ctx := context.Background()
	_ = store.Append(ctx,
		Record{Key: []byte(`{"keytype":"NOOP","magic":0}`)},
		Record{Key: []byte(`{"keytype":"MODE","subject":null}`), Value: []byte(`{"mode":"READWRITE"}`)},
		schemaRecord(schemaRecordValue{Subject: "s", Version: 1, ID: 4, Schema: `"int"`}),
		schemaRecord(schemaRecordValue{Subject: "s", Version: 2, ID: 9, Schema: `"long"`}),
		schemaTombstone("s", 2),
		schemaTombstone("never", 1),
		configRecord("s", LevelFull),
		configRecord("", LevelNone),
		maxIDRecord(12),
		Record{Key: mustJSON(maxIDRecordKey{KeyType: keyTypeMaxID})}, // a MAX_ID tombstone changes nothing
	)
	h := newHarness(t, store)
	var versions []int
	h.ok("GET", "/subjects/s/versions", nil, &versions)
	if len(versions) != 1 || versions[0] != 1 {
		t.Fatalf("versions = %v, want [1]", versions)
	}
	var lvl levelBody
	h.ok("GET", "/config/s", nil, &lvl)
	if lvl.Level != LevelFull {
		t.Fatalf("level = %q", lvl.Level)
	}
	h.fail("GET", "/schemas/ids/9", nil, CodeSchemaNotFound)
	if id := h.register("t", `"string"`); id != 13 {
		t.Fatalf("next id = %d, want 13 (after MAX_ID 12)", id)
	}
}

func TestTwoIDsForOneSchemaInStoredRecords(t *testing.T) {
	// Records written elsewhere may carry one schema under two ids; the
	// lower id answers, and the other takes over when it goes.
	store := NewMemoryStore()
	_ = store.Append(context.Background(),
		schemaRecord(schemaRecordValue{Subject: "a", Version: 1, ID: 5, Schema: `"int"`}),
		schemaRecord(schemaRecordValue{Subject: "b", Version: 1, ID: 3, Schema: `"int"`}),
		schemaTombstone("a", 1),
	)
	h := newHarness(t, store)
	if id := h.register("c", `"int"`); id != 3 {
		t.Fatalf("id = %d, want 3", id)
	}
	h.ok("DELETE", "/subjects/b", nil, nil)
	h.ok("DELETE", "/subjects/b?permanent=true", nil, nil)
	if id := h.register("d", `"int"`); id != 3 {
		t.Fatalf("id while c still uses 3 = %d, want 3", id)
	}
}

func TestConcurrentRegistrationsGetDistinctIDs(t *testing.T) {
	h := newHarness(t, nil, WithDefaultLevel(LevelNone))
	const n = 32
	ids := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var out struct{ ID int }
			w := h.do("POST", fmt.Sprintf("/subjects/s%d/versions", i%4), map[string]string{"schema": fmt.Sprintf(`{"type":"fixed","name":"F","size":%d}`, i+1)})
			_ = jsonUnmarshal(w.Body.Bytes(), &out)
			ids[i] = out.ID
			// Reads run alongside the writes.
			h.do("GET", "/subjects", nil)
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, id := range ids {
		if id < 1 || id > n || seen[id] {
			t.Fatalf("registration %d got id %d; ids %v", i, id, ids)
		}
		seen[id] = true
	}
}

// TestOneIDForTwoSchemasInStoredRecordsIsRefused: records from before
// fencing, where two writers gave one id to two schemas, stop the start
// naming the record, rather than point a version at the wrong schema.
func TestOneIDForTwoSchemasInStoredRecordsIsRefused(t *testing.T) {
	store := NewMemoryStore()
	_ = store.Append(context.Background(),
		schemaRecord(schemaRecordValue{Subject: "a", Version: 1, ID: 1, Schema: `"int"`}),
		schemaRecord(schemaRecordValue{Subject: "b", Version: 1, ID: 1, Schema: `"long"`}),
	)
	_, err := New(store)
	var ce *CorruptRecordError
	if !errors.As(err, &ce) || ce.Index != 1 || !strings.Contains(err.Error(), "already holds another schema") {
		t.Fatalf("err = %v, want a CorruptRecordError at record 1", err)
	}
}
