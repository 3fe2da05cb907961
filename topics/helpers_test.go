package topics

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/matriz/pipelines/topics/topicstest"
)

// testTimeout bounds every wait on the embedded broker; tests never sleep,
// they wait on channels with this as the failure deadline.
const testTimeout = 30 * time.Second

func newBroker(t testing.TB, opts ...BrokerOption) *Broker {
	t.Helper()
	pools := topicstest.Pools()
	b, err := StartBroker(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		topicstest.CloseDefaultTransport()
		topicstest.ExpectNoPoolsLeft(t, pools)
	})
	return b
}

func ensureTopics(t testing.TB, addrs []string, specs ...Spec) {
	t.Helper()
	a, err := NewAdmin(addrs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Ensure(context.Background(), specs, false); err != nil {
		t.Fatal(err)
	}
}

func streamSpec(name string, partitions int) Spec {
	return Spec{Name: name, Partitions: partitions, ReplicationFactor: ReplicationByCluster}
}

// testRecord is record i of a test stream: key k<i mod 50>, a 200-byte
// value naming i, and two headers.
func testRecord(topic string, i int) Message {
	v := fmt.Appendf(nil, "value-%06d-", i)
	for len(v) < 200 {
		v = append(v, 'x')
	}
	return Message{
		Topic: topic,
		Key:   fmt.Appendf(nil, "glyph-%02d", i%50),
		Value: v,
		Headers: []Header{
			{Key: "traceparent", Value: fmt.Appendf(nil, "00-%032x-%016x-01", i, i)},
			{Key: "seq", Value: fmt.Appendf(nil, "%d", i)},
		},
	}
}

// produce writes n test records to topic through a Sink and waits for acks.
func produce(t testing.TB, addrs []string, topic string, n int) {
	t.Helper()
	sink, err := NewSink(context.Background(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sink.In() <- testRecord(topic, i)
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Written() != int64(n) || sink.Err() != nil {
		t.Fatalf("produced %d of %d: %v", sink.Written(), n, sink.Err())
	}
}

// take reads n Messages from ch or fails the test at testTimeout.
func take(t testing.TB, ch <-chan any, n int) []Message {
	t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	out := make([]Message, 0, n)
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %d of %d", len(out), n)
			}
			out = append(out, e.(Message))
		case <-deadline.C:
			per := map[int32]int{}
			for _, m := range out {
				per[m.Partition]++
			}
			t.Fatalf("got %d of %d messages in %v (per partition %v)", len(out), n, testTimeout, per)
		}
	}
	return out
}

// committedOffsets returns the group's committed offset per partition of
// topic (-1 where none).
func committedOffsets(t testing.TB, addrs []string, group, topic string, partitions int) []int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 10 * time.Second}
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	res, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	out := make([]int64, partitions)
	for i := range out {
		out[i] = -1
	}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("partition %d: %v", p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// endOffsets returns the high watermark per partition of topic.
func endOffsets(t testing.TB, addrs []string, topic string, partitions int) []int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 10 * time.Second}
	reqs := make([]kafka.OffsetRequest, partitions)
	for i := range reqs {
		reqs[i] = kafka.LastOffsetOf(i)
	}
	res, err := cl.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, partitions)
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			t.Fatal(p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out
}

// sum adds offsets, counting "none" (-1) as 0.
func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += max(x, 0)
	}
	return s
}

// refuseFetches makes b answer every fetch with code on every partition
// asked for, while refusing reports true (nil: for good), counting each
// refused request in refused (may be nil). Once refusing reports false the
// fault lifts and fetches reach the broker again.
func refuseFetches(b *Broker, code kafka.Error, refusing func() bool, refused *atomic.Int64) {
	b.cluster.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		if refusing != nil && !refusing() {
			b.cluster.DropControl()
			return nil, nil, false
		}
		b.cluster.KeepControl()
		if refused != nil {
			refused.Add(1)
		}
		req := kr.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = int16(code)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}
