package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/inspect"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// newcomerLines returns 100 JSON lines for lane: 97 valid messages (one of
// them, deniedAt, for a glyph without consent tags; a few without msg_id
// or ts) and three invalid ones at lines 10, 50 and 77, each with the
// field at fault.
func newcomerLines(e *laneEnv, base time.Time) (lines []string, deniedAt, actionAt int, bad map[int]string) {
	bad = map[int]string{10: "msg_id", 50: "glyph.id", 77: "payload.nested"}
	deniedAt, actionAt = 33, 60
	for n := 1; n <= 100; n++ {
		m := e.gen.Next(base.Add(time.Duration(n) * time.Millisecond))
		j := inspect.MessageJSON(&m)
		switch n {
		case deniedAt:
			j["glyph"].(map[string]any)["tags"] = map[string]string{"subject_sid": "x"}
		case actionAt:
			j["payload"].(map[string]any)["action_kind"] = "notify"
			j["payload"].(map[string]any)["priority"] = "P0"
		case 5, 6:
			delete(j, "msg_id")
		case 7:
			delete(j, "ts")
		case 10:
			j["msg_id"] = "not-a-uuid"
		case 50:
			j["glyph"].(map[string]any)["id"] = "GLYPH-1"
		case 77:
			j["payload"].(map[string]any)["nested"] = map[string]any{"a": 1}
		}
		b, err := json.Marshal(j)
		if err != nil {
			panic(err)
		}
		lines = append(lines, string(b))
	}
	return lines, deniedAt, actionAt, bad
}

// TestNewcomerProduceTailExplain drives the CLI as a new user would:
// `produce` 100 JSON lines (3 invalid: each reported with its line number
// and field, not sent) → a lane runtime answers → `tail --topic results
// --json` shows the 97 results → `explain` of the message without consent
// prints the guardian's deny reasons and the policy values → `tail --topic
// dlq` shows the reasons of the corrupt records written next to them.
func TestNewcomerProduceTailExplain(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: embedded broker, a lane runtime and the CLI (skipped with -short)")
	}
	e := newLaneEnv(t)
	conn := []string{"--lane", string(e.lane), "--brokers", e.brokers, "--registry", e.regURL}
	lines, deniedAt, actionAt, bad := newcomerLines(e, time.Now().Add(-2*time.Second))
	file := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(append([]string{"produce", "--file", file, "--echo"}, conn...)...)
	if code != 1 {
		t.Fatalf("produce with 3 bad lines: exit %d, want 1\nstderr:\n%s", code, errOut)
	}
	errLines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(errLines) != 4 || errLines[3] != "matriz produce: sent 97, refused 3" {
		t.Fatalf("produce stderr: want 3 refusals and the summary, got:\n%s", errOut)
	}
	for i, n := range []int{10, 50, 77} {
		if want := fmt.Sprintf("matriz produce: line %d: field %s: ", n, bad[n]); !strings.HasPrefix(errLines[i], want) {
			t.Errorf("refusal %d: %q, want it to start with %q", i, errLines[i], want)
		}
	}
	var sent []schemas.MatrizMessage
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var j struct {
			MsgID string `json:"msg_id"`
			TS    string `json:"ts"`
		}
		if err := json.Unmarshal([]byte(l), &j); err != nil || j.MsgID == "" || j.TS == "" {
			t.Fatalf("echo line %q: msg_id and ts not filled in (%v)", l, err)
		}
		sent = append(sent, schemas.MatrizMessage{MsgID: j.MsgID})
	}
	if len(sent) != 97 {
		t.Fatalf("--echo printed %d messages, want 97", len(sent))
	}
	echoed := strings.Split(strings.TrimSpace(out), "\n")
	idOf := func(line string) string {
		var j struct {
			MsgID string `json:"msg_id"`
		}
		json.Unmarshal([]byte(line), &j)
		return j.MsgID
	}
	// One bad line (10) lies before deniedAt, two (10, 50) before actionAt.
	deniedID, actionID := idOf(echoed[deniedAt-2]), idOf(echoed[actionAt-3])
	msgs := e.ReadAll(t, topics.Name(string(e.lane), topics.KindMessages))
	if len(msgs) != 97 {
		t.Fatalf("messages topic holds %d records, want the 97 valid lines", len(msgs))
	}

	// Corrupt records straight to the topic, for the DLQ.
	e.Write(t, topics.Name(string(e.lane), topics.KindMessages), []topics.Message{
		{Key: []byte("k1"), Value: []byte(`{"json":"not the wire format"}`)},
		{Key: []byte("k2"), Value: []byte{0, 0, 0, 0x7f, 0x7f, 1, 2}},
	})
	liveLane(t, e, "newcomer")

	code, out, errOut = runCLI(append([]string{"tail", "--topic", "results", "--json"}, conn...)...)
	if code != 0 {
		t.Fatalf("tail results: exit %d: %s", code, errOut)
	}
	var gotIDs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Value struct {
				MsgID string `json:"msg_id"`
				OK    bool   `json:"ok"`
			} `json:"value"`
			Offset *int64 `json:"offset"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Offset == nil || r.Value.MsgID == "" {
			t.Fatalf("tail --json line %q: %v", l, err)
		}
		gotIDs = append(gotIDs, r.Value.MsgID)
	}
	slices.Sort(gotIDs)
	gotIDs = slices.Compact(gotIDs)
	if len(gotIDs) != 97 || !slices.Contains(gotIDs, deniedID) {
		t.Fatalf("tail --topic results --json: %d distinct messages answered, want 97 (with %s)", len(gotIDs), deniedID)
	}
	t.Logf("tail --topic results --json: %d lines, %d messages", strings.Count(out, "\n"), len(gotIDs))

	code, out, errOut = runCLI(append([]string{"explain", deniedID}, conn...)...)
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"input     [matriz.prod.messages/", "ok=false", "guardian", "decision=deny", "consent tag missing", "purpose tag missing",
		"policy: max_risk=", "max_drift=", "consent=granted|true|yes", `"frame_fps":30`, `"frame_seq":`,
		// the frame's routing event, which lists the message among others
		"stage=route", `"msg_ids":[`} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("explain %s:\n%s", deniedID, out)
	// A P0 action in prod with EXT_ACTIONS_ENABLED off (the default) is
	// previewed and runs dry: explain lists its action record with its
	// status and the decision with its reason.
	code, out, errOut = runCLI(append([]string{"explain", actionID}, conn...)...)
	if code != 0 || !strings.Contains(out, "action    [matriz.prod.actions/") || !strings.Contains(out, "status=preview") || !strings.Contains(out, "decision=dry_run") ||
		!strings.Contains(out, "reasons: EXT_ACTIONS_ENABLED is off") {
		t.Fatalf("explain of a P0 action: exit %d, want its action record and the dry_run decision:\n%s%s", code, out, errOut)
	}
	t.Logf("explain %s (a P0 action):\n%s", actionID, out)
	code, jout, errOut := runCLI(append([]string{"explain", deniedID, "--json"}, conn...)...)
	var story struct {
		Input   map[string]any   `json:"input"`
		Results []map[string]any `json:"results"`
		Traces  []map[string]any `json:"traces"`
		Events  []map[string]any `json:"events"`
	}
	if code != 0 || json.Unmarshal([]byte(jout), &story) != nil || story.Input == nil || len(story.Results) == 0 || len(story.Traces) == 0 || len(story.Events) == 0 {
		t.Fatalf("explain --json: exit %d, %s %s", code, jout, errOut)
	}

	code, out, errOut = runCLI(append([]string{"tail", "--topic", "dlq"}, conn...)...)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "reason=undecodable stage=decode") ||
		!strings.Contains(out, "reason=unknown_schema_id stage=decode") || !strings.Contains(out, "src=matriz.prod.messages/") {
		t.Fatalf("tail --topic dlq: exit %d, want 2 lines with their reasons, got:\n%s%s", code, out, errOut)
	}
	t.Logf("tail --topic dlq:\n%s", out)
}

// liveLane runs the lane's runtime in process until group committed every
// record of the messages topic.
func liveLane(t *testing.T, e *laneEnv, group string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, runtime.Config{Lane: e.lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL, Group: group,
			IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond})
	}()
	ends, err := topics.PartitionEnds(context.Background(), e.Brokers, topics.Name(string(e.lane), topics.KindMessages))
	if err != nil {
		t.Fatal(err)
	}
	var want, got int64
	for _, o := range ends {
		want += o
	}
	clocktest.WaitFor(t, time.Minute, fmt.Sprintf("group %s committed %d records", group, want), func() bool {
		got = 0
		for _, o := range e.committed(t, group) {
			got += max(o, 0)
		}
		return got >= want
	}, func() string { return fmt.Sprintf("%d committed", got) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestNewcomerUsageErrorsExitTwo: produce, tail and explain refuse a bad
// command line with one line and exit 2 before connecting anywhere.
func TestNewcomerUsageErrorsExitTwo(t *testing.T) {
	dead := closedPort(t)
	conn := []string{"--lane", "prod", "--brokers", dead, "--registry", "http://" + dead}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce", "--schema-version", "v3"}, "MatrizMessage has no v3"},
		{[]string{"produce", "--file", "x", "--count", "3"}, "exclude each other"},
		{[]string{"produce", "--count", "-1"}, "0 or more"},
		{[]string{"produce", "--scenario"}, "--scenario needs --count"},
		{[]string{"produce", "--scenario", "--count", "5", "--schema-version", "v1"}, "latest MatrizMessage schema, not v1"},
		{[]string{"tail", "--topic", "state"}, "want one of results, events, traces, actions, dlq, messages"},
		{[]string{"tail", "--from", "yesterday"}, "--from"},
		{[]string{"tail", "--from", "2@4096"}, "give P:OFFSET"},
		{[]string{"explain"}, "missing MSG_ID"},
		{[]string{"explain", "a", "b"}, `unexpected argument "b"`},
	} {
		code, _, errOut := runCLI(append(tc.args, conn...)...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("matriz %s: exit %d, stderr %q; want 2 and one line with %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}
