package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func requireKcat(t *testing.T) string {
	t.Helper()
	return requireTool(t, "kcat", "kcat")
}

// laneTopics is every lane topic name.
func laneTopics() []string {
	var out []string
	for _, l := range schemas.Lanes {
		for _, k := range topics.Kinds() {
			out = append(out, topics.Name(string(l), k))
		}
	}
	return out
}

// TestKcatListsLaneTopics: kcat -L (librdkafka's metadata request) sees
// every lane topic, with the partition count the broker reports to
// kafka-go.
func TestKcatListsLaneTopics(t *testing.T) {
	kcat := requireKcat(t)
	d := startDev(t)
	out := string(run(t, kcat, "-b", d.broker, "-L"))
	listed := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s+topic "([^"]+)" with (\d+) partitions:`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		listed[m[1]] = n
	}
	conn, err := kafka.Dial("tcp", d.broker)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := laneTopics()
	parts, err := conn.ReadPartitions(want...)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range parts {
		count[p.Topic]++
	}
	for _, topic := range want {
		if listed[topic] == 0 || listed[topic] != count[topic] {
			t.Errorf("%s: kcat lists %d partitions, kafka-go %d", topic, listed[topic], count[topic])
		}
	}
	t.Logf("kcat -L: %d topics listed, all %d lane topics present", len(listed), len(want))
}

// consumed is one record kcat printed: where it was and what it said.
type consumed struct {
	partition int
	offset    int64
	key       string
	msgID     string // the matriz-msg-id header
}

// kcatGroupConsume consumes n records of topic in consumer group group
// (balanced consumer mode, offsets committed on exit) and parses kcat's
// lines.
func kcatGroupConsume(t *testing.T, kcat, broker, group, topic string, n int) []consumed {
	t.Helper()
	out := string(run(t, kcat, "-b", broker, "-G", group, "-X", "auto.offset.reset=earliest", "-q",
		"-c", strconv.Itoa(n), "-f", `%p\t%o\t%k\t%h\n`, topic))
	var recs []consumed
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("kcat line %q", line)
		}
		p, err1 := strconv.Atoi(f[0])
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat line %q", line)
		}
		recs = append(recs, consumed{partition: p, offset: o, key: f[2], msgID: header(f[3], runtime.HeaderMsgID)})
	}
	return recs
}

// header finds key in kcat's %h rendering, "k1=v1,k2=v2".
func header(h, key string) string {
	for _, kv := range strings.Split(h, ",") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// readAt reads the record at partition/offset of topic with kafka-go.
func readAt(t *testing.T, broker, topic string, partition int, offset int64) kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	m, err := conn.ReadMessage(1 << 20)
	if err != nil {
		t.Fatalf("read %s[%d]@%d: %v", topic, partition, offset, err)
	}
	return m
}

// devSerde returns a registry-backed decoder for the dev stack.
func devSerde(t *testing.T, d *devProcess) *serde.Serde {
	t.Helper()
	cl, err := serde.NewRegistryClient(d.registry)
	if err != nil {
		t.Fatal(err)
	}
	s, err := serde.New(cl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKcatConsumerGroupCommittedOffsets: kcat consumes prod results in a
// consumer group twice; the second run starts where the first committed,
// so no (partition, offset) comes twice; the group's committed offsets, read
// back with kafka-go, are each partition's last consumed offset + 1; and
// every record kcat saw decodes (our codec, through the registry) to a
// result whose msg_id is the one kcat read in the header and whose key is
// the one kcat printed.
func TestKcatConsumerGroupCommittedOffsets(t *testing.T) {
	kcat := requireKcat(t)
	d := startDev(t)
	const n = 60
	topic, group := topics.Name("prod", topics.KindResults), "interop-kcat-"+uuid.NewString()[:8]
	first := kcatGroupConsume(t, kcat, d.broker, group, topic, n)
	second := kcatGroupConsume(t, kcat, d.broker, group, topic, n)
	if len(first) != n || len(second) != n {
		t.Fatalf("consumed %d then %d records, want %d each", len(first), len(second), n)
	}
	seen := map[[2]int64]bool{}
	last := map[int]int64{}
	firstLast := map[int]int64{}
	for i, recs := range [][]consumed{first, second} {
		for _, r := range recs {
			k := [2]int64{int64(r.partition), r.offset}
			if seen[k] {
				t.Errorf("run %d: partition %d offset %d delivered again", i+1, r.partition, r.offset)
			}
			seen[k] = true
			last[r.partition] = max(last[r.partition], r.offset)
			if i == 0 {
				firstLast[r.partition] = max(firstLast[r.partition], r.offset)
			}
		}
	}
	// The second run resumes each partition right after the first's commit.
	firstOf := map[int]int64{}
	for _, r := range second {
		if o, ok := firstOf[r.partition]; !ok || r.offset < o {
			firstOf[r.partition] = r.offset
		}
	}
	for p, o := range firstOf {
		if l, ok := firstLast[p]; ok && o != l+1 {
			t.Errorf("partition %d: second run starts at %d, want %d (first run's last + 1)", p, o, l+1)
		}
	}
	client := &kafka.Client{Addr: kafka.TCP(d.broker), Timeout: 10 * time.Second}
	parts := []int{}
	for p := range last {
		parts = append(parts, p)
	}
	resp, err := client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil || p.CommittedOffset != last[p.Partition]+1 {
			t.Errorf("partition %d: committed %d (%v), want %d", p.Partition, p.CommittedOffset, p.Error, last[p.Partition]+1)
		}
	}
	s := devSerde(t, d)
	for _, r := range append(first, second...) {
		m := readAt(t, d.broker, topic, r.partition, r.offset)
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(context.Background(), s.Lookup(), m.Value, &res); err != nil {
			t.Fatalf("partition %d offset %d: %v", r.partition, r.offset, err)
		}
		if res.MsgID != r.msgID || string(m.Key) != r.key || res.Lane != schemas.LaneProd || res.Node == "" {
			t.Errorf("partition %d offset %d: decoded msg_id %s lane %s node %q key %q; kcat header msg_id %s key %q",
				r.partition, r.offset, res.MsgID, res.Lane, res.Node, m.Key, r.msgID, r.key)
		}
	}
	t.Logf("kcat -G: %d + %d records over %d partitions, no offset twice, committed offsets %v", len(first), len(second), len(last), resp.Topics[topic])
}

// TestKcatProducesWireFormatInput: kcat -P writes two messages into the
// experimental lane, in the Confluent wire format with the messages
// subject's schema ids fetched from the registry (version 2, the latest,
// and version 1 for a producer still on GLYPH v1), bodies from our codec.
// The pipeline answers both: a result for each msg_id appears on the
// results topic and none in the DLQ.
func TestKcatProducesWireFormatInput(t *testing.T) {
	kcat := requireKcat(t)
	d := startDev(t)
	ctx := context.Background()
	cl, err := serde.NewRegistryClient(d.registry)
	if err != nil {
		t.Fatal(err)
	}
	subject := serde.ValueSubject(topics.Name("experimental", topics.KindMessages))
	start := time.Now()
	sid := "sid-kcat"
	want := map[string]schemas.Version{}
	for _, version := range []int{2, 1} {
		ss, err := cl.SchemaByVersion(ctx, subject, version)
		if err != nil {
			t.Fatal(err)
		}
		v := schemas.Version(version)
		msg := schemas.MatrizMessage{
			MsgID: uuid.NewString(), TS: start.UTC().Truncate(time.Microsecond), Lane: schemas.LaneExperimental,
			Glyph: schemas.Glyph{ID: uuid.NewString(), Kind: "intent", Version: v.String(), Tags: map[string]string{"via": "kcat"},
				SubjectSID: &sid, Consent: &schemas.Consent{Granted: true, Purpose: "interop"}, Provenance: []string{"kcat"}},
			Payload: schemas.Payload{"risk": 0.1, "note": "produced by kcat"},
			Topic:   "memory",
		}
		b, err := schemas.AppendWireAs(nil, uint32(ss.ID), &msg, v)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "msg.avro")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		// A file argument is sent as one message, byte for byte.
		run(t, kcat, "-b", d.broker, "-P", "-t", topics.Name("experimental", topics.KindMessages), "-k", msg.Glyph.ID, file)
		want[msg.MsgID] = v
	}
	results := topics.Name("experimental", topics.KindResults)
	since := fmt.Sprintf("s@%d", start.Add(-5*time.Second).UnixMilli())
	found := map[string]consumed{}
	clocktest.WaitFor(t, 30*time.Second, fmt.Sprintf("results for all %d produced messages", len(want)), func() bool {
		// -e ends at the topic's end, but matriz dev keeps writing results,
		// and librdkafka may chase the end for a long time: read for a
		// bounded time and look again.
		out := string(runFor(t, 5*time.Second, kcat, "-b", d.broker, "-C", "-t", results, "-o", since, "-e", "-q", "-f", `%p\t%o\t%h\n`))
		for _, line := range strings.Split(out, "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				continue
			}
			if id := header(f[2], runtime.HeaderMsgID); want[id] != 0 {
				p, _ := strconv.Atoi(f[0])
				o, _ := strconv.ParseInt(f[1], 10, 64)
				found[id] = consumed{partition: p, offset: o, msgID: id}
			}
		}
		return len(found) == len(want)
	}, func() string { return fmt.Sprintf("found %v\n%s", found, d.out) })
	s := devSerde(t, d)
	for id, c := range found {
		m := readAt(t, d.broker, results, c.partition, c.offset)
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(ctx, s.Lookup(), m.Value, &res); err != nil {
			t.Fatal(err)
		}
		if res.MsgID != id || res.Lane != schemas.LaneExperimental {
			t.Errorf("result at %d/%d: msg_id %s lane %s, want %s experimental", c.partition, c.offset, res.MsgID, res.Lane, id)
		}
	}
	dlq := string(run(t, kcat, "-b", d.broker, "-C", "-t", topics.Name("experimental", topics.KindDLQ), "-o", since, "-e", "-q", "-f", `%k\t%h\n`))
	for id := range want {
		if strings.Contains(dlq, id) {
			t.Errorf("message %s went to the DLQ:\n%s", id, dlq)
		}
	}
	t.Logf("kcat -P: %d wire-format messages (schema versions %v) answered on %s, 0 in the DLQ", len(want), want, results)
}
