package registry

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// startBroker starts an in-process Kafka broker keeping its data in dir.
func startBroker(t *testing.T, dir string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func startBrokerB(b *testing.B) *kfake.Cluster {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(b.TempDir()))
	if err != nil {
		b.Fatalf("kfake: %v", err)
	}
	b.Cleanup(c.Close)
	return c
}

func kafkaRegistry(t *testing.T, c *kfake.Cluster, opts ...KafkaOption) (*harness, *KafkaStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store, err := NewKafkaStore(ctx, c.ListenAddrs(), opts...)
	if err != nil {
		t.Fatalf("NewKafkaStore: %v", err)
	}
	return newHarness(t, store), store
}

func TestKafkaStoreRegistrySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	broker := startBroker(t, dir)
	h, _ := kafkaRegistry(t, broker)

	ids := map[string]int{}
	ids["glyph v1"] = h.register("matriz.glyph-value", schemaV1)
	ids["glyph v2"] = h.register("matriz.glyph-value", schemaV2)
	ids["shared"] = h.register("matriz.event-value", schemaV2) // same id as glyph v2
	ids["event v2"] = h.register("matriz.event-value", rec(fID, fNote2))
	ids["key"] = h.register("matriz.glyph-key", `"string"`)
	ids["doomed"] = h.register("doomed", rec(fID, fCountLong))
	if ids["shared"] != ids["glyph v2"] {
		t.Fatalf("same schema under two subjects: ids %d and %d", ids["shared"], ids["glyph v2"])
	}
	h.ok("PUT", "/config", map[string]string{"compatibility": "FULL"}, nil)
	h.ok("PUT", "/config/matriz.glyph-key", map[string]string{"compatibility": "NONE"}, nil)
	h.ok("DELETE", "/subjects/matriz.event-value/versions/1", nil, nil)
	h.ok("DELETE", "/subjects/doomed", nil, nil)
	h.ok("DELETE", "/subjects/doomed?permanent=true", nil, nil)
	before := takeSnapshot(h)
	if len(before.Subjects) != 3 || len(before.Versions["matriz.event-value"]) != 2 || before.Levels["matriz.glyph-key"] != "NONE" || before.Global != "FULL" {
		t.Fatalf("state before restart is not what the test set up: %+v", before)
	}

	// Stop the registry and the broker; start both again on the same data.
	if err := h.reg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	broker.Close()
	broker2 := startBroker(t, dir)
	h2, _ := kafkaRegistry(t, broker2)

	after := takeSnapshot(h2)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed across the restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// Lookups by id and the id counter come back too.
	var s struct{ Schema string }
	h2.ok("GET", "/schemas/ids/"+strconv.Itoa(ids["glyph v1"]), nil, &s)
	if s.Schema != schemaV1 {
		t.Fatalf("schema %d after restart = %q", ids["glyph v1"], s.Schema)
	}
	if id := h2.register("matriz.glyph-value", schemaV2); id != ids["glyph v2"] {
		t.Fatalf("re-registering after restart: id %d, want %d", id, ids["glyph v2"])
	}
	if id := h2.register("fresh", `"bytes"`); id <= ids["doomed"] {
		t.Fatalf("new id after restart = %d, want above %d (the permanently deleted one)", id, ids["doomed"])
	}
}

func TestKafkaStoreIDsSurviveCompaction(t *testing.T) {
	broker := startBroker(t, t.TempDir())
	// Pre-create the topic so tombstones are compacted away at once.
	createTopic(t, broker, DefaultTopic, 1, map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0", "segment.ms": "1"})
	h, _ := kafkaRegistry(t, broker)
	h.register("a", schemaV1)
	top := h.register("b", schemaV2)
	h.ok("DELETE", "/subjects/b", nil, nil)
	h.ok("DELETE", "/subjects/b?permanent=true", nil, nil)
	// Compaction never touches the last batch; one more write makes the
	// tombstones' batch cleanable.
	h.ok("PUT", "/config/a", map[string]string{"compatibility": "FULL"}, nil)
	_ = h.reg.Close()
	broker.Compact()

	h2, store := kafkaRegistry(t, broker)
	recs, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.Contains(string(r.Key), `"subject":"b"`) {
			t.Fatalf("compaction left a record of subject b: %s = %s; the test shows nothing", r.Key, r.Value)
		}
	}
	if id := h2.register("c", `"int"`); id <= top {
		t.Fatalf("id after compaction = %d, want above %d", id, top)
	}
}

func TestKafkaStoreWriteFailureIs50001(t *testing.T) {
	broker := startBroker(t, t.TempDir())
	h, _ := kafkaRegistry(t, broker, WithWriteAttempts(1), WithDialTimeout(500*time.Millisecond))
	h.register("s", schemaV1)
	broker.Close()
	h.fail("POST", "/subjects/s/versions", map[string]string{"schema": schemaV2}, CodeStorage)
	var versions []int
	h.ok("GET", "/subjects/s/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1}) {
		t.Fatalf("versions after a failed write = %v, want [1]", versions)
	}
}

func TestNewKafkaStoreRefusesBadSetups(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		brokers []string
		opts    []KafkaOption
	}{
		"no brokers":           {nil, nil},
		"address without port": {[]string{"localhost"}, nil},
		"empty topic":          {[]string{"127.0.0.1:9092"}, []KafkaOption{WithTopic("")}},
		"negative replication": {[]string{"127.0.0.1:9092"}, []KafkaOption{WithReplicationFactor(-1)}},
		"zero attempts":        {[]string{"127.0.0.1:9092"}, []KafkaOption{WithWriteAttempts(0)}},
		"zero load timeout":    {[]string{"127.0.0.1:9092"}, []KafkaOption{WithLoadTimeout(0)}},
	} {
		if _, err := NewKafkaStore(ctx, c.brokers, c.opts...); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}

	// Nothing listens on a port we just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewKafkaStore(ctx, []string{addr}, WithDialTimeout(time.Second))
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable broker: err = %v, want ErrStorage naming %s", err, addr)
	}

	broker := startBroker(t, t.TempDir())
	createTopic(t, broker, "three", 3, map[string]string{"cleanup.policy": "compact"})
	_, err = NewKafkaStore(ctx, broker.ListenAddrs(), WithTopic("three"))
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "3 partitions") {
		t.Fatalf("3-partition topic: err = %v", err)
	}
	createTopic(t, broker, "deleting", 1, map[string]string{"cleanup.policy": "delete"})
	_, err = NewKafkaStore(ctx, broker.ListenAddrs(), WithTopic("deleting"))
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "cleanup.policy=delete") {
		t.Fatalf("non-compacted topic: err = %v", err)
	}
}

func TestKafkaStoreCreatesCompactedTopic(t *testing.T) {
	broker := startBroker(t, t.TempDir())
	_, store := kafkaRegistry(t, broker, WithTopic("_schemas_test"))
	cl := &kafka.Client{Addr: kafka.TCP(broker.ListenAddrs()...)}
	resp, err := cl.DescribeConfigs(context.Background(), &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{ResourceType: kafka.ResourceTypeTopic, ResourceName: "_schemas_test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, e := range resp.Resources[0].ConfigEntries {
		if e.ConfigName == "cleanup.policy" {
			policy = e.ConfigValue
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy = %q, want compact", policy)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := store.Append(context.Background(), Record{Key: []byte("k")}); err == nil {
		t.Fatal("Append after Close succeeded")
	}
}

func createTopic(t *testing.T, c *kfake.Cluster, name string, partitions int, configs map[string]string) {
	t.Helper()
	conn, err := kafka.Dial("tcp", c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var entries []kafka.ConfigEntry
	for k, v := range configs {
		entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: entries}); err != nil {
		t.Fatal(err)
	}
}
