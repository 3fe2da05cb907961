package topics

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
)

// produceAt writes n records with values <prefix>-<i>, keys key(i) and
// timestamp ts (zero: the writer's clock), one batch per record so
// compaction and segments see them apart.
func produceAt(t testing.TB, addrs []string, topic, prefix string, n int, key func(int) string, ts time.Time) {
	t.Helper()
	sink, err := NewSink(context.Background(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sink.In() <- Message{Topic: topic, Key: []byte(key(i)), Value: fmt.Appendf(nil, "%s-%d", prefix, i), Time: ts}
		clocktest.WaitFor(t, 5*time.Second, "the record written", func() bool { // one record per batch
			return sink.Written() == int64(i+1) || sink.Err() != nil
		})
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Written() != int64(n) || sink.Err() != nil {
		t.Fatalf("produced %d of %d: %v", sink.Written(), n, sink.Err())
	}
}

// partitionLog reads partition 0 of topic over the wire: the log start
// offset clients are told and the values from there to the end.
func partitionLog(t testing.TB, addrs []string, topic string) (start int64, values []string) {
	t.Helper()
	conn, err := kafka.DialLeader(context.Background(), "tcp", addrs[0], topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		t.Fatal(err)
	}
	if first == last {
		return first, nil
	}
	if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for off := first; off < last; {
		batch := conn.ReadBatch(1, 1<<20)
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			values = append(values, string(m.Value))
			off = m.Offset + 1
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("read %s from %d: %v", topic, off, err)
		}
	}
	return first, values
}

func segmentFiles(t testing.TB, dir, topic string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "partitions", topic+"-0", "*.dat"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// The cap deletes what has been on the broker longer than the window: the
// log start offset moves past it, the records that came later stay, whole
// segments below it leave the disk, and compacted topics are left alone.
func TestBrokerRetentionCapDeletesRecordsOlderThanTheWindow(t *testing.T) {
	dir := t.TempDir()
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	b := newBroker(t, BrokerDataDir(dir), BrokerCleanEvery(time.Hour), BrokerRetentionCap(time.Minute),
		BrokerSegmentBytes(200), brokerClock(fake))
	table := Spec{Name: "table", Partitions: 1, ReplicationFactor: ReplicationByCluster,
		Configs: map[string]string{ConfigCleanupPolicy: CleanupCompact}, Compacted: true}
	ensureTopics(t, b.Addrs(), streamSpec("stream", 1), table)
	distinct := func(i int) string { return fmt.Sprintf("k%d", i) }

	produceAt(t, b.Addrs(), "stream", "old", 10, distinct, time.Time{})
	produceAt(t, b.Addrs(), "table", "old", 10, distinct, time.Time{})
	segsBefore := segmentFiles(t, dir, "stream")
	if segsBefore < 3 {
		t.Fatalf("%d segment files with 200-byte segments, want a few", segsBefore)
	}
	b.cleaner.pass(context.Background(), fake.Now()) // samples: 10 records at t0

	fake.Advance(30 * time.Second)
	produceAt(t, b.Addrs(), "stream", "new", 5, distinct, time.Time{})
	if del := b.cleaner.pass(context.Background(), fake.Now()); len(del) != 0 {
		t.Fatalf("half a window on, the pass deleted %v, want nothing", del)
	}
	if start, vals := partitionLog(t, b.Addrs(), "stream"); start != 0 || len(vals) != 15 {
		t.Fatalf("half a window on: log start %d, %d records; want 0 and 15", start, len(vals))
	}

	fake.Advance(31 * time.Second) // the old records are 61 s old, the new ones 31 s
	del := b.cleaner.pass(context.Background(), fake.Now())
	if del["stream"] != 10 || len(del) != 1 {
		t.Fatalf("deleted %v, want the 10 old records of stream only", del)
	}
	start, vals := partitionLog(t, b.Addrs(), "stream")
	if start != 10 || strings.Join(vals, ",") != "new-0,new-1,new-2,new-3,new-4" {
		t.Fatalf("stream after the window: log start %d, records %v; want 10 and the 5 new ones", start, vals)
	}
	if segs := segmentFiles(t, dir, "stream"); segs >= segsBefore {
		t.Fatalf("%d segment files after deleting 10 of 15 records, had %d: disk not freed", segs, segsBefore)
	}
	if start, vals := partitionLog(t, b.Addrs(), "table"); start != 0 || len(vals) != 10 {
		t.Fatalf("compacted table: log start %d, %d records; want 0 and 10 (the cap bounds streams only)", start, len(vals))
	}

	fake.Advance(time.Minute)
	b.cleaner.pass(context.Background(), fake.Now())
	if start, vals := partitionLog(t, b.Addrs(), "stream"); start != 15 || len(vals) != 0 {
		t.Fatalf("a window later: log start %d, records %v; want 15 and none", start, vals)
	}
}

// Without a cap the cleaner applies each topic's own retention.ms (by
// record timestamp) and compacts compacted topics to the latest value per
// key; a topic without retention.ms keeps everything.
func TestBrokerCleanerHonoursTopicRetentionAndCompacts(t *testing.T) {
	b := newBroker(t, BrokerCleanEvery(time.Hour), brokerClock(clock.NewFake(time.Now())))
	short := Spec{Name: "short", Partitions: 1, ReplicationFactor: ReplicationByCluster,
		Configs: map[string]string{ConfigRetentionMs: "60000"}}
	table := Spec{Name: "table", Partitions: 1, ReplicationFactor: ReplicationByCluster,
		Configs: map[string]string{ConfigCleanupPolicy: CleanupCompact}, Compacted: true}
	ensureTopics(t, b.Addrs(), short, streamSpec("forever", 1), table)
	distinct := func(i int) string { return fmt.Sprintf("k%d", i) }
	hourAgo := time.Now().Add(-time.Hour)

	produceAt(t, b.Addrs(), "short", "old", 4, distinct, hourAgo)
	produceAt(t, b.Addrs(), "short", "new", 3, distinct, time.Time{})
	produceAt(t, b.Addrs(), "forever", "old", 4, distinct, hourAgo)
	produceAt(t, b.Addrs(), "table", "v1", 3, distinct, hourAgo)
	produceAt(t, b.Addrs(), "table", "v2", 2, distinct, time.Time{}) // k0, k1 again
	// The last batch is the active segment, never compacted (as in Kafka).
	produceAt(t, b.Addrs(), "table", "last", 1, func(int) string { return "k9" }, time.Time{})

	b.cleaner.pass(context.Background(), time.Now())

	if start, vals := partitionLog(t, b.Addrs(), "short"); start != 4 || strings.Join(vals, ",") != "new-0,new-1,new-2" {
		t.Fatalf("short (retention.ms 60000): log start %d, records %v; want 4 and the 3 new ones", start, vals)
	}
	if start, vals := partitionLog(t, b.Addrs(), "forever"); start != 0 || len(vals) != 4 {
		t.Fatalf("forever (no retention.ms): log start %d, %d records; want 0 and 4", start, len(vals))
	}
	if _, vals := partitionLog(t, b.Addrs(), "table"); strings.Join(vals, ",") != "v1-2,v2-0,v2-1,last-0" {
		t.Fatalf("table after compaction: %v, want v1-2,v2-0,v2-1,last-0 (latest per key)", vals)
	}
}

func TestBrokerRetentionOptionErrors(t *testing.T) {
	for _, opts := range [][]BrokerOption{
		{BrokerRetentionCap(time.Minute)}, // no cleaning period
		{BrokerCleanEvery(-time.Second)},
		{BrokerSegmentBytes(-1)},
	} {
		if b, err := StartBroker(opts...); err == nil {
			b.Close()
			t.Errorf("options %d accepted, want a config error", len(opts))
		}
	}
}
