package runtime

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func TestCheckTimestamp(t *testing.T) {
	rec := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		ts   time.Time
		rec  time.Time
		want string
	}{
		{"now", rec, rec, ""},
		{"behind the record", rec.Add(-time.Hour), rec, ""},
		{"ahead within the skew", rec.Add(5 * time.Minute), rec, ""},
		{"ahead past the skew", rec.Add(5*time.Minute + time.Microsecond), rec, ReasonFutureTimestamp},
		{"year 2199", time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC), rec, ReasonFutureTimestamp},
		{"Avro's zero", time.UnixMicro(0), rec, ReasonInvalidTimestamp},
		{"1999", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), rec, ReasonInvalidTimestamp},
		{"no record timestamp", rec.Add(100 * time.Hour), time.Time{}, ""},
	} {
		m := &schemas.MatrizMessage{TS: c.ts}
		got, detail := checkTimestamp(m, c.rec, DefaultMaxFutureSkew)
		if got != c.want || (got != "" && detail == "") {
			t.Errorf("%s: reason %q (%q), want %q", c.name, got, detail, c.want)
		}
		// The decision depends on the record alone: asked again, the same.
		if again, _ := checkTimestamp(m, c.rec, DefaultMaxFutureSkew); again != got {
			t.Errorf("%s: %q then %q", c.name, got, again)
		}
	}
}

// TestFarFutureTimestampDoesNotPoisonThePartition writes, ahead of 2,000
// valid records, messages stamped a day and a century ahead of their
// Kafka timestamp, and one stamped 1970, keyed onto the valid records'
// partitions. They go to the DLQ (future_timestamp, invalid_timestamp);
// the watermark does not jump, so no valid record is judged late.
func TestFarFutureTimestampDoesNotPoisonThePartition(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane on the embedded broker (skipped with -short)")
	}
	const valid = 2000
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	msgs := laneMessages(lane, valid, 21, 5*time.Second)
	var poison []schemas.MatrizMessage
	glyphs := map[string]bool{}
	for _, m := range msgs {
		if glyphs[m.Glyph.ID] || len(glyphs) == 24 {
			continue
		}
		glyphs[m.Glyph.ID] = true
		for _, ts := range []time.Time{time.Now().Add(24 * time.Hour), time.Now().AddDate(100, 0, 0), time.UnixMicro(0)} {
			p := m
			p.MsgID, p.TS = uuid.NewString(), ts
			poison = append(poison, p)
		}
	}
	env.Produce(t, lane, poison, nil)
	env.Produce(t, lane, msgs, nil)

	counters := &observe.LaneCounters{}
	stop := runLane(t, env, Config{Lane: lane, Counters: counters})
	waitCounted(t, counters, int64(valid+len(poison)), 90*time.Second)
	env.WaitCommitted(t, topics.Name(string(lane), topics.KindMessages), GroupName("", lane), 90*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	liveDLQ := dlqBySource(t, env, topics.Name(string(lane), topics.KindDLQ))
	for _, r := range liveDLQ {
		reasons[r]++
	}
	if reasons[ReasonFutureTimestamp] != 2*len(glyphs) || reasons[ReasonInvalidTimestamp] != len(glyphs) {
		t.Errorf("DLQ reasons %v, want %d %s and %d %s", reasons, 2*len(glyphs), ReasonFutureTimestamp, len(glyphs), ReasonInvalidTimestamp)
	}
	late, answered := 0, map[string]bool{}
	for _, r := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		answered[pipetest.Header(r, HeaderMsgID)] = true
		if pipetest.Header(r, HeaderLate) == "true" {
			late++
		}
	}
	for _, m := range msgs {
		if !answered[m.MsgID] {
			t.Fatalf("valid msg %s not answered", m.MsgID)
		}
	}
	if late > 0 {
		t.Fatalf("%d of %d valid records judged late after the poisoned timestamps", late, valid)
	}

	// A replay of the log decides every record the same: the decision
	// depends on the record alone.
	if _, err := Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL,
		Name: "ts", Ranges: fullRanges(t, env, lane)}); err != nil {
		t.Fatal(err)
	}
	replayed := dlqBySource(t, env, topics.ReplayName(string(lane), "ts", topics.KindDLQ))
	if !maps.Equal(liveDLQ, replayed) {
		t.Fatalf("replay's DLQ differs: live %d records, replay %d", len(liveDLQ), len(replayed))
	}
	t.Logf("%d poisoned timestamps in the DLQ %v, the same in a replay; %d valid records answered, none late", len(poison), reasons, valid)
}

// dlqBySource reads a DLQ topic as reason by source partition and offset.
func dlqBySource(t *testing.T, env *pipetest.Env, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range env.ReadAll(t, topic) {
		out[pipetest.Header(d, HeaderSrcPartition)+"@"+pipetest.Header(d, HeaderSrcOffset)] = pipetest.Header(d, HeaderDLQReason)
	}
	return out
}
