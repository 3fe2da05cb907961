package runtime

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestSinkPoolKeepsEachPartitionsOrder: six partitions write at once
// through a pool of three Sinks; every Sink takes a share, each partition
// always goes through the same one, and every partition's records reach
// the topic complete and in the order it sent them.
func TestSinkPoolKeepsEachPartitionsOrder(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	topic := topics.Name(string(schemas.LaneProd), topics.KindResults)
	pool, err := newSinkPool(context.Background(), 3, env.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	const partitions, each = 6, 300
	for p := range int32(partitions) {
		if pool.of(p) != pool.of(p) || pool.of(p) != pool.sinks[int(p)%3] {
			t.Fatalf("partition %d does not keep one Sink", p)
		}
	}
	var wg sync.WaitGroup
	for p := range int32(partitions) {
		wg.Go(func() {
			for i := range each {
				m := topics.Message{Topic: topic, Key: fmt.Appendf(nil, "p%d", p), Value: strconv.AppendInt(nil, int64(i), 10)}
				if !pool.send(p, m) {
					t.Errorf("partition %d: send %d refused on an open pool", p, i)
					return
				}
			}
		})
	}
	wg.Wait()
	pool.close()
	for i, s := range pool.sinks {
		if s.Written() == 0 || s.Failed() != 0 {
			t.Errorf("Sink %d wrote %d and failed %d, want a share and no failure", i, s.Written(), s.Failed())
		}
	}
	next := map[string]int{}
	for _, m := range env.ReadAll(t, topic) {
		got, _ := strconv.Atoi(string(m.Value))
		if want := next[string(m.Key)]; got != want {
			t.Fatalf("key %s: record %d where %d was next", m.Key, got, want)
		}
		next[string(m.Key)]++
	}
	for p := range partitions {
		if n := next[fmt.Sprintf("p%d", p)]; n != each {
			t.Errorf("partition %d: %d of %d records on the topic", p, n, each)
		}
	}
	if pool.send(0, topics.Message{Topic: topic}) {
		t.Error("a send after close was handed over")
	}
}
