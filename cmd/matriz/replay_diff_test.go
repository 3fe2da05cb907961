package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// diffResults encodes results of lane as the runtime writes them: keyed by
// glyph, with their output id header.
func diffResults(t *testing.T, env *pipetest.Env, lane schemas.Lane, rs ...schemas.MatrizResult) []topics.Message {
	t.Helper()
	id, err := env.Serde.ID(serde.ValueSubject(topics.Name(string(lane), topics.KindResults)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]topics.Message, len(rs))
	for i := range rs {
		v, err := schemas.AppendWire(nil, id, &rs[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = topics.Message{Key: []byte("g-" + rs[i].MsgID), Value: v, Headers: []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(rs[i].ID)}}}
	}
	return out
}

func diffResult(id, outcome string) schemas.MatrizResult {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return schemas.MatrizResult{ID: id, MsgID: "m-" + id, TS: ts, Lane: schemas.LaneCandidate, Node: "drift", NodeVersion: "1", OK: true,
		Payload: schemas.Payload{"drift_ema": 0.25, "novelty": 0.5, "n": int64(3)},
		Trace:   []schemas.Crumb{{Stage: "guardian", T: ts, Data: schemas.Payload{"outcome": outcome, "risk_class": "minimal"}}}}
}

func TestReplayDiffExitCodesAndText(t *testing.T) {
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	admin, err := topics.NewAdmin(env.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	var specs []topics.Spec
	for _, name := range []string{"same", "strict"} {
		for _, k := range topics.ReplayKinds() {
			specs = append(specs, topics.Spec{Name: topics.ReplayName(string(lane), name, k), Partitions: 6, ReplicationFactor: topics.ReplicationByCluster,
				Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete}})
		}
	}
	if _, err := admin.Ensure(context.Background(), specs, false); err != nil {
		t.Fatal(err)
	}
	live := diffResults(t, env, lane, diffResult("r-1", "allow"), diffResult("r-2", "allow"))
	env.Write(t, topics.Name(string(lane), topics.KindResults), live)
	env.Write(t, topics.ReplayName(string(lane), "same", topics.KindResults), live)
	env.Write(t, topics.ReplayName(string(lane), "strict", topics.KindResults), diffResults(t, env, lane, diffResult("r-1", "allow"), diffResult("r-2", "deny")))
	conn := []string{"--lane", string(lane), "--brokers", env.Brokers[0], "--registry", env.RegistryURL}

	code, out, errOut := runCLI(append([]string{"replay", "diff", "same"}, conn...)...)
	if code != 0 || !strings.Contains(out, "identical: 2 outputs") || errOut != "" {
		t.Fatalf("diff same: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}

	code, out, errOut = runCLI(append([]string{"replay", "diff", "strict"}, conn...)...)
	for _, want := range []string{
		`results r-2 [drift] trace[0].data.outcome: "allow" → "deny"`,
		"allow → deny: 1",
		"not identical: 1 changed, 0 only in live, 0 only in strict",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff strict: stdout lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || errOut != "matriz replay: outputs differ: 1 changed, 0 only in live, 0 only in strict (lane candidate)\n" {
		t.Fatalf("diff strict: exit %d, stderr %q, want 1 and one line", code, errOut)
	}
	t.Logf("matriz replay diff strict → exit 1:\n%s%s", out, errOut)

	// Two replays, as JSON.
	code, out, _ = runCLI(append([]string{"replay", "diff", "same", "strict", "--json", "--kinds", "results"}, conn...)...)
	var rep struct {
		Left, Right string
		Records     []struct{ ID, Field string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Left != "same" || rep.Right != "strict" ||
		len(rep.Records) != 1 || rep.Records[0].ID != "r-2" || rep.Records[0].Field != "trace[0].data.outcome" {
		t.Fatalf("diff same strict --json: exit %d, %v, %s", code, err, out)
	}

	code, _, errOut = runCLI(append([]string{"replay", "diff", "never"}, conn...)...)
	if code != 1 || errOut != "matriz replay: replay never not found on lane candidate: run `matriz replay --into never` first\n" {
		t.Fatalf("diff never: exit %d, stderr %q", code, errOut)
	}
}

func TestReplayDiffUsageExitsTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"replay"}, "missing subcommand"},
		{[]string{"replay", "rewind"}, `unknown subcommand "rewind"`},
		{[]string{"replay", "diff", "--lane", "prod"}, "missing NAME"},
		{[]string{"replay", "diff", "a", "b", "c", "--lane", "prod"}, `unexpected argument "c"`},
		{[]string{"replay", "diff", "a", "--lane", "staging"}, "staging"},
		{[]string{"replay", "diff", "a", "--lane", "prod", "--kinds", "state"}, `--kinds: "state"`},
		{[]string{"replay", "diff", "a", "--lane", "prod", "--limit", "0"}, "--limit 0"},
		{[]string{"replay", "diff", "a", "a", "--lane", "prod"}, "both sides are a"},
		{[]string{"replay", "diff", "a/b", "--lane", "prod"}, `replay name "a/b"`},
	} {
		code, out, errOut := runCLI(c.args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("matriz %s: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
	code, out, _ := runCLI("replay", "diff", "--help")
	if code != 0 || !strings.Contains(out, "Usage: matriz replay diff --lane L NAME [OTHER]") || !strings.Contains(out, "--kinds") {
		t.Fatalf("replay diff --help: exit %d\n%s", code, out)
	}
}
