package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// glyphsOn returns n glyph ids whose records land on partition p of a
// topic with parts partitions (murmur2, the Sink's partitioner).
func glyphsOn(n, p, parts int) []string {
	b := &kafka.Murmur2Balancer{}
	ps := make([]int, parts)
	for i := range ps {
		ps[i] = i
	}
	var out []string
	for i := 0; len(out) < n; i++ {
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "bigstate/%d", i)).String()
		if b.Balance(kafka.Message{Key: []byte(id)}, ps...) == p {
			out = append(out, id)
		}
	}
	return out
}

// driftGlyphs returns how many glyphs the drift snapshot in cp holds.
func driftGlyphs(t *testing.T, cp *Checkpoint) int {
	t.Helper()
	var env struct {
		State struct {
			Glyphs map[string]json.RawMessage `json:"glyphs"`
		} `json:"state"`
	}
	if err := json.Unmarshal(cp.State["drift"], &env); err != nil {
		t.Fatalf("drift snapshot: %v", err)
	}
	return len(env.State.Glyphs)
}

// TestTenThousandGlyphsOnAPartitionKeepStateAcrossARestart sends 10,000
// glyphs' messages to one partition: drift's glyph map alone makes the
// partition's cut larger than a record may be. The lane keeps running
// (the cut is written in chunks), and a restarted lane restores all of it.
func TestTenThousandGlyphsOnAPartitionKeepStateAcrossARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a >1 MB cut on the embedded broker (skipped with -short)")
	}
	const glyphs = 10_000
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	in := topics.Name(string(lane), topics.KindMessages)
	parts := len(env.Ends(t, in))
	ids := glyphsOn(glyphs, 0, parts)
	gen := devstack.NewSynthetic(lane, 61, 1)
	base := time.Now().Add(-time.Minute)
	msgs := make([]schemas.MatrizMessage, glyphs)
	for i := range msgs {
		msgs[i] = gen.Next(base.Add(time.Duration(i) * time.Millisecond))
		msgs[i].Glyph.ID = ids[i]
	}
	env.Produce(t, lane, msgs, nil)

	group := GroupName("", lane)
	counters := &observe.LaneCounters{}
	stop := runLane(t, env, Config{Lane: lane, Counters: counters})
	waitCounted(t, counters, glyphs, 90*time.Second)
	env.WaitCommitted(t, in, group, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("the lane stopped with an error: %v", err)
	}
	cp, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), env.Brokers, topics.Name(string(lane), topics.KindState), 0, 30*time.Second, newStateChunks(0))
	if err != nil || cp == nil {
		t.Fatalf("partition 0's cut: %v (%v)", err, cp)
	}
	size := len(mustEncode(t, cp))
	if n := driftGlyphs(t, cp); n != glyphs || size <= topics.MaxRecordBytes {
		t.Fatalf("cut holds %d glyphs in %d bytes; want %d glyphs in more than one record's %d bytes", n, size, glyphs, topics.MaxRecordBytes)
	}

	// A restart restores the chunked cut and goes on from it.
	var logs syncBuffer
	counters2 := &observe.LaneCounters{}
	stop = runLane(t, env, Config{Lane: lane, Counters: counters2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	more := make([]schemas.MatrizMessage, 100)
	for i := range more {
		more[i] = gen.Next(time.Now().Add(-time.Second))
		more[i].Glyph.ID = ids[i]
	}
	env.Produce(t, lane, more, nil)
	waitCounted(t, counters2, int64(len(more)), 60*time.Second)
	env.WaitCommitted(t, in, group, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("restarted lane: %v", err)
	}
	out := logs.String()
	if strings.Contains(out, "partition not ready") || !strings.Contains(out, "state restored") {
		t.Fatalf("restart did not restore the chunked cut cleanly:\n%s", out)
	}
	cp2, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), env.Brokers, topics.Name(string(lane), topics.KindState), 0, 30*time.Second, newStateChunks(0))
	if err != nil {
		t.Fatal(err)
	}
	if n := driftGlyphs(t, cp2); n != glyphs || cp2.Next <= cp.Next {
		t.Fatalf("after the restart the cut %s holds %d glyphs, want %d past %s", cp2.ID(), n, glyphs, cp.ID())
	}
	t.Logf("partition 0: %d glyphs, a %d-byte cut in chunks; restored after a restart and carried on to %s", glyphs, size, cp2.ID())
}
