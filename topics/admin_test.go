package topics

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func allSpecs(t *testing.T) []Spec {
	t.Helper()
	var specs []Spec
	for _, l := range Lanes() {
		s, err := LaneSpecs(l, 6)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s...)
	}
	return append(specs, SharedSpecs()...)
}

func statuses(outs []Outcome) map[Status]int {
	m := map[Status]int{}
	for _, o := range outs {
		m[o.Status]++
	}
	return m
}

func TestEnsureCreatesThenReportsExists(t *testing.T) {
	b := newBroker(t)
	a, err := NewAdmin(b.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	specs := allSpecs(t)
	ctx := context.Background()

	first, err := a.Ensure(ctx, specs, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(first); got[StatusCreated] != 29 || len(first) != 29 {
		t.Fatalf("first run %v: %v", got, first)
	}
	for i, o := range first {
		if o.Topic != specs[i].Name {
			t.Fatalf("outcome %d is %s, want %s (spec order)", i, o.Topic, specs[i].Name)
		}
	}
	if s := first[2].String(); s != "matriz.experimental.events: created (6 partitions, retention.ms -1)" {
		t.Errorf("outcome line %q", s)
	}

	second, err := a.Ensure(ctx, specs, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(second); got[StatusExists] != 29 {
		t.Fatalf("second run %v: %v", got, second)
	}

	// What was created is what the specs say, read back from the broker.
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 5 * time.Second}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{ControlTopic, Name(LaneProd, KindState)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics[0].Partitions) != 1 || len(md.Topics[1].Partitions) != 6 {
		t.Fatalf("partitions %d, %d", len(md.Topics[0].Partitions), len(md.Topics[1].Partitions))
	}
}

func TestEnsureReportsDiffersAndLeavesTopicAlone(t *testing.T) {
	b := newBroker(t)
	ctx := context.Background()
	events := Name(LaneProd, KindEvents)
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 5 * time.Second}
	_, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: events, NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: ConfigRetentionMs, ConfigValue: "1000"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}

	specs, _ := LaneSpecs(LaneProd, 6)
	a, _ := NewAdmin(b.Addrs())
	outs, err := a.Ensure(ctx, specs, false)
	if err != nil {
		t.Fatal(err)
	}
	if outs[2].Topic != events || outs[2].Status != StatusDiffers {
		t.Fatalf("events outcome %v", outs[2])
	}
	if want := "partitions 3 want 6; retention.ms 1000 want -1"; outs[2].Detail != want {
		t.Fatalf("detail %q, want %q", outs[2].Detail, want)
	}
	if got := statuses(outs); got[StatusCreated] != 8 {
		t.Fatalf("others %v", got)
	}

	// Never altered: still 3 partitions and retention 1000.
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{events}})
	if err != nil || len(md.Topics[0].Partitions) != 3 {
		t.Fatalf("partitions changed: %v %v", md, err)
	}
	again, _ := a.Ensure(ctx, specs[2:3], true)
	if again[0].Status != StatusDiffers || !strings.Contains(again[0].Detail, "retention.ms 1000") {
		t.Fatalf("dry run on differing topic %v", again)
	}
}

func TestEnsureDryRunCreatesNothing(t *testing.T) {
	b := newBroker(t)
	ctx := context.Background()
	specs, _ := LaneSpecs(LaneCandidate, 2)
	ensureTopics(t, b.Addrs(), specs[0])
	a, _ := NewAdmin(b.Addrs())

	outs, err := a.Ensure(ctx, specs, true)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Status != StatusExists {
		t.Fatalf("existing topic %v", outs[0])
	}
	if got := statuses(outs); got[StatusWouldCreate] != 8 {
		t.Fatalf("dry run %v", got)
	}
	// Nothing was created: a second dry run still says would create, and
	// the broker does not know the topics.
	outs, _ = a.Ensure(ctx, specs, true)
	if got := statuses(outs); got[StatusWouldCreate] != 8 {
		t.Fatalf("second dry run %v", got)
	}
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 5 * time.Second}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{specs[1].Name}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(md.Topics[0].Error, kafka.UnknownTopicOrPartition) {
		t.Fatalf("dry run created %s: %v", specs[1].Name, md.Topics[0])
	}
}

func TestEnsureReportsRefusedTopicAndGoesOn(t *testing.T) {
	b := newBroker(t)
	a, _ := NewAdmin(b.Addrs())
	specs := []Spec{
		{Name: "needs-three", Partitions: 1, ReplicationFactor: 3}, // one broker only
		streamSpec("fine", 1),
	}
	outs, err := a.Ensure(context.Background(), specs, false)
	var te *TopicError
	if !errors.As(err, &te) || te.Topic != "needs-three" {
		t.Fatalf("err = %v", err)
	}
	if outs[0].Status != StatusFailed || outs[0].Detail == "" || outs[1].Status != StatusCreated {
		t.Fatalf("outcomes %v", outs)
	}
}

func TestEnsureRefusesBadSpecsBeforeDialing(t *testing.T) {
	a, err := NewAdmin([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Ensure(context.Background(), []Spec{streamSpec("a", 1), streamSpec("a", 1)}, false)
	var se *SpecError
	if !errors.As(err, &se) || se.Reason != "listed twice" {
		t.Fatalf("err = %v", err)
	}
	_, err = a.Ensure(context.Background(), []Spec{{Name: "x"}}, false)
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v", err)
	}
}

func TestListTopicsThenDeleteTopics(t *testing.T) {
	b := newBroker(t)
	ctx := context.Background()
	ensureTopics(t, b.Addrs(), streamSpec("keep", 2), streamSpec("gone.a", 3), streamSpec("gone.b", 1))
	a, _ := NewAdmin(b.Addrs())

	all, err := a.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all["keep"] != 2 || all["gone.a"] != 3 || all["gone.b"] != 1 {
		t.Fatalf("ListTopics = %v, want keep:2 gone.a:3 gone.b:1", all)
	}
	for name := range all {
		if strings.HasPrefix(name, "__") {
			t.Errorf("ListTopics lists internal topic %s", name)
		}
	}

	// A name that does not exist is no error: its absence is the goal.
	if err := a.DeleteTopics(ctx, []string{"gone.a", "gone.b", "never-was"}); err != nil {
		t.Fatal(err)
	}
	after, err := a.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := after["gone.a"]; ok {
		t.Fatalf("gone.a still listed after DeleteTopics: %v", after)
	}
	if _, ok := after["gone.b"]; ok {
		t.Fatalf("gone.b still listed after DeleteTopics: %v", after)
	}
	if after["keep"] != 2 {
		t.Fatalf("keep lost: %v", after)
	}
}

func TestListAndDeleteTopicsUnreachable(t *testing.T) {
	a, err := NewAdmin([]string{closedAddr(t)}, AdminDialTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ListTopics(context.Background()); !errors.Is(err, ErrBrokerUnreachable) {
		t.Errorf("ListTopics: err = %v, want ErrBrokerUnreachable", err)
	}
	if err := a.DeleteTopics(context.Background(), []string{"x"}); !errors.Is(err, ErrBrokerUnreachable) {
		t.Errorf("DeleteTopics: err = %v, want ErrBrokerUnreachable", err)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableBrokerSaysWhereAndWhatToDo(t *testing.T) {
	addr := closedAddr(t)
	ctx := context.Background()
	check := func(t *testing.T, err error) {
		t.Helper()
		var ue *BrokerUnreachableError
		if !errors.As(err, &ue) || !errors.Is(err, ErrBrokerUnreachable) {
			t.Fatalf("err = %v", err)
		}
		msg := err.Error()
		for _, want := range []string{"cannot reach Kafka at " + addr, "connection refused", "matriz broker", "--brokers"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
	}
	t.Run("admin", func(t *testing.T) {
		a, err := NewAdmin([]string{addr}, AdminDialTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Ensure(ctx, SharedSpecs(), false)
		check(t, err)
	})
	t.Run("source", func(t *testing.T) {
		_, err := NewSource(ctx, []string{addr}, "g", []string{"t"})
		check(t, err)
	})
	t.Run("sink", func(t *testing.T) {
		_, err := NewSink(ctx, []string{addr})
		check(t, err)
	})
	t.Run("reachable", func(t *testing.T) {
		check(t, Reachable(ctx, []string{addr}))
	})
}

func TestAdminConfigErrors(t *testing.T) {
	for _, c := range []struct {
		brokers []string
		opts    []AdminOption
		option  string
	}{
		{nil, nil, "brokers"},
		{[]string{"nohost"}, nil, "brokers"},
		{[]string{"h:0"}, nil, "brokers"},
		{[]string{"h:1"}, []AdminOption{AdminDialTimeout(0)}, "dial timeout"},
		{[]string{"h:1"}, []AdminOption{AdminRequestTimeout(-1)}, "request timeout"},
	} {
		_, err := NewAdmin(c.brokers, c.opts...)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Option != c.option || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v: err = %v, want option %q", c.brokers, err, c.option)
		}
	}
}
