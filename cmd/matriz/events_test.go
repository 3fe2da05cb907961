package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestEventsUsageErrors: a flag the command cannot use exits 2 with one
// line that names the flag and what it accepts, before any connection.
func TestEventsUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--lane", "prod", "--since", "yesterday"}, []string{"--since", "RFC 3339", "15m"}},
		{[]string{"--lane", "prod", "--until", "2026-03-01"}, []string{"--until", "RFC 3339"}},
		{[]string{"--lane", "prod", "--since", "-5m"}, []string{"--since", "negative"}},
		{[]string{"--lane", "prod", "--since", "2026-03-01T10:00:00Z", "--until", "2026-03-01T09:00:00Z"}, []string{"--until", "before --since"}},
		{[]string{"--lane", "prod", "--kind", "late,lat"}, []string{"--kind", `"lat"`, "fps_change"}},
		{[]string{"--lane", "prod", "--limit", "-1"}, []string{"--limit"}},
		{[]string{"--lane", "prod", "--limit", "many"}, []string{"-limit"}},
		{[]string{"--lane", "prod", "--replay", "a.b"}, []string{"replay", `"a.b"`}},
		{[]string{"--lane", "staging"}, []string{"staging", "prod"}},
		{[]string{"--lane", "prod", "extra"}, []string{`"extra"`}},
	} {
		code, out, errOut := runCLI(append([]string{"events", "--brokers", "127.0.0.1:1", "--registry", "http://127.0.0.1:1"}, c.args...)...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("events %v: exit %d, stdout %q, stderr %q; want exit 2 and one line", c.args, code, out, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("events %v: %q lacks %q", c.args, errOut, w)
			}
		}
	}
}

// TestEventsPrints writes ten events a minute apart and reads them back
// through the command: --since as a duration counts back from the
// command's clock, --json lines parse, --glyph, --kind and --limit select.
func TestEventsPrints(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	topic := topics.Name(string(lane), topics.KindEvents)
	id, err := env.Serde.ID(serde.ValueSubject(topic))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var recs []topics.Message
	for i := range 10 {
		ev := schemas.Event{ID: fmt.Sprintf("ev-%d", i), TS: base.Add(time.Duration(i) * time.Minute), Kind: schemas.EventRouting, Lane: lane,
			GlyphID: fmt.Sprintf("g-%d", i%2), MsgID: fmt.Sprintf("m-%d", i), Stage: "route", Payload: schemas.Payload{"i": int64(i)}}
		h := []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(ev.ID)}}
		if i%3 == 0 {
			ev.Kind, ev.Stage = schemas.EventLate, "tick"
			h = append(h, topics.Header{Key: runtime.HeaderDecision, Value: []byte(ev.Kind)})
		}
		val, err := schemas.AppendWire(nil, id, &ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, topics.Message{Key: []byte(ev.GlyphID), Value: val, Time: ev.TS, Headers: h})
	}
	env.Write(t, topic, recs)
	defer func(now func() time.Time) { eventsNow = now }(eventsNow)
	eventsNow = func() time.Time { return base.Add(10 * time.Minute) }
	events := func(args ...string) (int, []string, string) {
		code, out, errOut := runCLI(append([]string{"events", "--lane", "prod", "--brokers", env.Brokers[0], "--registry", env.RegistryURL}, args...)...)
		return code, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), errOut
	}

	code, lines, errOut := events("--since", "5m", "--json")
	if code != 0 || len(lines) != 5 {
		t.Fatalf("--since 5m --json: exit %d, %d lines %q, stderr %q; want events 5..9", code, len(lines), lines, errOut)
	}
	for i, l := range lines {
		var v struct {
			Partition *int32
			Offset    *int64
			Timestamp time.Time
			ID        string
			Kind      string
			GlyphID   string `json:"glyph_id"`
			Headers   map[string]string
			Payload   map[string]any
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		want := 5 + i
		if v.ID != fmt.Sprintf("ev-%d", want) || !v.Timestamp.Equal(base.Add(time.Duration(want)*time.Minute)) || v.Partition == nil || v.Offset == nil ||
			v.Headers[runtime.HeaderOutputID] != v.ID || v.Payload["i"] != float64(want) || v.GlyphID != fmt.Sprintf("g-%d", want%2) {
			t.Fatalf("line %d: %q, want event %d", i, l, want)
		}
	}

	code, lines, _ = events("--glyph", "g-0", "--kind", "late", "--until", "2026-03-01T10:08:00Z")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "late") || !strings.Contains(lines[0], "g-0") || !strings.HasPrefix(lines[1], "2026-03-01T10:06:00.000000Z") {
		t.Fatalf("--glyph g-0 --kind late --until 10:08: exit %d, %q; want events 0 and 6", code, lines)
	}

	code, lines, _ = events("--limit", "3")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[2], "2026-03-01T10:02:00.000000Z  routing") {
		t.Fatalf("--limit 3: exit %d, %q", code, lines)
	}

	code, lines, errOut = events("--since", "2026-03-01T11:00:00Z")
	if code != 0 || lines[0] != "" || !strings.Contains(errOut, "no event matched") {
		t.Fatalf("--since past the end: exit %d, %q, stderr %q", code, lines, errOut)
	}

	dead := closedPort(t)
	code, _, errOut = runCLI("events", "--lane", "prod", "--brokers", dead, "--registry", env.RegistryURL)
	if code != 1 || !strings.Contains(errOut, dead) || !strings.Contains(errOut, "--brokers") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("unreachable broker: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("events", "--lane", "prod", "--brokers", env.Brokers[0], "--registry", "http://"+dead)
	if code != 1 || !strings.Contains(errOut, dead) || !strings.Contains(errOut, "--registry") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("unreachable registry: exit %d, stderr %q", code, errOut)
	}
}
