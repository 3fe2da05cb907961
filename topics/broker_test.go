package topics

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestBrokerListensOnTheAddressAsked(t *testing.T) {
	addr := closedAddr(t) // a free port
	b := newBroker(t, BrokerListen(addr))
	if got := b.Addrs(); !slices.Equal(got, []string{addr}) {
		t.Fatalf("Addrs = %v, want [%s]", got, addr)
	}
	ensureTopics(t, b.Addrs(), streamSpec("t", 1))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBrokerBusyPortIsAClearError(t *testing.T) {
	first := newBroker(t)
	_, err := StartBroker(BrokerListen(first.Addrs()[0]))
	var le *ListenError
	if !errors.As(err, &le) || !errors.Is(err, ErrListen) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, first.Addrs()[0]) || !strings.Contains(msg, "--listen") {
		t.Fatalf("message %q", msg)
	}
}

func TestBrokerDataDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	newBroker(t, BrokerDataDir(dir))
	_, err := StartBroker(BrokerDataDir(dir))
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v", err)
	}
}

func TestBrokerConfigErrors(t *testing.T) {
	for _, c := range []struct {
		opt    BrokerOption
		option string
	}{
		{BrokerListen("nohost"), "listen"},
		{BrokerListen("0.0.0.0:9092"), "listen"},
		{BrokerListen("[::]:9092"), "listen"},
		{BrokerListen(":9092"), "listen"},
		{BrokerListen("127.0.0.1:70000"), "listen"},
		{BrokerPartitions(0), "partitions"},
	} {
		_, err := StartBroker(c.opt)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Option != c.option {
			t.Errorf("err = %v, want option %q", err, c.option)
		}
	}
}

func TestBrokerDefaultPartitions(t *testing.T) {
	b := newBroker(t, BrokerPartitions(4))
	// The default applies to topics created without a count (-1).
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 5 * time.Second}
	res, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "dflt", NumPartitions: -1, ReplicationFactor: -1}}})
	if err != nil || res.Errors["dflt"] != nil {
		t.Fatalf("%v %v", res, err)
	}
	md, err := cl.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{"dflt"}})
	if err != nil || len(md.Topics[0].Partitions) != 4 {
		t.Fatalf("partitions: %v %v", md, err)
	}
}

// TestBrokerRestartKeepsTopicsRecordsAndOffsets is the data-dir contract:
// produce, commit offsets in a group, close, reopen on the same dir, and
// read back the records and the committed offsets.
func TestBrokerRestartKeepsTopicsRecordsAndOffsets(t *testing.T) {
	dir := t.TempDir()
	const n, parts = 300, 3
	ctx := context.Background()

	b, err := StartBroker(BrokerDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addrs := b.Addrs()
	ensureTopics(t, addrs, Spec{Name: "kept", Partitions: parts, ReplicationFactor: -1, Configs: map[string]string{ConfigRetentionMs: "-1"}})
	produce(t, addrs, "kept", n)

	// Consume the first 100 of the group's records and ack them all; the
	// committed offsets then sum to 100.
	src, err := NewSource(ctx, addrs, "g", []string{"kept"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range take(t, src.Out(), 100) {
		m.Ack.Done(nil)
	}
	// Records fetched past the 100 were emitted but never acked: Close
	// must not commit them. A zero drain keeps Close from waiting on them.
	src.cfg.drainTimeout = 0
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	before := committedOffsets(t, addrs, "g", "kept", parts)
	if sum(before) != 100 {
		t.Fatalf("committed %v (sum %d), want sum 100", before, sum(before))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Same dir, new process-equivalent broker; it may get another port.
	b2 := newBroker(t, BrokerDataDir(dir))
	addrs = b2.Addrs()
	if got := endOffsets(t, addrs, "kept", parts); sum(got) != n {
		t.Fatalf("end offsets after restart %v, want sum %d", got, n)
	}
	if got := committedOffsets(t, addrs, "g", "kept", parts); !slices.Equal(got, before) {
		t.Fatalf("committed after restart %v, want %v", got, before)
	}
	a, _ := NewAdmin(addrs)
	outs, err := a.Ensure(ctx, []Spec{{Name: "kept", Partitions: parts, ReplicationFactor: -1, Configs: map[string]string{ConfigRetentionMs: "-1"}}}, false)
	if err != nil || outs[0].Status != StatusExists {
		t.Fatalf("topic config after restart: %v %v", outs, err)
	}

	// The group resumes at its committed offsets: exactly the other 200
	// records, with their values and headers intact.
	src, err = NewSource(ctx, addrs, "g", []string{"kept"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seen := map[string]bool{}
	for _, m := range take(t, src.Out(), n-100) {
		if string(m.Header("seq")) == "" || len(m.Value) != 200 {
			t.Fatalf("record lost its content: %+v", m)
		}
		seen[string(m.Header("seq"))] = true
		m.Ack.Done(nil)
	}
	if len(seen) != n-100 {
		t.Fatalf("%d distinct records after restart, want %d", len(seen), n-100)
	}
}
