package spec

import (
	"context"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestBreakthroughBaselineFollowsTheLearningFlagWhenAsked: with
// `baseline: learning` a lane's breakthrough baseline learns only on frames
// with LEARNING_ENABLED on and stays frozen otherwise; by default (and with
// `baseline: always`) it learns from every frame, since every shipped lane
// runs with learning off.
func TestBreakthroughBaselineFollowsTheLearningFlagWhenAsked(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	samples := func(t *testing.T, yaml string, learning bool) int64 {
		t.Helper()
		s, err := Parse("baseline.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		b, err := stages.NewBreakthrough(s.Lanes[schemas.LaneProd].Breakthrough.options()...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			ts := t0.Add(time.Duration(i) * 40 * time.Millisecond)
			m := &schemas.MatrizMessage{MsgID: "m", Lane: schemas.LaneProd, TS: ts, Topic: "creative",
				Glyph:   schemas.Glyph{ID: "g", Kind: "intent", Version: "1"},
				Payload: schemas.Payload{"novelty": 0.5, "value": float64(i%3) / 3}}
			res := &schemas.MatrizResult{ID: stages.DerivedID(m.MsgID, "router"), MsgID: m.MsgID, TS: ts, Lane: schemas.LaneProd,
				Node: "router", NodeVersion: "1", OK: true, Trace: []schemas.Crumb{{Stage: "router", T: ts}}}
			f := &stages.Frame{Lane: schemas.LaneProd, Seq: int64(i), FPS: 30, Start: ts, End: ts.Add(33 * time.Millisecond),
				Records: []stages.Record{{Offset: int64(i), Msg: m, Result: res}}, Flags: stages.Flags{Learning: learning}}
			if err := b.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
		}
		return b.Stats().Samples
	}
	const learningOnly = "lanes:\n  prod:\n    breakthrough: {baseline: learning}\n"
	for _, c := range []struct {
		name     string
		yaml     string
		learning bool
		want     int64
	}{
		{"default, learning off", "lanes: {}\n", false, 10},
		{"always, learning off", "lanes:\n  prod:\n    breakthrough: {baseline: always}\n", false, 10},
		{"learning, flag off", learningOnly, false, 0},
		{"learning, flag on", learningOnly, true, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := samples(t, c.yaml, c.learning); got != c.want {
				t.Errorf("baseline learned %d samples, want %d", got, c.want)
			}
		})
	}
}
