package promote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/promote"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// The scripted run: a candidate lane fed enough frames, at low drift, with
// consent, to meet every gate from its log; prod's guardian in the spec
// refuses more risk than candidate's, so replaying the candidate's log
// under prod's stages turns the moderately risky messages from allow into
// deny. Without an allow-list naming that change the regression gate
// fails; with it, every gate passes and the promotion event is on prod's
// events topic.

var scriptNS = uuid.MustParse("0f6f2a52-8c0e-4b8e-9a51-7d2c3b4e5f60")

const (
	scriptGlyphs = 36
	scriptSteps  = 180                    // per glyph
	scriptGap    = 400 * time.Millisecond // of event time between a glyph's messages: 12 frames at 30 FPS
	riskyRisk    = 0.4                    // allowed by candidate (max_risk 0.5), refused by prod below
	prodMaxRisk  = 0.3
)

// scriptMessages are the glyphs' messages in event-time order. Intent and
// action differ by a small angle (drift 1 − cos ≈ 0.005); every fifth
// message of every fourth glyph carries riskyRisk.
func scriptMessages(base time.Time) (msgs []schemas.MatrizMessage, risky int) {
	for k := range scriptSteps {
		for g := range scriptGlyphs {
			theta := 0.1
			m := schemas.MatrizMessage{
				MsgID: uuid.NewSHA1(scriptNS, fmt.Appendf(nil, "msg/%d/%d", g, k)).String(),
				TS:    base.Add(time.Duration(k)*scriptGap + time.Duration(g)*time.Millisecond),
				Lane:  schemas.LaneCandidate,
				Glyph: schemas.Glyph{ID: uuid.NewSHA1(scriptNS, fmt.Appendf(nil, "glyph/%d", g)).String(), Kind: "intent", Version: "1",
					Tags: map[string]string{"consent": "granted", "purpose": "research"}},
				Payload: schemas.Payload{
					"intent":                  []float64{1, 0, 0},
					"action":                  []float64{math.Cos(theta), math.Sin(theta), 0},
					"constraint_satisfaction": 1.0,
					"risk":                    0.1,
				},
				Topic: "trend",
			}
			if g%4 == 0 && k%5 == 0 {
				m.Payload["risk"] = riskyRisk
				risky++
			}
			msgs = append(msgs, m)
		}
	}
	return msgs, risky
}

// writeCIReport writes a CI report whose figures meet their floors.
func writeCIReport(t *testing.T, dir string) string {
	t.Helper()
	r := promote.CIReport{Commit: "0123456789abcdef", Time: time.Now().UTC(),
		Coverage: []promote.CIFigure{{Name: "./stages/", Value: 98.3, Floor: 95}, {Name: "./pipelines/runtime/", Value: 91, Floor: 89}},
		Bench:    []promote.CIFigure{{Name: "chain/fan-out", Value: 0.25, Floor: 0.10}, {Name: "replay/chain", Value: 0.9, Floor: 0.20}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gates.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gateOf(t *testing.T, rep *promote.Report, name string) promote.Gate {
	t.Helper()
	for _, g := range rep.Gates {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no gate %q in the report", name)
	return promote.Gate{}
}

func TestPromoteRefusesAFreshLaneAndPassesAfterAScriptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a live candidate run, two regression replays and the promotion event (skipped with -short)")
	}
	ctx := context.Background()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := sp.Lanes[schemas.LaneCandidate].Guardian.MaxRisk; !(got > riskyRisk) {
		t.Fatalf("candidate's max_risk is %v; the script assumes it allows risk %v", got, riskyRisk)
	}
	sp.Lanes[schemas.LaneProd].Guardian.MaxRisk = prodMaxRisk
	// The script's event times are an hour old, so every frame is due at
	// once: candidate's ring would drop the oldest; backpressure keeps
	// them all, as a live lane at its own pace would.
	sp.Lanes[schemas.LaneCandidate].Decimate.Policy = "backpressure"
	env := pipetest.Start(t, schemas.LaneCandidate, schemas.LaneProd)
	dir := t.TempDir()
	group := "promote-candidate"
	ciPath := writeCIReport(t, dir)
	base := promote.Config{From: schemas.LaneCandidate, To: schemas.LaneProd, Brokers: env.Brokers, RegistryURL: env.RegistryURL,
		Spec: sp, Group: group, CIReport: ciPath, Who: "release-manager", Getenv: func(string) string { return "" }, Clock: clock.Real{}}

	// A fresh lane: nothing on its log, so the log's gates fail.
	rep, err := promote.Run(ctx, base)
	var gf *promote.GatesFailedError
	if !errors.As(err, &gf) {
		t.Fatalf("a fresh lane: got %v, want a refusal", err)
	}
	var fresh strings.Builder
	if err := rep.WriteText(&fresh); err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh lane:\n%s", fresh.String())
	for _, name := range []string{promote.GateTicks, promote.GateDrift, promote.GateTickP95, promote.GateRegression} {
		if gateOf(t, rep, name).Pass {
			t.Errorf("fresh lane: gate %s passed with nothing on the log", name)
		}
		if !strings.Contains(fresh.String(), name) || !strings.Contains(err.Error(), name) {
			t.Errorf("fresh lane: the table or the error does not name the unmet gate %s", name)
		}
	}

	// The scripted run.
	msgs, risky := scriptMessages(time.Now().Add(-time.Hour).Truncate(time.Second))
	env.Produce(t, schemas.LaneCandidate, msgs, nil)
	stop := pipetest.Run(t, func(ctx context.Context, ready func()) error {
		return runtime.Run(ctx, runtime.Config{Lane: schemas.LaneCandidate, Spec: sp, Group: group, Getenv: base.Getenv, Brokers: env.Brokers,
			RegistryURL: env.RegistryURL, IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond, Ready: ready})
	})
	env.WaitCommitted(t, topics.Name(string(schemas.LaneCandidate), topics.KindMessages), group, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Without the allow-list: prod's max_risk refuses what candidate let
	// through, and only that gate fails.
	rep, err = promote.Run(ctx, base)
	if rep != nil {
		var b strings.Builder
		rep.WriteText(&b)
		t.Logf("scripted run, no allow-list:\n%s", b.String())
	}
	if !errors.As(err, &gf) || len(gf.Failed) != 1 || gf.Failed[0] != promote.GateRegression {
		t.Fatalf("scripted run without an allow-list: got %v, want only %q refused", err, promote.GateRegression)
	}
	reg := gateOf(t, rep, promote.GateRegression)
	if int(reg.Value) != risky || !strings.Contains(reg.Measured, fmt.Sprintf("%d allow -> deny", risky)) {
		t.Fatalf("regression gate: %v unexpected changes (%s); the script made %d messages prod refuses", reg.Value, reg.Measured, risky)
	}

	// With it, every gate passes and the event is written.
	allow, err := promote.ParseAllowList("allow.txt", []byte("# prod refuses risk above 0.3\nallow -> deny\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := base
	cfg.AllowList = allow
	rep, err = promote.Run(ctx, cfg)
	var out strings.Builder
	if rep != nil {
		rep.WriteText(&out)
	}
	t.Logf("scripted run:\n%s", out.String())
	if err != nil {
		t.Fatalf("scripted run with the allow-list: %v", err)
	}
	if n := gateOf(t, rep, promote.GateTicks).Value; n < promote.MinTicks {
		t.Fatalf("ticks %v passed below %d", n, promote.MinTicks)
	}
	if ema := gateOf(t, rep, promote.GateDrift).Value; ema > 0.01 {
		t.Fatalf("drift EMA %v: the script's drift is 1-cos(0.1) ≈ 0.005", ema)
	}

	var found []schemas.Event
	for _, m := range env.ReadAll(t, topics.Name(string(schemas.LaneProd), topics.KindEvents)) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, env.Serde.Lookup(), m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind == schemas.EventPromotion {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d promotion events on prod's events topic, want 1", len(found))
	}
	ev := found[0]
	if ev.ID != rep.Event || ev.Payload["who"] != "release-manager" || ev.Payload["spec_version"] != rep.SpecVersion ||
		ev.Payload["from"] != "candidate" || ev.Payload["to"] != "prod" {
		t.Fatalf("promotion event %+v does not record the promotion %s by release-manager of %s", ev, rep.Event, rep.SpecVersion)
	}
	if v, _ := ev.Payload.Float("gate_ticks"); v != gateOf(t, rep, promote.GateTicks).Value {
		t.Fatalf("promotion event's gate_ticks %v, the report's %v", v, gateOf(t, rep, promote.GateTicks).Value)
	}
	if v, _ := ev.Payload.Float("gate_capability_regression"); v != 0 {
		t.Fatalf("promotion event's gate_capability_regression %v, want 0 unexpected", v)
	}
}
