package topics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kv is one record as a CompactedLog reads it back.
type kv struct {
	Key   string
	Value []byte // nil: a tombstone
}

func openLog(t testing.TB, addrs []string, topic string, opts ...CompactedLogOption) *CompactedLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	l, err := NewCompactedLog(ctx, addrs, topic, opts...)
	if err != nil {
		t.Fatalf("NewCompactedLog: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func readAll(t testing.TB, l *CompactedLog) []kv {
	t.Helper()
	var out []kv
	err := l.ReadAll(context.Background(), func(key, value []byte) error {
		out = append(out, kv{Key: string(key), Value: value})
		return nil
	})
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	return out
}

func appendAll(t testing.TB, l *CompactedLog, recs ...kv) {
	t.Helper()
	for _, r := range recs {
		if err := l.Append(context.Background(), []byte(r.Key), r.Value); err != nil {
			t.Fatalf("Append %s: %v", r.Key, err)
		}
	}
}

func compactedSpec(name string, partitions int, configs map[string]string) Spec {
	c := map[string]string{ConfigCleanupPolicy: CleanupCompact}
	for k, v := range configs {
		c[k] = v
	}
	return Spec{Name: name, Partitions: partitions, ReplicationFactor: ReplicationByCluster, Configs: c, Compacted: true}
}

func TestNewCompactedLogRefusesBadSetups(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		brokers []string
		topic   string
		opts    []CompactedLogOption
	}{
		"no brokers":            {nil, "log", nil},
		"address without port":  {[]string{"localhost"}, "log", nil},
		"empty topic":           {[]string{"127.0.0.1:9092"}, "", nil},
		"topic with a space":    {[]string{"127.0.0.1:9092"}, "my log", nil},
		"negative replication":  {[]string{"127.0.0.1:9092"}, "log", []CompactedLogOption{CompactedLogReplication(-1)}},
		"replication too large": {[]string{"127.0.0.1:9092"}, "log", []CompactedLogOption{CompactedLogReplication(32768)}},
		"zero attempts":         {[]string{"127.0.0.1:9092"}, "log", []CompactedLogOption{CompactedLogWriteAttempts(0)}},
		"zero load timeout":     {[]string{"127.0.0.1:9092"}, "log", []CompactedLogOption{CompactedLogLoadTimeout(0)}},
		"zero dial timeout":     {[]string{"127.0.0.1:9092"}, "log", []CompactedLogOption{CompactedLogDialTimeout(0)}},
	} {
		_, err := NewCompactedLog(ctx, c.brokers, c.topic, c.opts...)
		var ce *ConfigError
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &ce) || ce.Component != "compacted log" {
			t.Errorf("%s: err = %v, want a compacted log *ConfigError", name, err)
		}
	}

	// Nothing listens on a port we just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewCompactedLog(ctx, []string{addr}, "log", CompactedLogDialTimeout(time.Second))
	if !errors.Is(err, ErrBrokerUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable broker: err = %v, want ErrBrokerUnreachable naming %s", err, addr)
	}

	b := newBroker(t)
	ensureTopics(t, b.Addrs(),
		compactedSpec("three", 3, nil),
		Spec{Name: "deleting", Partitions: 1, ReplicationFactor: ReplicationByCluster, Configs: map[string]string{ConfigCleanupPolicy: CleanupDelete}},
		compactedSpec("both", 1, map[string]string{ConfigCleanupPolicy: "compact,delete"}),
		compactedSpec("fine", 1, nil),
	)
	for topic, want := range map[string]string{
		"three":    "3 partitions",
		"deleting": "cleanup.policy=delete",
		"both":     "cleanup.policy=compact,delete",
	} {
		_, err := NewCompactedLog(ctx, b.Addrs(), topic)
		var te *TopicError
		if !errors.Is(err, ErrNotCompactedLog) || !errors.As(err, &te) || te.Topic != topic || !strings.Contains(err.Error(), want) {
			t.Errorf("topic %s: err = %v, want ErrNotCompactedLog naming %q", topic, err, want)
		}
	}
	if l, err := NewCompactedLog(ctx, b.Addrs(), "fine"); err != nil {
		t.Errorf("existing compacted single-partition topic: %v", err)
	} else {
		l.Close()
	}
}

func TestCompactedLogCreatesCompactedTopic(t *testing.T) {
	b := newBroker(t)
	l := openLog(t, b.Addrs(), "_schemas_test")
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 10 * time.Second}
	ctx := context.Background()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"_schemas_test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != 1 {
		t.Fatalf("metadata = %+v, want one topic with 1 partition (the broker's default is 6)", md.Topics)
	}
	resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{ResourceType: kafka.ResourceTypeTopic, ResourceName: "_schemas_test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, e := range resp.Resources[0].ConfigEntries {
		if e.ConfigName == ConfigCleanupPolicy {
			policy = e.ConfigValue
		}
	}
	if policy != CleanupCompact {
		t.Fatalf("cleanup.policy = %q, want compact", policy)
	}

	appendAll(t, l, kv{"k", []byte("v")})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Append(ctx, []byte("k"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: err = %v, want ErrClosed", err)
	}
	if got := readAll(t, l); len(got) != 1 {
		t.Fatalf("ReadAll after Close = %v, want the one record", got)
	}
}

// TestCompactedLogSurvivesBrokerRestart appends records, an overwrite and
// a tombstone, restarts the broker on its data dir and reads the same
// records back in the same order.
func TestCompactedLogSurvivesBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	b := newBroker(t, BrokerDataDir(dir))
	l := openLog(t, b.Addrs(), SchemasTopic, CompactedLogReplication(1))
	if got := readAll(t, l); len(got) != 0 {
		t.Fatalf("new log holds %v", got)
	}
	appendAll(t, l, kv{"a", []byte("1")}, kv{"b", []byte("1")}, kv{"a", []byte("2")}, kv{"b", nil}, kv{"c", []byte{}})
	// kafka-go's reader gives nil for an empty value as for a tombstone.
	want := []kv{{"a", []byte("1")}, {"b", []byte("1")}, {"a", []byte("2")}, {"b", nil}, {"c", nil}}
	if got := readAll(t, l); !reflect.DeepEqual(got, want) {
		t.Fatalf("before restart:\n got %q\nwant %q", got, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := newBroker(t, BrokerDataDir(dir))
	l2 := openLog(t, b2.Addrs(), SchemasTopic)
	got := readAll(t, l2)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart:\n got %q\nwant %q", got, want)
	}
	if got[3].Value != nil {
		t.Fatalf("tombstone read as %#v, want nil", got[3].Value)
	}
	appendAll(t, l2, kv{"d", []byte("1")})
	if got := readAll(t, l2); len(got) != len(want)+1 || got[len(want)].Key != "d" {
		t.Fatalf("append after restart: %q", got)
	}
}

// TestCompactedLogReadsACompactedTopic reads a log the broker compacted:
// offsets now have holes, overwritten values and the tombstoned key are
// gone, and ReadAll still ends at the log's end.
func TestCompactedLogReadsACompactedTopic(t *testing.T) {
	b := newBroker(t)
	// Tombstones are compacted away at once.
	ensureTopics(t, b.Addrs(), compactedSpec("compacted", 1, map[string]string{"delete.retention.ms": "0", "segment.ms": "1"}))
	l := openLog(t, b.Addrs(), "compacted")
	appendAll(t, l, kv{"a", []byte("1")}, kv{"b", []byte("1")}, kv{"a", []byte("2")}, kv{"b", nil}, kv{"c", []byte("1")},
		// Compaction never touches the last batch; one more write makes
		// the tombstone's batch cleanable.
		kv{"c", []byte("2")})
	b.cluster.Compact()

	got := readAll(t, l)
	// c=1 stays: like Kafka, kfake compacts a key only against records in
	// the cleanable part of the log, and c=2 is in the last batch.
	want := []kv{{"a", []byte("2")}, {"c", []byte("1")}, {"c", []byte("2")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction:\n got %q\nwant %q", got, want)
	}
}

// TestCompactedLogAppendFailsWhenBrokerGone: with the broker gone, Append
// and ReadAll fail within their bounds instead of hanging.
func TestCompactedLogAppendFailsWhenBrokerGone(t *testing.T) {
	b := newBroker(t)
	l := openLog(t, b.Addrs(), "gone", CompactedLogWriteAttempts(1), CompactedLogDialTimeout(500*time.Millisecond), CompactedLogLoadTimeout(2*time.Second))
	appendAll(t, l, kv{"k", []byte("1")})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := l.Append(ctx, []byte("k"), []byte("2")); err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("Append to a stopped broker: err = %v (context: %v), want an error naming the topic", err, ctx.Err())
	}
	if err := l.ReadAll(ctx, func(_, _ []byte) error { return nil }); err == nil || ctx.Err() != nil {
		t.Fatalf("ReadAll from a stopped broker: err = %v (context: %v)", err, ctx.Err())
	}
}

// TestCompactedLogAppendTriesWriteAttemptsTimes refuses every produce
// request with NOT_ENOUGH_REPLICAS: Append gives up after the configured
// attempts and reports Kafka's error.
func TestCompactedLogAppendTriesWriteAttemptsTimes(t *testing.T) {
	b := newBroker(t)
	l := openLog(t, b.Addrs(), "refused", CompactedLogWriteAttempts(2))
	var refused atomic.Int64
	b.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		refused.Add(1)
		resp, _ := produceRefusal(kr.(*kmsg.ProduceRequest), kafka.NotEnoughReplicas)
		return resp, nil, true
	})
	err := l.Append(context.Background(), []byte("k"), []byte("v"))
	if !errors.Is(err, kafka.NotEnoughReplicas) {
		t.Fatalf("Append = %v, want NOT_ENOUGH_REPLICAS", err)
	}
	if n := refused.Load(); n != 2 {
		t.Fatalf("%d produce requests, want 2 (the write attempts)", n)
	}
}

func TestCompactedLogReadAllStopsAtCallbackError(t *testing.T) {
	b := newBroker(t)
	l := openLog(t, b.Addrs(), "stop")
	appendAll(t, l, kv{"a", []byte("1")}, kv{"b", []byte("1")}, kv{"c", []byte("1")})
	stop := errors.New("stop here")
	calls := 0
	err := l.ReadAll(context.Background(), func(key, _ []byte) error {
		calls++
		if string(key) == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("err = %v after %d calls, want the callback's error after 2", err, calls)
	}
}

// schemaLogRecords is n records shaped like a schema registry's: JSON keys
// and values carrying a schema with a growing number of fields.
func schemaLogRecords(subjects, versions int) []Message {
	var out []Message
	for s := range subjects {
		for v := range versions {
			fields := `{"name":"id","type":"string"}`
			for i := range v {
				fields += fmt.Sprintf(`,{"name":"f%d","type":["null","string"],"default":null}`, i)
			}
			schema := fmt.Sprintf(`{"type":"record","name":"Glyph","fields":[%s]}`, fields)
			out = append(out, Message{
				Topic: SchemasTopic,
				Key:   fmt.Appendf(nil, `{"keytype":"SCHEMA","subject":"s%d","version":%d,"magic":1}`, s, v+1),
				Value: fmt.Appendf(nil, `{"subject":"s%d","version":%d,"id":%d,"schema":%q,"deleted":false}`, s, v+1, v+1, schema),
			})
		}
	}
	return out
}

// BenchmarkCompactedLogOpenAndReadAll measures what a schema registry's
// start costs in Kafka I/O over a _schemas topic holding 1000 records (100
// subjects × 10 versions): connect, check the topic, read it to its end.
// The registry's own replay of those records is measured in
// schemas/registry (BenchmarkLogStoreStartup).
func BenchmarkCompactedLogOpenAndReadAll(b *testing.B) {
	br := newBroker(b, BrokerDataDir(b.TempDir()))
	openLog(b, br.Addrs(), SchemasTopic).Close()
	sink, err := NewSink(context.Background(), br.Addrs())
	if err != nil {
		b.Fatal(err)
	}
	recs := schemaLogRecords(100, 10)
	for _, m := range recs {
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Err() != nil {
		b.Fatal(sink.Err())
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := NewCompactedLog(ctx, br.Addrs(), SchemasTopic)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := l.ReadAll(ctx, func(_, _ []byte) error { n++; return nil }); err != nil || n != len(recs) {
			b.Fatalf("read %d of %d: %v", n, len(recs), err)
		}
		l.Close()
	}
}
