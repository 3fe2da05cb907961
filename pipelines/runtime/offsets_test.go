package runtime

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/topics"
)

// TestAckBookOldestIsTheOldestReadNotCommitted: the oldest uncommitted
// record is the earliest read still in the book, whether the commit took
// a prefix or left an open frame's record behind; none when all are
// committed.
func TestAckBookOldestIsTheOldestReadNotCommitted(t *testing.T) {
	var b ackBook
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := b.oldest(); ok {
		t.Fatal("an empty book has an oldest record")
	}
	for off := int64(10); off < 20; off++ {
		b.put(off, topics.NewAck(), t0.Add(time.Duration(off)*time.Second))
	}
	check := func(what string, want time.Time, wantOK bool) {
		t.Helper()
		got, ok := b.oldest()
		if ok != wantOK || !got.Equal(want) {
			t.Fatalf("%s: oldest %v %v, want %v %v", what, got, ok, want, wantOK)
		}
	}
	check("nothing committed", t0.Add(10*time.Second), true)
	b.forget(&Checkpoint{Next: 14})
	check("10..13 committed", t0.Add(14*time.Second), true)
	b.forget(&Checkpoint{Next: 18, Open: []int64{15}}) // 15's frame is still open
	check("14..17 committed but 15", t0.Add(15*time.Second), true)
	b.forget(&Checkpoint{Next: 20})
	check("all committed", time.Time{}, false)
	if len(b.reads) != 0 {
		t.Fatalf("%d reads kept after all were committed", len(b.reads))
	}
}
