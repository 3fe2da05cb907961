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

// TestGoalsUsageErrors: a flag the command cannot use exits 2 with one
// line naming it, before any connection.
func TestGoalsUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--lane", "staging"}, []string{"staging", "prod"}},
		{[]string{"--lane", "prod", "--replay", "a b"}, []string{"replay", `"a b"`}},
		{[]string{"--lane", "prod", "--json=maybe"}, []string{"json"}},
		{[]string{"--lane", "prod", "extra"}, []string{`"extra"`}},
	} {
		code, out, errOut := runCLI(append([]string{"goals", "--brokers", "127.0.0.1:1", "--registry", "http://127.0.0.1:1"}, c.args...)...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("goals %v: exit %d, stdout %q, stderr %q; want exit 2 and one line", c.args, code, out, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("goals %v: %q lacks %q", c.args, errOut, w)
			}
		}
	}
}

// TestGoalsLists writes the goal events of two glyphs' trees (with other
// events, and a goal event naming no goal, between them) and lists them: each goal once, at its latest
// status, by glyph and priority, then creation order; --glyph, --open and
// --json select and shape.
func TestGoalsLists(t *testing.T) {
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
	type change struct {
		glyph, goal, parent, from, to, prio string
		progress                            float64
		order                               int64
	}
	changes := []change{
		{"g-1", "launch", "", "", "active", "P1", 0, 0},
		{"g-1", "build", "launch", "", "active", "P1", 0, 1},
		{"g-1", "test", "launch", "", "proposed", "P1", 0, 2},
		{"g-2", "audit", "", "", "blocked", "P3", 0, 3},
		{"g-1", "hotfix", "", "", "proposed", "P0", 0, 4},
		{"g-1", "build", "launch", "active", "done", "P1", 1, 1},
		{"g-1", "launch", "", "active", "active", "P1", 0.5, 0},
		{"g-1", "test", "launch", "proposed", "active", "P1", 0, 2},
	}
	var recs []topics.Message
	for i, c := range changes {
		depth := int64(1)
		if c.parent != "" {
			depth = 2
		}
		ev := schemas.Event{ID: fmt.Sprintf("ev-%d", i), TS: base.Add(time.Duration(i) * time.Second), Kind: schemas.EventGoal, Lane: lane,
			GlyphID: c.glyph, MsgID: fmt.Sprintf("m-%d", i), Stage: "goals", Payload: schemas.Payload{
				"goal": c.goal, "parent": c.parent, "from": c.from, "to": c.to, "priority": c.prio, "progress": c.progress,
				"order": c.order, "depth": depth, "max_risk": 1.0, "reason": "why " + c.to}}
		other := schemas.Event{ID: fmt.Sprintf("other-%d", i), TS: ev.TS, Kind: schemas.EventRouting, Lane: lane, GlyphID: c.glyph,
			MsgID: ev.MsgID, Stage: "route", Payload: schemas.Payload{"goal": "not a goal event"}}
		evs := []schemas.Event{ev, other}
		if i == 3 { // a goal event that names no goal is not listed
			evs = append(evs, schemas.Event{ID: "nameless", TS: ev.TS, Kind: schemas.EventGoal, Lane: lane, GlyphID: "g-2", Stage: "goals", Payload: schemas.Payload{"to": "done"}})
		}
		for _, e := range evs {
			val, err := schemas.AppendWire(nil, id, &e)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, topics.Message{Key: []byte(e.GlyphID), Value: val, Time: e.TS, Headers: []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(e.ID)}}})
		}
	}
	env.Write(t, topic, recs)
	goals := func(args ...string) (int, []string, string) {
		code, out, errOut := runCLI(append([]string{"goals", "--lane", "prod", "--brokers", env.Brokers[0], "--registry", env.RegistryURL}, args...)...)
		return code, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), errOut
	}

	code, lines, errOut := goals()
	want := [][]string{
		{"GLYPH", "GOAL", "PARENT", "PRIORITY", "STATUS", "PROGRESS", "UPDATED"},
		{"g-1", "hotfix", "-", "P0", "proposed", "0%", "2026-03-01T10:00:04.000000Z"},
		{"g-1", "launch", "-", "P1", "active", "50%", "2026-03-01T10:00:06.000000Z"},
		{"g-1", "build", "launch", "P1", "done", "100%", "2026-03-01T10:00:05.000000Z"},
		{"g-1", "test", "launch", "P1", "active", "0%", "2026-03-01T10:00:07.000000Z"},
		{"g-2", "audit", "-", "P3", "blocked", "0%", "2026-03-01T10:00:03.000000Z"},
	}
	if code != 0 || len(lines) != len(want) || errOut != "" {
		t.Fatalf("goals: exit %d, %q, stderr %q; want the header and 5 goals", code, lines, errOut)
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Fatalf("line %d: %q, want %q", i, lines[i], w)
		}
	}
	if strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "proposed") {
		t.Fatalf("columns not aligned:\n%s\n%s", lines[0], lines[1])
	}

	code, lines, _ = goals("--glyph", "g-1", "--open", "--json")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("--glyph g-1 --open --json: exit %d, %q; want hotfix, launch, test", code, lines)
	}
	var names []string
	for _, l := range lines {
		var v struct {
			Glyph, Goal, Status, Reason string
			Partition                   *int32
			Offset                      *int64
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if v.Glyph != "g-1" || v.Reason != "why "+v.Status || v.Partition == nil || v.Offset == nil {
			t.Fatalf("line %q", l)
		}
		names = append(names, v.Goal)
	}
	if strings.Join(names, ",") != "hotfix,launch,test" {
		t.Fatalf("--open goals %v, want hotfix, launch, test", names)
	}

	code, lines, errOut = goals("--glyph", "g-3")
	if code != 0 || lines[0] != "" || !strings.Contains(errOut, "no goal on matriz.prod.events") {
		t.Fatalf("a glyph without goals: exit %d, %q, stderr %q", code, lines, errOut)
	}
	dead := closedPort(t)
	code, _, errOut = runCLI("goals", "--lane", "prod", "--brokers", dead, "--registry", env.RegistryURL)
	if code != 1 || !strings.Contains(errOut, dead) || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("unreachable broker: exit %d, stderr %q", code, errOut)
	}
}
