package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/schemas"
)

const (
	okMsg   = "0d1f6a52-5b8e-4c57-9a39-6f1e1c3a9b10"
	okGlyph = "11111111-2222-4333-8444-555555555555"
)

func TestParseLineFillsInAndConverts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	m, err := ParseLine(1, []byte(`{"glyph":{"id":"`+okGlyph+`","kind":"intent","version":"1","tags":{"consent":"yes"}},`+
		`"payload":{"n":3,"f":0.5,"s":"x","v":[1,2.5],"l":["a","b"],"b":true,"z":null},"topic":"trend"}`), schemas.LaneProd, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.MsgID) != 36 || m.Lane != schemas.LaneProd || !m.TS.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("fill-ins: msg_id %q lane %q ts %v", m.MsgID, m.Lane, m.TS)
	}
	want := map[string]any{"n": int64(3), "f": 0.5, "s": "x", "b": true, "z": nil}
	for k, v := range want {
		if m.Payload[k] != v {
			t.Errorf("payload.%s = %#v, want %#v", k, m.Payload[k], v)
		}
	}
	if v, ok := m.Payload.Vector("v"); !ok || len(v) != 2 || v[1] != 2.5 {
		t.Errorf("payload.v = %#v", m.Payload["v"])
	}
	if l, ok := m.Payload.Strings("l"); !ok || len(l) != 2 || l[0] != "a" {
		t.Errorf("payload.l = %#v", m.Payload["l"])
	}
	for _, tc := range []struct {
		ts   string
		want time.Time
	}{
		{`"2026-03-01T10:00:00.5+02:00"`, time.Date(2026, 3, 1, 8, 0, 0, 5e8, time.UTC)},
		{`1772359200000001`, time.UnixMicro(1772359200000001).UTC()},
	} {
		m, err := ParseLine(1, []byte(`{"msg_id":"`+okMsg+`","ts":`+tc.ts+`,"glyph":{"id":"`+okGlyph+`"},"topic":"t"}`), schemas.LaneProd, now)
		if err != nil || !m.TS.Equal(tc.want) || m.MsgID != okMsg {
			t.Errorf("ts %s: got %v (%v), want %v", tc.ts, m.TS, err, tc.want)
		}
	}
}

func TestParseLineNamesTheLineAndField(t *testing.T) {
	g := `"glyph":{"id":"` + okGlyph + `"}`
	for _, tc := range []struct{ line, field, reason string }{
		{`{"msg_id":"nope",` + g + `,"topic":"t"}`, "msg_id", "not a UUID"},
		{`{"glyph":{"id":"ABC"},"topic":"t"}`, "glyph.id", "not a UUID"},
		{`{` + g + `}`, "topic", "empty"},
		{`{` + g + `,"topic":"t","lane":"candidate"}`, "lane", "producing to lane prod"},
		{`{` + g + `,"topic":"t","ts":"yesterday"}`, "ts", "RFC 3339"},
		{`{` + g + `,"topic":"t","payload":{"o":{"a":1}}}`, "payload.o", "payload union"},
		{`{` + g + `,"topic":"t","payload":{"m":[1,"a"]}}`, "payload.m", "item 1"},
		{`{` + g + `,"topic":"t","colour":"red"}`, "colour", "not a MatrizMessage field"},
		{`{` + g + `,"topic":7}`, "topic", "want a JSON string"},
		{`not json`, "", "not a JSON object"},
	} {
		_, err := ParseLine(42, []byte(tc.line), schemas.LaneProd, time.Unix(1e9, 0))
		var le *LineError
		if !errors.As(err, &le) || le.Line != 42 || le.Field != tc.field || !strings.Contains(le.Reason, tc.reason) {
			t.Errorf("%s: got %v, want line 42, field %q, reason with %q", tc.line, err, tc.field, tc.reason)
		}
		if !strings.HasPrefix(err.Error(), "line 42: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q is not one line starting with the line number", tc.line, err)
		}
	}
}

func TestParseTailKind(t *testing.T) {
	for _, s := range []string{"results", "DLQ", " events "} {
		if _, err := ParseTailKind(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseTailKind("state"); err == nil || !strings.Contains(err.Error(), "results, events, traces, actions, dlq, messages") {
		t.Errorf("state: %v, want a refusal naming the topics", err)
	}
}

// TestSyntheticPacedByRate: --count N --rate R sends one message per 1/R of
// the clock, so a fake clock advanced by 1/R lets exactly one more out.
func TestSyntheticPacedByRate(t *testing.T) {
	fake := &tickerWatch{Fake: clock.NewFake(time.Unix(1e9, 0)), made: make(chan struct{}, 1)}
	var sent []string
	send := func(m *schemas.MatrizMessage) error {
		sent = append(sent, m.MsgID)
		return nil
	}
	done := make(chan error, 1)
	var mu sync.Mutex
	go func() {
		done <- produceSynthetic(context.Background(), ProduceConfig{Lane: schemas.LaneProd, Count: 3, Rate: 10, Clock: fake}, func(m *schemas.MatrizMessage) error {
			mu.Lock()
			defer mu.Unlock()
			return send(m)
		})
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(sent)
	}
	<-fake.made // advancing before the ticker exists would fire nothing
	for want := 1; want <= 3; want++ {
		fake.Advance(100 * time.Millisecond)
		clocktest.WaitFor(t, 5*time.Second, fmt.Sprintf("%d sent", want), func() bool { return count() >= want }, func() string { return fmt.Sprint(count()) })
		if got := count(); got != want {
			t.Fatalf("after %d ticks: %d sent", want, got)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	again := ""
	produceSynthetic(context.Background(), ProduceConfig{Lane: schemas.LaneProd, Count: 1, Clock: fake}, func(m *schemas.MatrizMessage) error {
		again = m.MsgID
		return nil
	})
	if again == sent[0] || len(again) != 36 {
		t.Fatalf("a second run's first msg id %q repeats the first run's", again)
	}
	if err := CheckVersion(schemas.Version(3)); err == nil {
		t.Fatal("CheckVersion(v3) accepted a version the binary does not hold")
	}
}

// tickerWatch is a fake clock that says when a ticker was made.
type tickerWatch struct {
	*clock.Fake
	made chan struct{}
}

func (w *tickerWatch) NewTicker(d time.Duration) clock.Ticker {
	t := w.Fake.NewTicker(d)
	w.made <- struct{}{}
	return t
}
