package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/topics"
)

// kafkaInstance starts a registry named name over the _schemas topic of
// the broker at addrs, as a registry process does.
func kafkaInstance(t *testing.T, addrs []string, name string, opts ...Option) *harness {
	t.Helper()
	log, err := topics.NewCompactedLog(context.Background(), addrs, topics.SchemasTopic, topics.CompactedLogReplication(1))
	if err != nil {
		t.Fatal(err)
	}
	store, err := NewLogStore(log)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]Option{WithInstance(name), WithDefaultLevel(LevelNone), WithFollowInterval(20 * time.Millisecond)}, opts...)
	return newHarness(t, store, opts...)
}

// TestTwoRegistriesOnOneBroker: two registry instances on one embedded
// broker. What a registers, b serves once it caught up; b refuses writes
// while a is the writer; a restarted from the topic keeps every id; a
// takeover while both register never gives one id to two schemas.
func TestTwoRegistriesOnOneBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded broker")
	}
	b, err := topics.StartBroker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	addrs := b.Addrs()

	a := kafkaInstance(t, addrs, "a")
	ids := map[int]string{}
	for i := range 5 {
		ids[a.register(fmt.Sprintf("s%d", i%2), fixedSchema(i+1))] = fixedSchema(i + 1)
	}
	follower := kafkaInstance(t, addrs, "b", WithReadOnly())
	late := a.register("late", `"string"`)
	ids[late] = `"string"`
	waited := clocktest.WaitFor(t, 10*time.Second, "b serves the schema a registered after b started", func() bool {
		return follower.do("GET", fmt.Sprintf("/schemas/ids/%d", late), nil).Code == http.StatusOK
	})
	t.Logf("b served a's registration %v after it", waited)
	for id, schema := range ids {
		if got := follower.schemaByID(id); got != schema {
			t.Fatalf("b serves %s for id %d, a registered %s", got, id, schema)
		}
	}
	msg := follower.fail("POST", "/subjects/x/versions", map[string]string{"schema": `"bytes"`}, CodeNotWriter)
	if !strings.Contains(msg, `"a"`) {
		t.Fatalf("b's refusal %q does not name a", msg)
	}

	// a restarts from the topic: every id keeps its schema, and a writes.
	_ = a.reg.Close()
	a = kafkaInstance(t, addrs, "a")
	for id, schema := range ids {
		if got := a.schemaByID(id); got != schema {
			t.Fatalf("restarted a serves %s for id %d, want %s", got, id, schema)
		}
	}

	// Registrations on a while c takes over: none gets a used id.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		told = map[int]string{}
	)
	for g := range 3 {
		wg.Go(func() {
			for i := range 10 {
				schema := fixedSchema(100*(g+1) + i)
				w := a.do("POST", fmt.Sprintf("/subjects/c%d/versions", g), map[string]string{"schema": schema})
				if w.Code == http.StatusOK {
					var out struct{ ID int }
					if err := jsonUnmarshal(w.Body.Bytes(), &out); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					told[out.ID] = schema
					mu.Unlock()
				}
			}
		})
	}
	c := kafkaInstance(t, addrs, "c")
	for i := range 5 {
		id := c.register("fromc", fixedSchema(900+i))
		mu.Lock()
		if prev, ok := told[id]; ok {
			t.Errorf("id %d given to %s and to %s", id, prev, fixedSchema(900+i))
		}
		told[id] = fixedSchema(900 + i)
		mu.Unlock()
	}
	wg.Wait()
	a.fail("POST", "/subjects/z/versions", map[string]string{"schema": `"boolean"`}, CodeNotWriter)

	log, err := topics.NewCompactedLog(context.Background(), addrs, topics.SchemasTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	store, _ := NewLogStore(log)
	checkNoDuplicateIDs(t, store)
	fresh := kafkaInstance(t, addrs, "fresh", WithReadOnly())
	for id, schema := range told {
		if got := fresh.schemaByID(id); got != schema {
			t.Fatalf("id %d: client was told %s, the topic says %s", id, schema, got)
		}
	}
	t.Logf("%d registrations during the takeover got ids", len(told))
}
