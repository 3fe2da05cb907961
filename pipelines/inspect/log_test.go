package inspect

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// syncBuffer is a bytes.Buffer safe to read while Tail writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

func tailLines(t *testing.T, cfg TailConfig) []string {
	t.Helper()
	var out bytes.Buffer
	cfg.Out = &out
	if _, err := Tail(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// TestProduceAndTailPositionsFilters: the synthetic stream goes in
// decodable and keyed by glyph; tail reads from start, end and P:OFFSET,
// filters by glyph and msg id, and with follow prints what comes later
// and returns without error when stopped.
func TestProduceAndTailPositionsFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: embedded broker (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	ctx := context.Background()
	st, err := Produce(ctx, ProduceConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, Version: schemas.Latest, Count: 40})
	if err != nil || st.Sent != 40 || st.Refused != 0 {
		t.Fatalf("produce --count 40: %v, %v", st, err)
	}
	recs := env.ReadAll(t, topics.Name(string(lane), topics.KindMessages))
	if len(recs) != 40 {
		t.Fatalf("messages topic: %d records, want 40", len(recs))
	}
	base := TailConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, Kind: topics.KindMessages}
	all := tailLines(t, base)
	if len(all) != 40 || strings.Contains(strings.Join(all, "\n"), "undecodable") {
		t.Fatalf("tail from start: %d lines, want 40 decoded:\n%s", len(all), strings.Join(all, "\n"))
	}
	end := base
	end.From = replay.Position{Kind: replay.PositionEnd}
	if got := tailLines(t, end); len(got) != 0 {
		t.Fatalf("tail --from end without follow printed %d lines", len(got))
	}
	first := recs[0]
	var inPart int
	for _, r := range recs {
		if r.Partition == first.Partition && r.Offset >= 1 {
			inPart++
		}
	}
	off := base
	off.From = replay.Position{Kind: replay.PositionOffsets, Offsets: map[int32]int64{first.Partition: 1}}
	if got := tailLines(t, off); len(got) != inPart {
		t.Fatalf("tail --from %d:1: %d lines, want %d", first.Partition, len(got), inPart)
	}
	var byGlyph int
	for _, r := range recs {
		if bytes.Equal(r.Key, first.Key) {
			byGlyph++
		}
	}
	g := base
	g.Glyph = string(first.Key)
	if got := tailLines(t, g); len(got) != byGlyph {
		t.Fatalf("tail --glyph: %d lines, want %d", len(got), byGlyph)
	}
	var m schemas.MatrizMessage
	if _, err := schemas.DecodeWire(ctx, env.Serde.Lookup(), first.Value, &m); err != nil {
		t.Fatal(err)
	}
	one := base
	one.Msg, one.JSON = m.MsgID, true
	if got := tailLines(t, one); len(got) != 1 || !strings.Contains(got[0], `"msg_id":"`+m.MsgID+`"`) {
		t.Fatalf("tail --msg --json: %q", got)
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out syncBuffer
	follow := end
	follow.Follow, follow.Out = true, &out
	done := make(chan error, 1)
	go func() {
		_, err := Tail(fctx, follow)
		done <- err
	}()
	// The follower resolves "end" before it reads; messages produced
	// after it started printing nothing are the ones it must show.
	clocktest.WaitFor(t, 30*time.Second, "3 followed records", func() bool {
		if _, err := Produce(ctx, ProduceConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, Version: schemas.Latest, Count: 1}); err != nil {
			t.Fatal(err)
		}
		return len(out.lines()) >= 3 && out.lines()[0] != ""
	}, func() string { return strings.Join(out.lines(), "\n") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail --follow stopped with %v, want nil", err)
	}
}

// TestExplainADeadLetteredMessage: a message that breaks the Node Contract
// has no result; explain finds it on the messages topic by msg id and its
// DLQ record by its source offset.
func TestExplainADeadLetteredMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: embedded broker (skipped with -short)")
	}
	lane := schemas.LaneExperimental
	env := pipetest.Start(t, lane)
	bad := schemas.MatrizMessage{MsgID: okMsg, TS: time.Unix(1e9, 0).UTC(), Lane: lane, Glyph: schemas.Glyph{ID: okGlyph}, Topic: " "}
	in := env.Encode(t, lane, []schemas.MatrizMessage{bad})[0]
	in.Topic = topics.Name(string(lane), topics.KindMessages)
	env.Write(t, in.Topic, []topics.Message{in})
	src := env.ReadAll(t, in.Topic)[0]
	dlq := topics.Message{Key: in.Key, Value: in.Value, Headers: []topics.Header{
		{Key: "matriz-src-topic", Value: []byte(in.Topic)},
		{Key: "matriz-src-partition", Value: []byte(itoa(int64(src.Partition)))},
		{Key: "matriz-src-offset", Value: []byte(itoa(src.Offset))},
		{Key: "matriz-dlq-reason", Value: []byte("contract_violation")},
		{Key: "matriz-dlq-stage", Value: []byte("validate")},
	}}
	env.Write(t, topics.Name(string(lane), topics.KindDLQ), []topics.Message{dlq})

	st, err := Explain(context.Background(), ExplainConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, MsgID: okMsg})
	if err != nil {
		t.Fatal(err)
	}
	if st.Input == nil || st.Input.Offset != src.Offset || len(st.Results) != 0 || len(st.DLQ) != 1 {
		t.Fatalf("story: input %+v, %d results, %d dlq", st.Input, len(st.Results), len(st.DLQ))
	}
	var text bytes.Buffer
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"result    none", "dlq       [matriz.experimental.dlq/", "reason=contract_violation stage=validate"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("story lacks %q:\n%s", want, text.String())
		}
	}
	if _, err := Explain(context.Background(), ExplainConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, MsgID: okGlyph}); err == nil || !strings.Contains(err.Error(), "no record of the message") {
		t.Fatalf("explain of an unknown id: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
