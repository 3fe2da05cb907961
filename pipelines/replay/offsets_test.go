package replay_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

const (
	offLane  = schemas.LaneExperimental
	offGroup = "matriz-experimental"
)

var (
	offMessages = topics.Name(string(offLane), topics.KindMessages)
	offState    = topics.Name(string(offLane), topics.KindState)
)

// offsetsEnv is a deployed lane (6 partitions) with 10 records on
// partition 0 and 4 on partition 1 of its messages topic, and the given
// committed offsets of matriz-experimental.
func offsetsEnv(t *testing.T, committed map[int32]int64) *pipetest.Env {
	t.Helper()
	env := pipetest.Start(t, offLane)
	stamps := func(n int) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = posBase.Add(time.Duration(i) * time.Second)
		}
		return out
	}
	produceStamped(t, env.Brokers, offMessages, 0, stamps(10))
	produceStamped(t, env.Brokers, offMessages, 1, stamps(4))
	if len(committed) > 0 {
		commitRaw(t, env.Brokers, committed)
	}
	return env
}

func offClient(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
}

// commitRaw commits offsets for the group as an admin tool does, to set a
// test up.
func commitRaw(t *testing.T, brokers []string, offsets map[int32]int64) {
	t.Helper()
	var cs []kafka.OffsetCommit
	for p, o := range offsets {
		cs = append(cs, kafka.OffsetCommit{Partition: int(p), Offset: o})
	}
	res, err := offClient(brokers).OffsetCommit(context.Background(), &kafka.OffsetCommitRequest{
		GroupID: offGroup, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{offMessages: cs},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Topics[offMessages] {
		if p.Error != nil {
			t.Fatalf("commit partition %d: %v", p.Partition, p.Error)
		}
	}
}

// committedRaw reads the group's committed offsets straight from Kafka;
// partitions with none are absent.
func committedRaw(t *testing.T, brokers []string) map[int32]int64 {
	t.Helper()
	res, err := offClient(brokers).OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{
		GroupID: offGroup, Topics: map[string][]int{offMessages: {0, 1, 2, 3, 4, 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, p := range res.Topics[offMessages] {
		if p.Error != nil {
			t.Fatal(p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[int32(p.Partition)] = p.CommittedOffset
		}
	}
	return out
}

// rawRecord is a record of the state topic with a tombstone told apart
// from an empty value, which topics' readers cannot.
type rawRecord struct {
	Partition int
	Offset    int64
	Key       string
	Value     []byte
	Tombstone bool
}

// readStateRaw returns every record of the lane's state topic, partition
// by partition.
func readStateRaw(t *testing.T, brokers []string) []rawRecord {
	t.Helper()
	ctx := context.Background()
	cl := offClient(brokers)
	var out []rawRecord
	for p := range 6 {
		for off := int64(0); ; {
			res, err := cl.Fetch(ctx, &kafka.FetchRequest{Topic: offState, Partition: p, Offset: off, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 10 * time.Millisecond})
			if err != nil || res.Error != nil {
				t.Fatalf("fetch %s/%d@%d: %v %v", offState, p, off, err, res.Error)
			}
			if off >= res.HighWatermark {
				break
			}
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.Offset < off {
					continue
				}
				rr := rawRecord{Partition: p, Offset: r.Offset, Key: string(readAll(t, r.Key)), Tombstone: r.Value == nil}
				if r.Value != nil {
					rr.Value = readAll(t, r.Value)
				}
				out = append(out, rr)
				off = r.Offset + 1
			}
		}
	}
	return out
}

func readAll(t *testing.T, b kafka.Bytes) []byte {
	t.Helper()
	if b == nil {
		return nil
	}
	v, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newRecords returns the records of after that before did not have.
func newRecords(before, after []rawRecord) []rawRecord {
	type at struct {
		p int
		o int64
	}
	seen := map[at]bool{}
	for _, r := range before {
		seen[at{r.Partition, r.Offset}] = true
	}
	var out []rawRecord
	for _, r := range after {
		if !seen[at{r.Partition, r.Offset}] {
			out = append(out, r)
		}
	}
	return out
}

// latestState folds records into the value each key holds now.
func latestState(recs []rawRecord) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		if r.Tombstone {
			delete(out, r.Key)
		} else {
			out[r.Key] = string(r.Value)
		}
	}
	return out
}

func offReset(t *testing.T, env *pipetest.Env, to string, resetState, dryRun bool) (*replay.ResetPlan, error) {
	t.Helper()
	pos, err := replay.ParsePosition(to)
	if err != nil {
		t.Fatal(err)
	}
	return replay.ResetOffsets(context.Background(), replay.ResetConfig{
		OffsetsConfig: replay.OffsetsConfig{Lane: offLane, Brokers: env.Brokers},
		To:            pos, ResetState: resetState, DryRun: dryRun,
	})
}

func TestShowOffsetsFigures(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 6})
	g, err := replay.ShowOffsets(context.Background(), replay.OffsetsConfig{Lane: offLane, Brokers: env.Brokers})
	if err != nil {
		t.Fatal(err)
	}
	if g.Group != offGroup || g.Topic != offMessages || g.Live() || len(g.Members) != 0 {
		t.Fatalf("group %s on %s, live %v, members %v", g.Group, g.Topic, g.Live(), g.Members)
	}
	want := []replay.PartitionOffsets{
		{Partition: 0, Committed: 6, Start: 0, End: 10, Lag: 4},
		{Partition: 1, Committed: replay.NoOffset, Start: 0, End: 4, Lag: 4}, // none committed: all of it
		{Partition: 2, Committed: replay.NoOffset}, {Partition: 3, Committed: replay.NoOffset},
		{Partition: 4, Committed: replay.NoOffset}, {Partition: 5, Committed: replay.NoOffset},
	}
	if len(g.Partitions) != len(want) {
		t.Fatalf("%d partitions, want %d", len(g.Partitions), len(want))
	}
	for i := range want {
		if g.Partitions[i] != want[i] {
			t.Errorf("partition %d: %+v, want %+v", i, g.Partitions[i], want[i])
		}
	}
	if g.TotalLag() != 8 {
		t.Errorf("total lag %d, want 8", g.TotalLag())
	}

	// A group Kafka never saw: nothing committed, everything to read.
	g, err = replay.ShowOffsets(context.Background(), replay.OffsetsConfig{Lane: offLane, Group: "never-seen", Brokers: env.Brokers})
	if err != nil {
		t.Fatal(err)
	}
	if g.Group != "never-seen" || g.Live() || g.Partitions[0].Committed != replay.NoOffset || g.TotalLag() != 14 {
		t.Errorf("unknown group: %+v, lag %d; want nothing committed and lag 14", g, g.TotalLag())
	}
}

func TestResetRefusedWhileAMemberIsLive(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 6, 1: 2})
	ctx, cancel := context.WithCancel(context.Background())
	joined := make(chan struct{})
	var once sync.Once
	g, err := topics.NewGroup(ctx, env.Brokers, offGroup, []string{offMessages},
		topics.GroupSessionTimeout(6*time.Second), topics.GroupHeartbeat(200*time.Millisecond), topics.GroupRebalanceTimeout(3*time.Second), topics.GroupOnError(func(e error) { t.Log(e) }),
		topics.GroupOnGeneration(func(topics.GenerationInfo) { once.Do(func() { close(joined) }) }))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		// The member holds its partitions and commits nothing.
		_ = g.Run(ctx, func(ctx context.Context, _ topics.Claim) { <-ctx.Done() })
	}()
	t.Cleanup(func() { cancel(); <-ran })
	select {
	case <-joined:
	case <-time.After(pipetest.ReadTimeout):
		t.Fatal("the group member did not join")
	}

	show, err := replay.ShowOffsets(context.Background(), replay.OffsetsConfig{Lane: offLane, Brokers: env.Brokers})
	if err != nil {
		t.Fatal(err)
	}
	if !show.Live() || len(show.Members) != 1 {
		t.Fatalf("show: live %v, members %v; want one live member", show.Live(), show.Members)
	}
	plan, err := offReset(t, env, "end", false, false)
	var le *replay.GroupLiveError
	if !errors.As(err, &le) || !errors.Is(err, replay.ErrGroupLive) || len(le.Members) != 1 ||
		!strings.Contains(err.Error(), "stop the member of group matriz-experimental first") {
		t.Fatalf("err = %v, want a GroupLiveError naming the member", err)
	}
	if plan == nil || plan.Applied || len(plan.Partitions) != 6 || plan.Partitions[0].Target != 10 {
		t.Fatalf("refused plan %+v: want the 6 partitions' targets, not applied", plan)
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 6, 1: 2}) {
		t.Fatalf("committed offsets changed under a refused reset: %v", got)
	}

	// Once the member left, the same reset goes through: it was the
	// member that stopped it.
	cancel()
	<-ran
	clocktest.WaitFor(t, 30*time.Second, "the group to have no live member", func() bool {
		s, err := replay.ShowOffsets(context.Background(), replay.OffsetsConfig{Lane: offLane, Brokers: env.Brokers})
		return err == nil && !s.Live()
	})
	if _, err := offReset(t, env, "end", false, false); err != nil {
		t.Fatal(err)
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 10, 1: 4, 2: 0, 3: 0, 4: 0, 5: 0}) {
		t.Fatalf("after the member left: committed %v, want the ends", got)
	}
}

// seedState writes the state a lane leaves behind: partition 0's
// checkpoint key and two legacy stage keys, one legacy key of partition 1,
// a legacy key of partition 2 already tombstoned, and a key of no
// partition.
func seedState(t *testing.T, env *pipetest.Env) {
	t.Helper()
	cp, err := runtime.EncodeCheckpoint(&runtime.Checkpoint{Lane: string(offLane), Partition: 0, Resume: 6, Next: 6})
	if err != nil {
		t.Fatal(err)
	}
	env.Write(t, offState, []topics.Message{
		{Key: []byte("0"), Value: cp},
		{Key: []byte("0/drift"), Value: []byte("drift@6")},
		{Key: []byte("0/guardian"), Value: []byte("guardian@6")},
		{Key: []byte("1/drift"), Value: []byte("drift@2")},
		{Key: []byte("2/old"), Value: []byte("x")},
		{Key: []byte("2/old")}, // tombstone
		{Key: []byte("schema"), Value: []byte("not a partition's")},
	})
}

func TestResetDryRunChangesNothing(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 6, 1: 2})
	seedState(t, env)
	stateBefore := readStateRaw(t, env.Brokers)

	plan, err := offReset(t, env, "start", true, true)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.DryRun || plan.Applied || len(plan.Partitions) != 6 {
		t.Fatalf("plan %+v", plan)
	}
	p0 := plan.Partitions[0]
	if p0.Committed != 6 || p0.Target != 0 || p0.State != replay.StateReset ||
		strings.Join(p0.Tombstones, " ") != "0 0/drift 0/guardian" {
		t.Errorf("partition 0 planned %+v, want 6 → 0 with tombstones 0 0/drift 0/guardian", p0)
	}
	if p2 := plan.Partitions[2]; strings.Join(p2.Tombstones, " ") != "2" {
		t.Errorf("partition 2 tombstones %v, want only its key (2/old is gone already)", p2.Tombstones)
	}
	if plan.StateRecords() != 3+2+4 {
		t.Errorf("StateRecords = %d, want 9", plan.StateRecords())
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 6, 1: 2}) {
		t.Errorf("dry run changed committed offsets: %v", got)
	}
	if after := readStateRaw(t, env.Brokers); len(after) != len(stateBefore) {
		t.Errorf("dry run wrote %d state records", len(after)-len(stateBefore))
	}
}

func TestResetBackwardsWithoutStateRefuses(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 6, 1: 2})
	seedState(t, env)
	stateBefore := readStateRaw(t, env.Brokers)
	for _, to := range []string{"0:2", "start", posBase.Add(3 * time.Second).Format(time.RFC3339)} {
		plan, err := offReset(t, env, to, false, false)
		var se *replay.StateAheadError
		if !errors.As(err, &se) || !errors.Is(err, replay.ErrStateAhead) || se.Partitions[0].Partition != 0 {
			t.Fatalf("--to %s: err = %v, want a StateAheadError on partition 0", to, err)
		}
		for _, want := range []string{"would move back from 6", "--reset-state", "checkpoint id"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("--to %s: %q lacks %q", to, err, want)
			}
		}
		if plan == nil || plan.Applied || !plan.Partitions[0].Backwards() {
			t.Errorf("--to %s: plan %+v", to, plan)
		}
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 6, 1: 2}) {
		t.Errorf("refused reset changed committed offsets: %v", got)
	}
	if after := readStateRaw(t, env.Brokers); len(after) != len(stateBefore) {
		t.Errorf("refused reset wrote %d state records", len(after)-len(stateBefore))
	}
}

func TestResetWithResetStateMovesOffsetsAndTombstonesState(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 6, 1: 2})
	seedState(t, env)
	before := readStateRaw(t, env.Brokers)

	plan, err := offReset(t, env, "0:1,1:1", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Applied || len(plan.Partitions) != 2 {
		t.Fatalf("plan %+v: want partitions 0 and 1 only, applied", plan)
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 1, 1: 1}) {
		t.Fatalf("committed %v, want 0:1 1:1", got)
	}
	after := readStateRaw(t, env.Brokers)
	written := map[string]bool{}
	added := newRecords(before, after)
	for _, r := range added {
		if !r.Tombstone {
			t.Errorf("state record %s is not a tombstone: %q", r.Key, r.Value)
		}
		written[r.Key] = true
	}
	want := map[string]bool{"0": true, "0/drift": true, "0/guardian": true, "1": true, "1/drift": true}
	if len(added) != len(want) || !maps.Equal(written, want) {
		t.Errorf("state records written %d: %v, want tombstones for 0 0/drift 0/guardian 1 1/drift", len(added), written)
	}
	if now := latestState(after); now["schema"] == "" || len(now) != 1 {
		t.Errorf("state held now %v, want only the unrelated key", now)
	}

	// A real member starts where the reset put the group.
	starts := joinAndReadStarts(t, env)
	if starts[0] != 1 || starts[1] != 1 {
		t.Errorf("a member starts partitions 0 and 1 at %d and %d, want 1 and 1", starts[0], starts[1])
	}
}

// joinAndReadStarts joins the lane's group with a real member and returns
// the offset each partition's claim starts at.
func joinAndReadStarts(t *testing.T, env *pipetest.Env) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := topics.NewGroup(ctx, env.Brokers, offGroup, []string{offMessages},
		topics.GroupSessionTimeout(6*time.Second), topics.GroupHeartbeat(200*time.Millisecond), topics.GroupRebalanceTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	starts := map[int32]int64{}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = g.Run(ctx, func(ctx context.Context, c topics.Claim) {
			mu.Lock()
			starts[c.Partition] = c.Offset
			mu.Unlock()
			<-ctx.Done()
		})
	}()
	clocktest.WaitFor(t, pipetest.ReadTimeout, "a member to claim all 6 partitions", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(starts) == 6
	})
	cancel()
	<-ran
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(starts)
}

func TestResetToCheckpointWritesItsStateAndCommitsItsResume(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 6, 1: 2})
	seedState(t, env)
	writeCheckpoints(t, env, offLane, []runtime.Checkpoint{
		{Lane: string(offLane), Partition: 0, Resume: 3, Next: 5, Open: []int64{3}, State: map[string][]byte{"drift": []byte("drift@5")}},
	})

	plan, err := offReset(t, env, "0@5", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Partitions) != 1 {
		t.Fatalf("plan %+v: want partition 0 only", plan)
	}
	p0 := plan.Partitions[0]
	if p0.Target != 3 || p0.State != replay.StateFromCheckpoint || !strings.Contains(p0.Describe(), "checkpoint 0@5 (resume 3)") {
		t.Fatalf("partition 0 planned %+v (%s)", p0, p0.Describe())
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 3, 1: 2}) {
		t.Fatalf("committed %v, want 0:3 and 1 untouched at 2", got)
	}
	now := latestState(readStateRaw(t, env.Brokers))
	cp, err := runtime.DecodeCheckpoint([]byte(now["0"]))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Resume != 3 || cp.Next != 5 || string(cp.State["drift"]) != "drift@5" {
		t.Errorf("state key 0 holds %+v, want the checkpoint 0@5", cp)
	}
	if _, ok := now["0/drift"]; ok {
		t.Errorf("legacy key 0/drift still holds %q beside the checkpoint", now["0/drift"])
	}
	if now["1/drift"] != "drift@2" {
		t.Errorf("partition 1's state changed: %q", now["1/drift"])
	}

	if _, err := offReset(t, env, "0@4", false, false); !errors.Is(err, replay.ErrNoCheckpoint) {
		t.Errorf("unknown checkpoint: err = %v", err)
	}
}

func TestResetForwardKeepsState(t *testing.T) {
	env := offsetsEnv(t, map[int32]int64{0: 2, 1: 2})
	seedState(t, env)
	before := readStateRaw(t, env.Brokers)

	plan, err := offReset(t, env, "0:8", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if p0 := plan.Partitions[0]; p0.State != replay.StateKept || !strings.Contains(p0.Describe(), "runs behind") {
		t.Errorf("partition 0 planned %+v (%s)", p0, p0.Describe())
	}
	if got := committedRaw(t, env.Brokers); !maps.Equal(got, map[int32]int64{0: 8, 1: 2}) {
		t.Fatalf("committed %v, want 0:8 1:2", got)
	}
	if after := readStateRaw(t, env.Brokers); len(after) != len(before) {
		t.Errorf("a forward move wrote %d state records", len(after)-len(before))
	}
	if _, err := offReset(t, env, "0:11", false, false); !errors.Is(err, replay.ErrOffsetOutOfRange) {
		t.Errorf("0:11 past the end: err = %v", err)
	}
}
