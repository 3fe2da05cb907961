package runtime

import (
	"testing"

	"github.com/matriz/pipelines/topics"
)

func TestChunksKeepOrderAndBoundEachHandoff(t *testing.T) {
	for _, n := range []int{0, 1, handoffChunk - 1, handoffChunk, handoffChunk + 1, 3*handoffChunk + 7} {
		ms := make([]topics.Message, n)
		for i := range ms {
			ms[i].Offset = int64(i)
		}
		got := chunks(ms)
		if want := (n + handoffChunk - 1) / handoffChunk; len(got) != want {
			t.Fatalf("%d records: %d chunks, want %d", n, len(got), want)
		}
		next := int64(0)
		for _, c := range got {
			if len(c) == 0 || len(c) > handoffChunk || cap(c) > handoffChunk && len(c) == handoffChunk {
				t.Fatalf("%d records: a chunk of %d (cap %d), want 1..%d", n, len(c), cap(c), handoffChunk)
			}
			for _, m := range c {
				if m.Offset != next {
					t.Fatalf("%d records: offset %d where %d was due", n, m.Offset, next)
				}
				next++
			}
		}
		if next != int64(n) {
			t.Fatalf("%d records: %d handed over", n, next)
		}
	}
	if laneSinkQueue*handoffChunk != topics.DefaultSinkBatchSize {
		t.Fatalf("the lane sink queues %d records, want the Sink's batch size %d", laneSinkQueue*handoffChunk, topics.DefaultSinkBatchSize)
	}
}
