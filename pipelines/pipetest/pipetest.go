// Package pipetest is the test harness the pipelines packages and the CLI's
// tests share: an embedded broker and schema registry with lanes deployed,
// and helpers that produce to a lane's messages topic and read any topic
// back, over the real Kafka and registry protocols.
package pipetest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
	"github.com/matriz/pipelines/topics/topicstest"
)

// ReadTimeout bounds how long reading a topic to its end may go without a
// record.
const ReadTimeout = 60 * time.Second

// Env is an embedded broker and registry with lanes deployed.
type Env struct {
	Stack       *devstack.Deployed
	Brokers     []string
	RegistryURL string
	Serde       *serde.Serde
}

// Start starts the stack, deploys lanes and resolves their schema ids. The
// stack stops when the test ends.
func Start(t testing.TB, lanes ...schemas.Lane) *Env {
	t.Helper()
	pools := topicstest.Pools()
	stack, err := devstack.StartDeployed(context.Background(), devstack.Config{}, nil, lanes...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stack.Close()
		topicstest.CloseDefaultTransport()
		topicstest.ExpectNoPoolsLeft(t, pools)
	})
	return &Env{Stack: stack, Brokers: stack.BrokerAddrs(), RegistryURL: stack.RegistryURL, Serde: stack.Serde}
}

// Encode returns msgs in the wire format of lane's messages topic (latest
// schema version), keyed by glyph id.
func (e *Env) Encode(t testing.TB, lane schemas.Lane, msgs []schemas.MatrizMessage) []topics.Message {
	t.Helper()
	return e.EncodeAs(t, lane, schemas.Latest, msgs)
}

// EncodeAs is Encode with the schema version a producer pinned to ver
// writes.
func (e *Env) EncodeAs(t testing.TB, lane schemas.Lane, ver schemas.Version, msgs []schemas.MatrizMessage) []topics.Message {
	t.Helper()
	id, err := e.Serde.IDAs(serde.ValueSubject(topics.Name(string(lane), topics.KindMessages)), ver)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]topics.Message, len(msgs))
	for i := range msgs {
		val, err := schemas.AppendWireAs(nil, id, &msgs[i], ver)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = topics.Message{Key: []byte(msgs[i].Glyph.ID), Value: val}
	}
	return out
}

// Produce writes msgs (keyed by glyph id) and then raw records to lane's
// messages topic and waits until Kafka acknowledged all of them.
func (e *Env) Produce(t testing.TB, lane schemas.Lane, msgs []schemas.MatrizMessage, raw []topics.Message) {
	t.Helper()
	e.Write(t, topics.Name(string(lane), topics.KindMessages), append(e.Encode(t, lane, msgs), raw...))
}

// Write writes records to topic and waits until Kafka acknowledged all.
func (e *Env) Write(t testing.TB, topic string, recs []topics.Message) {
	t.Helper()
	sink, err := topics.NewSink(context.Background(), e.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]*topics.Ack, len(recs))
	for i, m := range recs {
		acks[i] = topics.NewAck()
		m.Topic, m.Ack = topic, acks[i]
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	for i, a := range acks {
		if !a.Resolved() || a.Err() != nil {
			t.Fatalf("write to %s: record %d not acknowledged: %v", topic, i, a.Err())
		}
	}
}

// ReadAll returns every record of topic present now, in partition order.
func (e *Env) ReadAll(t testing.TB, topic string) []topics.Message {
	t.Helper()
	var mu sync.Mutex
	var out []topics.Message
	tail, err := topics.StartTail(context.Background(), e.Brokers, topic, func(m topics.Message) {
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A long topic read under the race detector can take longer than any
	// fixed deadline while still advancing: give up only when no record
	// arrived for ReadTimeout.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, quiet := -1, time.Duration(0)
	for caught := false; !caught; {
		select {
		case <-tail.CaughtUp():
			caught = true
		case <-tick.C:
			mu.Lock()
			n := len(out)
			mu.Unlock()
			if n != last {
				last, quiet = n, 0
				continue
			}
			if quiet += time.Second; quiet >= ReadTimeout {
				t.Fatalf("reading %s made no progress for %v (%d records read)", topic, ReadTimeout, n)
			}
		}
	}
	tail.Close()
	mu.Lock()
	defer mu.Unlock()
	return out
}

// Header returns a header value as a string.
func Header(m topics.Message, key string) string { return string(m.Header(key)) }

// HeaderInt returns a header value as an integer, failing t when it is not.
func HeaderInt(t testing.TB, m topics.Message, key string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(Header(m, key), 10, 64)
	if err != nil {
		t.Fatalf("header %s=%q: %v", key, Header(m, key), err)
	}
	return n
}
