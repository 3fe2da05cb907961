package runtime

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestInflightSkipKeepsOnlyTheAcks: the records of a frame decimation
// dropped leave the in-flight set but for their Acks, which takeAcks
// hands back with the others' (so their decimation event resolves them),
// and the record bytes and decoded message are no longer held.
func TestInflightSkipKeepsOnlyTheAcks(t *testing.T) {
	fl := newInflight()
	resolved := map[int64]bool{}
	frame := &stages.Frame{}
	for off := int64(10); off < 13; off++ {
		in := &inputRecord{p: pending{msg: topics.Message{Offset: off, Value: make([]byte, 100),
			Ack: topics.NewAckFunc(func(error) { resolved[off] = true })}}}
		in.msg.MsgID = "m"
		in.p.decoded = &in.msg
		fl.put(off, &in.p)
		if off < 12 {
			frame.Records = append(frame.Records, stages.Record{Offset: off, Msg: &schemas.MatrizMessage{}})
		}
	}
	fl.skip(frame)
	for _, off := range []int64{10, 11} {
		if p := fl.peek(off); p != nil {
			t.Fatalf("offset %d: still held whole after its frame was dropped", off)
		}
	}
	if p := fl.peek(12); p == nil {
		t.Fatal("offset 12, not in the dropped frame: gone")
	}
	acks := fl.takeAcks([]int64{10, 11, 12, 13})
	if len(acks) != 3 {
		t.Fatalf("takeAcks: %d Acks, want 3 (10 and 11 skipped, 12 held, 13 unknown)", len(acks))
	}
	for _, a := range acks {
		a.Done(nil)
	}
	if len(resolved) != 3 || len(fl.m) != 0 || len(fl.skipped) != 0 {
		t.Fatalf("resolved %v, left %d held and %d skipped; want 10..12 resolved, nothing left", resolved, len(fl.m), len(fl.skipped))
	}
}
