package promote

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

func frames(fps int64, seqs ...int64) []frameRef {
	out := make([]frameRef, len(seqs))
	for i, s := range seqs {
		out[i] = frameRef{seq: s, fps: fps}
	}
	return out
}

func TestTicksCountEveryFrameBetweenResultsUpToTheIdleLimit(t *testing.T) {
	idle := int64(operators.DefaultIdleFrames)
	cases := []struct {
		name  string
		parts map[int32][]frameRef
		want  int64
	}{
		{"one frame", map[int32][]frameRef{0: frames(30, 100)}, 1},
		{"two results in one frame count once", map[int32][]frameRef{0: frames(30, 100, 100)}, 1},
		{"empty frames between results tick", map[int32][]frameRef{0: frames(30, 100, 110)}, 11},
		{"partitions add up", map[int32][]frameRef{0: frames(30, 100, 110), 3: frames(30, 7, 8)}, 13},
		{"an idle gap counts the frames before idling", map[int32][]frameRef{0: frames(30, 0, 10_000)}, 1 + idle + 1},
		// 30 FPS frame 300 starts at 10 s; at 15 FPS that is frame 150,
		// and frame 160 is 10 frames of 1/15 s later.
		{"a rate change counts on the new grid", map[int32][]frameRef{0: append(frames(30, 299, 300), frames(15, 160)...)}, 1 + 1 + 10},
	}
	for _, c := range cases {
		lg := &laneLog{parts: map[int32]*partLog{}}
		for p, fs := range c.parts {
			lg.parts[p] = &partLog{frames: fs}
		}
		if got := lg.ticks(); got != c.want {
			t.Errorf("%s: %d ticks, want %d", c.name, got, c.want)
		}
	}
}

func TestDriftEMAFoldsEachPartitionAndPoolsBySamples(t *testing.T) {
	lg := &laneLog{parts: map[int32]*partLog{
		0: {drifts: []float64{0.5, 0.0}}, // 0.5, then 0.2·0 + 0.8·0.5 = 0.4
		1: {drifts: []float64{0.1}},      // 0.1
	}}
	ema, n := lg.driftEMA(0.2)
	if want := (0.4*2 + 0.1) / 3; n != 3 || ema < want-1e-12 || ema > want+1e-12 {
		t.Fatalf("EMA %v over %d samples, want %v over 3", ema, n, want)
	}
	if g := lg.driftGate(0.2); !strings.Contains(g.Measured, "0.3000 over 3 samples") || g.Pass {
		t.Fatalf("gate %+v: want a fail at 0.30 > %.2f", g, MaxDriftEMA)
	}
	if g := (&laneLog{parts: map[int32]*partLog{}}).driftGate(0.2); g.Pass {
		t.Fatalf("no samples passed the drift gate: %+v", g)
	}
}

func TestInterlocksCatchAnUnapprovedExecutionAndMissingConsent(t *testing.T) {
	lg := &laneLog{previews: map[string]bool{}, executed: map[string]bool{}, approvals: map[string]bool{}}
	action := func(id, status string, extra schemas.Payload) {
		p := schemas.Payload{stages.ApprovalActionKey: id, "status": status}
		for k, v := range extra {
			p[k] = v
		}
		lg.addAction("actions", &schemas.Event{Payload: p})
	}
	// a1 needed an approval and had one; a2 needed one and had none; a3
	// needed none.
	action("a1", stages.ActionPreview, schemas.Payload{"approval_required": true})
	action("a1", stages.ActionExecuted, schemas.Payload{"approved": true})
	lg.addAction("approvals", &schemas.Event{Payload: schemas.Payload{stages.ApprovalActionKey: "a1"}})
	action("a2", stages.ActionPreview, schemas.Payload{"approval_required": true})
	action("a2", stages.ActionExecuted, schemas.Payload{"approved": true})
	action("a3", stages.ActionPreview, schemas.Payload{"approval_required": false})
	action("a3", stages.ActionExecuted, schemas.Payload{"approved": false})
	lg.addAction("actions", &schemas.Event{Payload: schemas.Payload{"status": "executed"}}) // no id: not an action record

	trace := func(msg, outcome string, consent any) {
		lg.addTrace(&schemas.Trace{MsgID: msg, Stage: stages.StageGuardian,
			Inputs: schemas.Payload{"consent": consent}, Outputs: schemas.Payload{"outcome": outcome}})
	}
	trace("m1", "allow", "granted")
	trace("m2", "allow", true)
	trace("m3", "deny", "no") // refused: no breach
	trace("m4", "executed", "")
	trace("m5", "allow", false)
	lg.addTrace(&schemas.Trace{MsgID: "m6", Stage: stages.StageDrift, Outputs: schemas.Payload{"outcome": "allow"}})

	g := lg.interlockGate()
	if g.Pass || g.Value != 3 {
		t.Fatalf("gate %+v: want 3 breaches (a2 without approval; m4, m5 without consent)", g)
	}
	for _, want := range []string{"1 executed without approval", "2 let through without consent", "first action a2", "first message m4", "5 guardian decisions"} {
		if !strings.Contains(g.Measured, want) {
			t.Errorf("measured %q does not say %q", g.Measured, want)
		}
	}
}

func TestTickRateGateFailsOnAFrameBelowTheLaneRate(t *testing.T) {
	tick := spec.Tick{FPS: 30, BudgetMS: 35}
	lg := &laneLog{parts: map[int32]*partLog{0: {frames: append(frames(30, 1, 1, 2), frames(20, 5)...)}}}
	if g := lg.tickRateGate(tick); g.Pass || g.Value != 1 || !strings.Contains(g.Measured, "1 of 3 frames") {
		t.Fatalf("gate %+v: want 1 of 3 frames below 30 FPS", g)
	}
	lg.parts[0].frames = frames(30, 1, 2)
	if g := lg.tickRateGate(tick); !g.Pass {
		t.Fatalf("gate %+v: every frame at 30 FPS", g)
	}
}

func TestAllowList(t *testing.T) {
	l, err := ParseAllowList("a", []byte("# expected\n\nallow -> deny  # max_risk lowered\n* -> pending\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from, to string
		want     bool
	}{{"allow", "deny", true}, {"deny", "allow", false}, {"dry_run", "pending", true}, {"none", "deny", false}} {
		if got := l.Allows(c.from, c.to); got != c.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	for _, bad := range []string{"allow deny", "allow ->", "allowed -> deny", "allow -> *deny"} {
		_, err := ParseAllowList("a.txt", []byte("# c\n"+bad+"\n"))
		var ae *AllowListError
		if !errors.As(err, &ae) || ae.Line != 2 || !strings.HasPrefix(err.Error(), "a.txt:2: ") {
			t.Errorf("%q: got %v, want an error at a.txt:2", bad, err)
		}
	}
}

func TestCIGates(t *testing.T) {
	dir := t.TempDir()
	missing := ciGates(filepath.Join(dir, "none.json"))
	if len(missing) != 2 || missing[0].Pass || missing[1].Pass || !strings.Contains(missing[0].Measured, "make gates") {
		t.Fatalf("no report: %+v", missing)
	}
	write := func(s string) string {
		p := filepath.Join(dir, "gates.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if g := ciGates(write("{not json")); g[0].Pass || !strings.Contains(g[0].Measured, ".ci/gates") {
		t.Fatalf("bad report: %+v", g)
	}
	g := ciGates(write(`{"commit":"abc","coverage":[{"name":"./stages/","value":94.9,"floor":95}],"bench":[{"name":"chain/fan-out","value":0.3,"floor":0.1}]}`))
	if g[0].Pass || g[0].Value != 1 || !strings.Contains(g[0].Measured, "./stages/ 94.9% < 95.0%") {
		t.Fatalf("coverage below its floor: %+v", g[0])
	}
	if !g[1].Pass || !strings.Contains(g[1].Measured, "chain/fan-out 0.30 ≥ 0.10 (CI run of abc") {
		t.Fatalf("bench above its floor: %+v", g[1])
	}
	if g := ciGates(write(`{"coverage":[],"bench":[]}`)); g[0].Pass || g[1].Pass {
		t.Fatalf("a report without figures passed: %+v", g)
	}
}

func TestConfigErrorsSayWhatToFix(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	ok := Config{From: schemas.LaneCandidate, To: schemas.LaneProd, Brokers: []string{"x:1"}, Spec: sp, Who: "me"}
	for _, c := range []struct {
		field string
		edit  func(*Config)
	}{
		{"--from", func(c *Config) { c.From = "staging" }},
		{"--to", func(c *Config) { c.To = "live" }},
		{"--to", func(c *Config) { c.To = c.From }},
		{"--pipeline", func(c *Config) { c.Spec = nil }},
		{"--brokers", func(c *Config) { c.Brokers = nil }},
		{"--who", func(c *Config) { c.Who = "" }},
	} {
		cfg := ok
		c.edit(&cfg)
		var ce *ConfigError
		if _, err := Run(t.Context(), cfg); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("want a ConfigError on %s, got %v", c.field, err)
		}
	}
}

func TestRegressionSpecTakesTheTargetsStagesAndKeepsTheSourcesModes(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	sp.Lanes[schemas.LaneProd].Guardian.MaxRisk = 0.3
	got := regressionSpec(sp, schemas.LaneCandidate, schemas.LaneProd)
	src, dst, out := sp.Lanes[schemas.LaneCandidate], sp.Lanes[schemas.LaneProd], got.Lanes[schemas.LaneCandidate]
	if out.Guardian.MaxRisk != 0.3 || out.Guardian.DryRun != src.Guardian.DryRun || out.Tick != src.Tick || out.Decimate != src.Decimate {
		t.Fatalf("regression lane %+v: want prod's guardian thresholds with candidate's dry-run, tick and ring", out)
	}
	if src.Guardian.MaxRisk == 0.3 || dst.Guardian.DryRun == out.Guardian.DryRun && dst.Guardian.DryRun != src.Guardian.DryRun {
		t.Fatal("regressionSpec changed the spec it was given")
	}
	if got.Lanes[schemas.LaneProd] != dst {
		t.Fatal("the target lane must stay as it is")
	}
}

func TestPromotionEventRecordsEveryGate(t *testing.T) {
	rep := &Report{From: schemas.LaneCandidate, To: schemas.LaneProd, SpecVersion: "v1-abc", Gates: []Gate{{Name: GateTicks, Value: 12000, Pass: true}, {Name: GateRegression, Value: 0, Pass: true}}}
	ev := PromotionEvent(rep, "ana", mustTime(t))
	if ev.Kind != schemas.EventPromotion || ev.Lane != schemas.LaneProd || ev.Payload["who"] != "ana" || ev.Payload["gate_ticks"] != 12000.0 || ev.Payload["gate_capability_regression"] != 0.0 {
		t.Fatalf("event %+v", ev)
	}
	if again := PromotionEvent(rep, "ana", mustTime(t)); again.ID != ev.ID {
		t.Fatal("the same promotion at the same time must have the same id")
	}
}

func mustTime(t *testing.T) (ts time.Time) {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, "2026-12-06T12:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
