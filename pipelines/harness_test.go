package pipelines

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// testEnv is an embedded broker and registry with the lane topics deployed.
type testEnv struct {
	stack   *Stack
	brokers []string
	serde   *Serde
}

func newTestEnv(t *testing.T, lanes ...schemas.Lane) *testEnv {
	t.Helper()
	ctx := context.Background()
	stack, err := StartStack(ctx, StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	if _, err := Deploy(ctx, DeployConfig{Brokers: stack.BrokerAddrs(), RegistryURL: stack.RegistryURL, Lanes: lanes}); err != nil {
		t.Fatal(err)
	}
	client, err := NewRegistryClient(stack.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	serde, err := NewSerde(client)
	if err != nil {
		t.Fatal(err)
	}
	if err := serde.Resolve(ctx, Subjects(lanes)); err != nil {
		t.Fatal(err)
	}
	return &testEnv{stack: stack, brokers: stack.BrokerAddrs(), serde: serde}
}

// produce writes msgs (keyed by glyph id) and raw values (keyed by their
// key) to lane's messages topic and waits until Kafka acknowledged all.
func (e *testEnv) produce(t *testing.T, lane schemas.Lane, msgs []schemas.MatrizMessage, raw []topics.Message) {
	t.Helper()
	topic := topics.Name(string(lane), topics.KindMessages)
	id, err := e.serde.ID(ValueSubject(topic))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := topics.NewSink(context.Background(), e.brokers)
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]*topics.Ack, 0, len(msgs)+len(raw))
	for i := range msgs {
		val, err := schemas.AppendWire(nil, id, &msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		a := topics.NewAck()
		acks = append(acks, a)
		sink.In() <- topics.Message{Topic: topic, Key: []byte(msgs[i].Glyph.ID), Value: val, Ack: a}
	}
	for _, m := range raw {
		a := topics.NewAck()
		acks = append(acks, a)
		m.Topic, m.Ack = topic, a
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	for i, a := range acks {
		if !a.Resolved() || a.Err() != nil {
			t.Fatalf("produce: record %d not acknowledged: %v", i, a.Err())
		}
	}
}

// readAll returns every record of topic present now, in partition order.
func (e *testEnv) readAll(t *testing.T, topic string) []topics.Message {
	t.Helper()
	var mu sync.Mutex
	var out []topics.Message
	tail, err := topics.StartTail(context.Background(), e.brokers, topic, func(m topics.Message) {
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tail.CaughtUp():
	case <-time.After(60 * time.Second):
		t.Fatalf("reading %s did not catch up", topic)
	}
	tail.Close()
	mu.Lock()
	defer mu.Unlock()
	return out
}

// runLane runs lane's runtime until the returned stop is called; stop
// returns Run's error.
func (e *testEnv) runLane(t *testing.T, cfg RunConfig) (stop func() error) {
	t.Helper()
	cfg.Brokers, cfg.RegistryURL = e.brokers, e.stack.RegistryURL
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("lane runtime stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("lane runtime not ready within 30s")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = fmt.Errorf("lane runtime did not stop within 60s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// header returns a header value as a string.
func header(m topics.Message, key string) string { return string(m.Header(key)) }

func headerInt(t *testing.T, m topics.Message, key string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(header(m, key), 10, 64)
	if err != nil {
		t.Fatalf("header %s=%q: %v", key, header(m, key), err)
	}
	return n
}
