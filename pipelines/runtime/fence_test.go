package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestConfigDrainDefaultsToHalfTheSession: the drain a member may take
// after its generation ended stays under its session timeout.
func TestConfigDrainDefaultsToHalfTheSession(t *testing.T) {
	for _, tc := range []struct{ session, drain, want time.Duration }{
		{0, 0, 5 * time.Second},
		{6 * time.Second, 0, 3 * time.Second},
		{30 * time.Second, 2 * time.Second, 2 * time.Second},
	} {
		c := Config{Lane: schemas.LaneProd, SessionTimeout: tc.session, DrainTimeout: tc.drain}
		if err := c.defaults(); err != nil {
			t.Fatal(err)
		}
		if c.DrainTimeout != tc.want {
			t.Errorf("session %v, drain %v: drain timeout %v, want %v", tc.session, tc.drain, c.DrainTimeout, tc.want)
		}
	}
}

// TestActionOnceFencedOwnerExecutesNothing: a worker whose drain is over
// (its generation ended and the bounded drain passed) neither writes an
// executing record nor calls the executor; the partition's next owner,
// finding no record, executes the action once, and its record names its
// claim.
func TestActionOnceFencedOwnerExecutesNothing(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	topic := topics.Name(string(schemas.LaneProd), topics.KindActions)
	m := onceMsg(21, "P1")
	id := actionID(m)
	inner := &counter{}

	old := newFence("g", &topics.Claim{Partition: 0, Generation: 3, MemberID: "old"}, clock.Real{})
	old.endBy(time.Now().Add(-time.Millisecond).UnixNano())
	zombie := startOnce(t, env, inner)
	if _, err := zombie.decide(t, withFence(context.Background(), old), m); err != nil {
		t.Fatal(err)
	}
	if inner.calls != 0 {
		t.Fatalf("the fenced owner called the executor %d times", inner.calls)
	}
	for _, r := range env.ReadAll(t, topic) {
		if string(r.Key) == id {
			t.Fatalf("the fenced owner wrote %s/%d@%d for the action", topic, r.Partition, r.Offset)
		}
	}
	if err := old.check(); !errors.Is(err, ErrFenced) || !errors.Is(err, errDrainOver) {
		t.Fatalf("check after the drain = %v, want ErrFenced and errDrainOver", err)
	}

	next := newFence("g", &topics.Claim{Partition: 0, Generation: 4, MemberID: "new"}, clock.Real{})
	owner := startOnce(t, env, inner)
	if _, err := owner.decide(t, withFence(context.Background(), next), m); err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 {
		t.Fatalf("the next owner called the executor %d times, want 1", inner.calls)
	}
	var records int
	for _, r := range env.ReadAll(t, topic) {
		if string(r.Key) != id {
			continue
		}
		records++
		if g, gen, member, ok := claimOf(r); !ok || g != "g" || gen != 4 || member != "new" {
			t.Fatalf("executing record's claim: group %q generation %d member %q (headers %v)", g, gen, member, ok)
		}
	}
	if records != 1 {
		t.Fatalf("%d records for the action, want the next owner's executing record", records)
	}
}

// TestRestoreIgnoresStateFromAnOlderGeneration: a zombie's state record,
// written after the new owner's, is ignored on restore; a record of
// another group is not compared with this group's generations.
func TestRestoreIgnoresStateFromAnOlderGeneration(t *testing.T) {
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	state := topics.Name(string(lane), topics.KindState)
	cut := func(group string, gen int32, resume int64) topics.Message {
		b, err := EncodeCheckpoint(&Checkpoint{Lane: string(lane), Partition: 0, Resume: resume, Next: resume, State: map[string][]byte{}})
		if err != nil {
			t.Fatal(err)
		}
		m := topics.Message{Key: []byte(StateKey(0)), Value: b}
		newFence(group, &topics.Claim{Generation: gen, MemberID: "m"}, clock.Real{}).stamp(&m)
		m.Fence = nil
		return m
	}
	load := func() int64 {
		t.Helper()
		cp, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), env.Brokers, topics.Name(string(lane), topics.KindState), 0, pipetest.ReadTimeout, newStateChunks(0))
		if err != nil || cp == nil {
			t.Fatalf("loadState = %v, %v", cp, err)
		}
		return cp.Resume
	}
	env.Write(t, state, []topics.Message{cut("g", 5, 100), cut("g", 4, 70)})
	if got := load(); got != 100 {
		t.Fatalf("restored the cut at %d, want generation 5's at 100 (generation 4's at 70 is a zombie's)", got)
	}
	env.Write(t, state, []topics.Message{cut("g", 6, 120)})
	if got := load(); got != 120 {
		t.Fatalf("restored the cut at %d, want generation 6's at 120", got)
	}
	env.Write(t, state, []topics.Message{cut("other", 1, 10)})
	if got := load(); got != 10 {
		t.Fatalf("restored the cut at %d, want the other group's at 10", got)
	}
}

// testLogger logs to t.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, nil))
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRestoreResumesFromTheLatestCut: a worker that died between writing
// a cut and committing it left a latest cut past the committed offset.
// Every output of the records it counts as done was acknowledged before it
// was written, so the partition resumes from it (the records between are
// done, not applied again); a cut behind the committed offset (offsets
// moved forward by hand) gives stage state only.
func TestRestoreResumesFromTheLatestCut(t *testing.T) {
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	state := topics.Name(string(lane), topics.KindState)
	cut := func(resume int64) topics.Message {
		b, err := EncodeCheckpoint(&Checkpoint{Lane: string(lane), Partition: 0, Resume: resume, Next: resume, State: map[string][]byte{}})
		if err != nil {
			t.Fatal(err)
		}
		m := topics.Message{Key: []byte(StateKey(0)), Value: b, Headers: []topics.Header{{Key: HeaderResume, Value: []byte(strconv.FormatInt(resume, 10))}}}
		newFence("g", &topics.Claim{Generation: 2, MemberID: "m"}, clock.Real{}).stamp(&m)
		m.Fence = nil
		return m
	}
	env.Write(t, state, []topics.Message{cut(50), cut(80)})
	cp, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), env.Brokers, topics.Name(string(lane), topics.KindState), 0, pipetest.ReadTimeout, newStateChunks(0))
	if err != nil || cp == nil {
		t.Fatalf("loadState = %v, %v", cp, err)
	}
	if cp.Resume != 80 {
		t.Fatalf("loaded the cut at %d, want the latest at 80", cp.Resume)
	}
	for _, tc := range []struct {
		committed int64
		want      bool
	}{{80, true}, {50, true}, {-2, true}, {81, false}, {200, false}} {
		if got := resumesFrom(cp, tc.committed); got != tc.want {
			t.Errorf("committed %d, cut at 80: resumes from the cut = %v, want %v", tc.committed, got, tc.want)
		}
	}
	for k := int64(50); k < 80; k++ {
		if !cp.Done(k) {
			t.Fatalf("offset %d between the commit and the cut is not done: it would be applied again", k)
		}
	}
}
