package runtime

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestReplayOfOneGlyphWritesOnlyItsOutputs: a replay named to one glyph
// runs the chain over every record but writes only that glyph's outputs;
// the others count as written, so their inputs resolve and the replay
// finishes its range.
func TestReplayOfOneGlyphWritesOnlyItsOutputs(t *testing.T) {
	lane := schemas.LaneProd
	msgs := laneMessages(lane, 3, 3, time.Second)
	keep := msgs[1].Glyph.ID
	lr := &laneRuntime{lane: lane, glyph: keep, namespace: "r1", log: slog.New(slog.DiscardHandler)}
	w := newWorker(lr, 2)
	w.outs = newOutputs(string(lane), lr.namespace, laneIDs{1, 2, 3, 4}, w.inflight, func(err error) { t.Error(err) })
	f := &stages.Frame{Lane: lane, Partition: 2}
	acks := map[string]*topics.Ack{}
	for i := range msgs {
		m := &msgs[i]
		if m.Glyph.ID == keep && i != 1 {
			t.Fatalf("the synthetic glyphs repeat: %s", keep)
		}
		ack := topics.NewAck()
		acks[m.Glyph.ID] = ack
		w.inflight.put(int64(i), &pending{msg: topics.Message{Topic: "matriz.prod.messages", Partition: 2, Offset: int64(i), Key: []byte(m.Glyph.ID), Ack: ack}})
		f.Records = append(f.Records, stages.Record{Partition: 2, Offset: int64(i), Msg: m,
			Result: &schemas.MatrizResult{ID: "r" + m.MsgID, MsgID: m.MsgID, Lane: lane, Node: "router", Payload: schemas.Payload{}}})
	}
	out := w.glyphOutputs(f)
	if len(out) != 1 || string(out[0].Key) != keep || out[0].Topic != topics.ReplayName(string(lane), "r1", topics.KindResults) {
		t.Fatalf("replay of glyph %s wrote %d outputs, want its one result in the replay's namespace", keep, len(out))
	}
	for g, a := range acks {
		if g == keep {
			if a.Resolved() {
				t.Errorf("glyph %s's input resolved before its output was written", g)
			}
			continue
		}
		if !a.Resolved() || a.Err() != nil {
			t.Errorf("glyph %s's input: resolved %v err %v, want resolved as written", g, a.Resolved(), a.Err())
		}
	}
	out[0].Ack.Done(nil)
	if a := acks[keep]; !a.Resolved() {
		t.Error("the kept glyph's input did not resolve once its output was written")
	}
}

// TestReplayFromAnUnreadableCheckpointReadsNothing: a replay range that
// starts from a checkpoint whose stage state does not restore fails before
// reading a record, naming the partition and the checkpoint.
func TestReplayFromAnUnreadableCheckpointReadsNothing(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	lane := schemas.LaneProd
	chain, err := sp.Lanes[lane].Chain(lane, spec.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lr := &laneRuntime{lane: lane, chain: chain, work: context.Background(), log: slog.New(slog.DiscardHandler),
		cfg: Config{Brokers: []string{"127.0.0.1:1"}}}
	cp := &Checkpoint{Lane: string(lane), Partition: 3, Resume: 10, Next: 10, State: map[string][]byte{stages.StageDrift: []byte("not a snapshot")}}
	n, err := replayPartition(context.Background(), lr, ReplayRange{Partition: 3, From: 0, To: 20, Checkpoint: cp}, NewDecisions(20), nil)
	if err == nil || n != 0 || !strings.HasPrefix(err.Error(), "replay partition 3 from checkpoint 3@10: ") {
		t.Fatalf("replayPartition = %d, %v; want nothing read and the checkpoint named", n, err)
	}
}
