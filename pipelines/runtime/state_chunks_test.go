package runtime

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// bigCheckpoint is a checkpoint whose stage state encodes to about size
// bytes, incompressible.
func bigCheckpoint(partition int32, size int, seed uint64) *Checkpoint {
	rng := rand.New(rand.NewPCG(seed, seed))
	blob := make([]byte, size)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	return &Checkpoint{Lane: "prod", Partition: partition, Resume: 10, Next: 12, Open: []int64{11},
		FrameEnd: time.Unix(1_800_000_000, 0).UTC(), Written: time.Unix(1_800_000_001, 0).UTC(),
		State: map[string][]byte{"drift": blob}}
}

func TestStateChunksSplitAndAssemble(t *testing.T) {
	cp := bigCheckpoint(3, 1_500_000, 1)
	b, err := EncodeCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	w := newStateChunks(3)
	chunks, head := w.split("matriz.prod.state", "3", b)
	if len(chunks) < 2 || string(head.Key) != "3" {
		t.Fatalf("%d-byte checkpoint split into %d chunks, head key %q", len(b), len(chunks), head.Key)
	}
	for _, c := range append(chunks, head) {
		if n := topics.RecordSize(c); n > topics.MaxRecordBytes {
			t.Fatalf("record %s of %d bytes", c.Key, n)
		}
		if !strings.HasPrefix(string(c.Key), "3") {
			t.Fatalf("key %q", c.Key)
		}
	}
	if _, err := DecodeCheckpoint(head.Value); err == nil {
		t.Fatal("a chunked head decodes as a checkpoint: a binary without chunks would restore it as empty")
	}

	r := newStateChunks(3)
	for _, c := range chunks {
		if !r.put(string(c.Key), c.Value) {
			t.Fatalf("chunk %s not taken", c.Key)
		}
	}
	if r.put("3/drift", []byte("x")) || r.put("13#ab.0", []byte("x")) || r.put("3", head.Value) {
		t.Fatal("took a key that is not one of partition 3's chunks")
	}
	got, err := r.assemble(head.Value)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("assemble: %v (%d bytes, want %d)", err, len(got), len(b))
	}

	// A missing or altered chunk is refused.
	missing := newStateChunks(3)
	missing.put(string(chunks[0].Key), chunks[0].Value)
	if _, err := missing.assemble(head.Value); err == nil {
		t.Fatal("assembled with a chunk missing")
	}
	altered := newStateChunks(3)
	for i, c := range chunks {
		v := bytes.Clone(c.Value)
		if i == 1 {
			v[7] ^= 1
		}
		altered.put(string(c.Key), v)
	}
	if _, err := altered.assemble(head.Value); err == nil {
		t.Fatal("assembled a chunk with a flipped bit")
	}

	// A small checkpoint is one record, read as before.
	small, _ := EncodeCheckpoint(&Checkpoint{Lane: "prod", Partition: 3, Resume: 1, Next: 1})
	if c, h := w.split("matriz.prod.state", "3", small); len(c) != 0 || !bytes.Equal(h.Value, small) {
		t.Fatalf("small checkpoint: %d chunks", len(c))
	}
	if got, err := newStateChunks(3).assemble(small); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("single-record checkpoint: %v", err)
	}

	// The chunks of a head no longer written are tombstoned, once.
	w.written("matriz.prod.state", chunks)
	next, _ := w.split("matriz.prod.state", "3", mustEncode(t, bigCheckpoint(3, 1_200_000, 2)))
	stale := w.written("matriz.prod.state", next)
	if len(stale) != len(chunks) {
		t.Fatalf("%d tombstones after replacing %d chunks", len(stale), len(chunks))
	}
	for _, m := range stale {
		if m.Value != nil || !strings.HasPrefix(string(m.Key), "3#") {
			t.Fatalf("tombstone %q value %d bytes", m.Key, len(m.Value))
		}
	}
	if stale := w.written("matriz.prod.state", nil); len(stale) != len(next) {
		t.Fatalf("%d tombstones after a single-record cut replaced %d chunks", len(stale), len(next))
	}
}

func mustEncode(t *testing.T, cp *Checkpoint) []byte {
	t.Helper()
	b, err := EncodeCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChunkedCheckpointRoundTripsThroughTheBroker writes a 2.5 MB cut as
// the runtime does — chunks, head — over an older single-record cut and
// stale chunks of a crashed write, and reads it back with loadState.
func TestChunkedCheckpointRoundTripsThroughTheBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	topic := topics.Name(string(lane), topics.KindState)
	old := mustEncode(t, bigCheckpoint(2, 1000, 3))
	env.Write(t, topic, []topics.Message{{Key: []byte("2"), Value: old}})
	// A write that crashed before its head: chunks nobody names.
	crashed, _ := newStateChunks(2).split(topic, "2", mustEncode(t, bigCheckpoint(2, 900_000, 4)))
	env.Write(t, topic, crashed)

	cp := bigCheckpoint(2, 2_500_000, 5)
	b := mustEncode(t, cp)
	w := newStateChunks(2)
	chunks, head := w.split(topic, "2", b)
	env.Write(t, topic, chunks)
	env.Write(t, topic, []topics.Message{head})
	// Another partition's cut is not mixed in.
	env.Write(t, topic, []topics.Message{{Key: []byte("20"), Value: mustEncode(t, bigCheckpoint(20, 10, 6))}})

	r := newStateChunks(2)
	got, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), env.Brokers, topics.Name(string(lane), topics.KindState), 2, 30*time.Second, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Next != cp.Next || !bytes.Equal(got.State["drift"], cp.State["drift"]) {
		t.Fatalf("restored %s with %d state bytes, want %s with %d", got.ID(), len(got.State["drift"]), cp.ID(), len(cp.State["drift"]))
	}
	// The next save tombstones the crashed write's chunks and, once a
	// single-record cut replaces it, this one's.
	stale := r.written(topic, chunks)
	if len(stale) != len(crashed) {
		t.Fatalf("%d tombstones, want the crashed write's %d chunks", len(stale), len(crashed))
	}
	env.Write(t, topic, stale)
	if _, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), env.Brokers, topics.Name(string(lane), topics.KindState), 2, 30*time.Second, newStateChunks(2)); err != nil {
		t.Fatalf("after tombstoning stale chunks: %v", err)
	}
	t.Logf("%d-byte checkpoint in %d chunks restored; %d stale chunks tombstoned", len(b), len(chunks), len(stale))
}

func TestNilStateChunksReadsSingleRecordsOnly(t *testing.T) {
	var c *stateChunks
	small := mustEncode(t, &Checkpoint{Lane: "prod", Partition: 1, Resume: 1, Next: 1})
	if c.put("1#ab.0", []byte("x")) {
		t.Fatal("a nil collector took a chunk")
	}
	if got, err := c.assemble(small); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("single record: %v", err)
	}
	_, head := newStateChunks(1).split("t", "1", mustEncode(t, bigCheckpoint(1, 1_000_000, 9)))
	if _, err := c.assemble(head.Value); err == nil {
		t.Fatal("a nil collector assembled a chunked head")
	}
}

// TestStateChunksOfAFailedSaveAreTombstonedLater: chunks written for a
// head that never landed are tombstoned by the next save that lands.
func TestStateChunksOfAFailedSaveAreTombstonedLater(t *testing.T) {
	w := newStateChunks(4)
	failed, _ := w.split("s", "4", mustEncode(t, bigCheckpoint(4, 1_200_000, 11)))
	next, _ := w.split("s", "4", mustEncode(t, bigCheckpoint(4, 1_200_000, 12)))
	stale := w.written("s", next)
	if len(stale) != len(failed) {
		t.Fatalf("%d tombstones, want the %d chunks of the save that failed", len(stale), len(failed))
	}
}
