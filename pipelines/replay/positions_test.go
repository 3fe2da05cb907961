package replay_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func TestParsePositionForms(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 250_000_000, time.FixedZone("", 2*3600))
	for _, c := range []struct {
		in   string
		want replay.Position
	}{
		{"start", replay.Position{Kind: replay.PositionStart}},
		{"earliest", replay.Position{Kind: replay.PositionStart}},
		{" END ", replay.Position{Kind: replay.PositionEnd}},
		{"latest", replay.Position{Kind: replay.PositionEnd}},
		{"2026-03-01T12:00:00.25+02:00", replay.Position{Kind: replay.PositionTime, Time: at}},
		{"0:120", replay.Position{Kind: replay.PositionOffsets, Offsets: map[int32]int64{0: 120}}},
		{"0:120, 3:75", replay.Position{Kind: replay.PositionOffsets, Offsets: map[int32]int64{0: 120, 3: 75}}},
		{"2@4096", replay.Position{Kind: replay.PositionCheckpoint, CheckpointID: "2@4096"}},
	} {
		got, err := replay.ParsePosition(c.in)
		if err != nil {
			t.Errorf("ParsePosition(%q): %v", c.in, err)
			continue
		}
		if got.Kind != c.want.Kind || !got.Time.Equal(c.want.Time) || !maps.Equal(got.Offsets, c.want.Offsets) || got.CheckpointID != c.want.CheckpointID {
			t.Errorf("ParsePosition(%q) = %+v, want %+v", c.in, got, c.want)
		}
		// String gives back a form that parses to the same position.
		again, err := replay.ParsePosition(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("ParsePosition(%q).String() = %q does not read back: %v", c.in, got.String(), err)
		}
	}
}

func TestParsePositionRefusesWithTheAcceptedForms(t *testing.T) {
	for in, reason := range map[string]string{
		"":                     "empty",
		"beginning":            "not a keyword",
		"2026-03-01 12:00:00":  "RFC 3339",
		"2026-03-01":           "RFC 3339",
		"1969-12-31T23:59:59Z": "before 1970",
		"0:":                   `offset ""`,
		"0:-5":                 `offset "-5"`,
		"x:5":                  `partition "x"`,
		"0:5,0:6":              "partition 0 named twice",
		"0:5;1:6":              `offset "5;1:6"`,
		"-1@5":                 "0 or more",
	} {
		_, err := replay.ParsePosition(in)
		var pe *replay.PositionError
		if !errors.As(err, &pe) || !errors.Is(err, replay.ErrBadPosition) {
			t.Errorf("ParsePosition(%q): err = %v, want a *PositionError", in, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, reason) || !strings.Contains(msg, replay.PositionForms) {
			t.Errorf("ParsePosition(%q): %q lacks %q or the accepted forms", in, msg, reason)
		}
	}
}

// posTopic is a 3-partition topic with 5, 40 and 0 records whose
// timestamps the test sets: partition 0 every 10 s from base, partition 1
// every second from base+500ms.
const posTopic = "positions.uneven"

var posBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func posTimestamps() map[int32][]time.Time {
	ts := map[int32][]time.Time{2: nil}
	for i := range 5 {
		ts[0] = append(ts[0], posBase.Add(time.Duration(i)*10*time.Second))
	}
	for i := range 40 {
		ts[1] = append(ts[1], posBase.Add(500*time.Millisecond+time.Duration(i)*time.Second))
	}
	return ts
}

// produceStamped writes records with the given timestamps to one
// partition, acks=all; the Sink cannot: it picks partitions by key.
func produceStamped(t *testing.T, brokers []string, topic string, partition int32, stamps []time.Time) {
	t.Helper()
	if len(stamps) == 0 {
		return
	}
	recs := make([]kafka.Record, len(stamps))
	for i, ts := range stamps {
		recs[i] = kafka.Record{Time: ts, Key: kafka.NewBytes(fmt.Appendf(nil, "k%d", i)), Value: kafka.NewBytes(fmt.Appendf(nil, "p%d-%d", partition, i))}
	}
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := cl.Produce(context.Background(), &kafka.ProduceRequest{
		Topic: topic, Partition: int(partition), RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(recs...),
	})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, partition, err)
	}
}

func startUneven(t *testing.T) (*pipetest.Env, map[int32][]time.Time) {
	t.Helper()
	env := pipetest.Start(t)
	admin, err := topics.NewAdmin(env.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Ensure(context.Background(), []topics.Spec{{Name: posTopic, Partitions: 3, ReplicationFactor: topics.ReplicationByCluster}}, false); err != nil {
		t.Fatal(err)
	}
	ts := posTimestamps()
	for p, stamps := range ts {
		produceStamped(t, env.Brokers, posTopic, p, stamps)
	}
	return env, ts
}

func TestResolveTimeLandsOnTheFirstRecordAtOrAfterIt(t *testing.T) {
	env, stamps := startUneven(t)
	// want is the definition, computed from what was written: the first
	// offset whose timestamp is at or after at, else the end.
	want := func(at time.Time) map[int32]int64 {
		out := map[int32]int64{}
		for p, ts := range stamps {
			i, _ := slices.BinarySearchFunc(ts, at, func(a, b time.Time) int { return a.Compare(b) })
			out[p] = int64(i)
		}
		return out
	}
	for _, at := range []time.Time{
		posBase.Add(-time.Hour),       // before everything: 0, 0, 0
		posBase,                       // exactly partition 0's first record
		posBase.Add(15 * time.Second), // between records in 0 and in 1
		posBase.Add(20 * time.Second), // exactly a record of 0
		posBase.Add(20*time.Second + 500*time.Millisecond),                   // exactly a record of 1
		posBase.Add(39*time.Second + 500*time.Millisecond + time.Nanosecond), // inside the last record's millisecond: past it
		posBase.Add(41 * time.Second),                                        // after everything: the ends 5, 40, 0
	} {
		pos, err := replay.ParsePosition(at.Format(time.RFC3339Nano))
		if err != nil {
			t.Fatal(err)
		}
		got, err := replay.ResolvePositions(context.Background(), env.Brokers, posTopic, pos)
		if err != nil {
			t.Fatalf("%s: %v", at.Format(time.RFC3339Nano), err)
		}
		if w := want(at); !maps.Equal(got, w) {
			t.Errorf("%s: resolved %v, want %v", at.Format(time.RFC3339Nano), got, w)
		}
	}
	// Spot checks of the definition itself, so a wrong want cannot hide.
	if w := want(posBase.Add(15 * time.Second)); w[0] != 2 || w[1] != 15 || w[2] != 0 {
		t.Fatalf("want(+15s) = %v", w)
	}
}

func TestResolveStartEndAndOffsets(t *testing.T) {
	env, _ := startUneven(t)
	ctx := context.Background()
	resolve := func(spec string) (map[int32]int64, error) {
		pos, err := replay.ParsePosition(spec)
		if err != nil {
			t.Fatal(err)
		}
		return replay.ResolvePositions(ctx, env.Brokers, posTopic, pos)
	}
	for spec, want := range map[string]map[int32]int64{
		"start":   {0: 0, 1: 0, 2: 0},
		"end":     {0: 5, 1: 40, 2: 0},
		"1:17":    {1: 17}, // only the named partition: the others are not in the map
		"0:5,2:0": {0: 5, 2: 0},
		"1:40":    {1: 40}, // an end offset is a valid place: nothing after it yet
	} {
		got, err := resolve(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: %v, want %v", spec, got, want)
		}
	}

	_, err := resolve("1:41")
	var re *replay.OffsetRangeError
	if !errors.As(err, &re) || re.Partition != 1 || re.Start != 0 || re.End != 40 || !errors.Is(err, replay.ErrOffsetOutOfRange) {
		t.Errorf("1:41: err = %v, want an OffsetRangeError on partition 1 [0, 40]", err)
	}
	_, err = resolve("0:1,7:0")
	var pe *replay.PartitionError
	if !errors.As(err, &pe) || pe.Partition != 7 || pe.Partitions != 3 || !strings.Contains(err.Error(), "0 to 2") {
		t.Errorf("7:0: err = %v, want a PartitionError naming 0 to 2", err)
	}
	_, err = replay.ResolvePositions(ctx, env.Brokers, "no.such.topic", replay.Position{Kind: replay.PositionStart})
	if !errors.Is(err, replay.ErrNoTopic) || !strings.Contains(err.Error(), "matriz deploy") {
		t.Errorf("missing topic: err = %v", err)
	}
	_, err = replay.ResolvePositions(ctx, env.Brokers, posTopic, replay.Position{Kind: replay.PositionCheckpoint, CheckpointID: "0@1"})
	if !errors.Is(err, replay.ErrBadPosition) || !strings.Contains(err.Error(), "FindCheckpoint") {
		t.Errorf("checkpoint: err = %v", err)
	}
}

func TestResolveUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = replay.ResolvePositions(context.Background(), []string{addr}, posTopic, replay.Position{Kind: replay.PositionEnd})
	if !errors.Is(err, topics.ErrBrokerUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want the project's unreachable error naming %s", err, addr)
	}
}

// writeCheckpoints writes cps to lane's checkpoints topic as the runtime
// does (key StateKey(partition), JSON), then raw records.
func writeCheckpoints(t *testing.T, env *pipetest.Env, lane schemas.Lane, cps []runtime.Checkpoint, raw ...topics.Message) {
	t.Helper()
	var recs []topics.Message
	for i := range cps {
		b, err := runtime.EncodeCheckpoint(&cps[i])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, topics.Message{Key: []byte(runtime.StateKey(cps[i].Partition)), Value: b})
	}
	env.Write(t, topics.Name(string(lane), topics.KindCheckpoints), append(recs, raw...))
}

func TestFindCheckpointAndCheckpointAtOrBefore(t *testing.T) {
	lane := schemas.LaneExperimental
	env := pipetest.Start(t, lane)
	ctx := context.Background()
	l := string(lane)
	writeCheckpoints(t, env, lane, []runtime.Checkpoint{
		{Lane: l, Partition: 0, Resume: 8, Next: 10, Open: []int64{8, 9}},
		{Lane: l, Partition: 0, Resume: 20, Next: 25, State: map[string][]byte{"drift": []byte("d25")}},
		{Lane: l, Partition: 3, Resume: 7, Next: 7},
		{Lane: l, Partition: 0, Resume: 40, Next: 40},
	}, topics.Message{Key: []byte("0"), Value: []byte("not json")})

	c, err := replay.FindCheckpoint(ctx, env.Brokers, l, "0@25")
	if err != nil {
		t.Fatal(err)
	}
	if c.Partition != 0 || c.Resume != 20 || c.Next != 25 || string(c.State["drift"]) != "d25" {
		t.Fatalf("FindCheckpoint(0@25) = %+v", c)
	}

	_, err = replay.FindCheckpoint(ctx, env.Brokers, l, "0@30")
	var nf *replay.CheckpointNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, replay.ErrNoCheckpoint) {
		t.Fatalf("FindCheckpoint(0@30): err = %v", err)
	}
	if !slices.Equal(nf.Nearest, []string{"0@10", "0@25", "0@40"}) || nf.Unreadable != 1 {
		t.Errorf("not found: nearest %v, unreadable %d; want 0@10 0@25 0@40 and 1", nf.Nearest, nf.Unreadable)
	}
	if _, err := replay.FindCheckpoint(ctx, env.Brokers, l, "5@1"); !errors.Is(err, replay.ErrNoCheckpoint) || !strings.Contains(err.Error(), "has none") {
		t.Errorf("FindCheckpoint(5@1): err = %v", err)
	}
	if _, err := replay.FindCheckpoint(ctx, env.Brokers, l, "0:25"); !errors.Is(err, replay.ErrBadPosition) {
		t.Errorf("FindCheckpoint(0:25): err = %v", err)
	}

	for _, c := range []struct {
		partition int32
		offset    int64
		wantNext  int64 // -1: none
	}{
		{0, 9, -1}, {0, 10, 10}, {0, 30, 25}, {0, 40, 40}, {0, 1000, 40}, {3, 100, 7}, {1, 100, -1},
	} {
		got, err := replay.CheckpointAtOrBefore(ctx, env.Brokers, l, c.partition, c.offset)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.wantNext < 0 && got != nil:
			t.Errorf("CheckpointAtOrBefore(%d, %d) = %s, want none", c.partition, c.offset, got.ID())
		case c.wantNext >= 0 && (got == nil || got.Next != c.wantNext || got.Partition != c.partition):
			t.Errorf("CheckpointAtOrBefore(%d, %d) = %+v, want next %d", c.partition, c.offset, got, c.wantNext)
		}
	}
}
