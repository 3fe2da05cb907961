package adapters_test

import (
	"errors"
	"math"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestEmotionCircumplex(t *testing.T) {
	node := must(adapters.NewEmotion())(t)
	s := math.Sqrt(0.5)
	for _, tc := range []struct {
		v, a      float64
		label     string
		intensity float64
		angle     float64
	}{
		{1, 0, "pleasure", 1, 0},
		{s, s, "excitement", 1, 45},
		{0, 1, "arousal", 1, 90},
		{-s, s, "distress", 1, 135},
		{-1, 0, "misery", 1, 180},
		{-s, -s, "depression", 1, 225},
		{0, -1, "sleepiness", 1, 270},
		{s, -s, "contentment", 1, 315},
		{1, 1, "excitement", 1, 45},                                      // radius √2 clipped to 1
		{0.5, 0.2, "pleasure", math.Hypot(0.5, 0.2), deg(0.2, 0.5)},      // inside the 0° sector
		{0.5, 0.21, "excitement", math.Hypot(0.5, 0.21), deg(0.21, 0.5)}, // past 22.5°
		{0.05, 0.05, "neutral", math.Hypot(0.05, 0.05), 45},
		{0, 0, "neutral", 0, 0},
		{0.3, -0.001, "pleasure", math.Hypot(0.3, 0.001), 360 + deg(-0.001, 0.3)}, // wraps to sector 0
	} {
		r := handle(t, node, message(schemas.Payload{"valence": tc.v, "arousal": tc.a}, nil))
		wantOK(t, r)
		if str(t, r, "emotion") != tc.label || math.Abs(f64(t, r, "intensity")-tc.intensity) > 1e-9 || math.Abs(f64(t, r, "angle_deg")-tc.angle) > 1e-8 {
			t.Errorf("(%v, %v) → %v, want %s %v %v", tc.v, tc.a, r.Payload, tc.label, tc.intensity, tc.angle)
		}
	}
}

func TestEmotionNeutralRadius(t *testing.T) {
	p := schemas.Payload{"valence": 0.3, "arousal": 0.3}
	wide := must(adapters.NewEmotion(adapters.EmotionNeutralRadius(0.5)))(t)
	if got := str(t, handle(t, wide, message(p, nil)), "emotion"); got != "neutral" {
		t.Errorf("radius 0.5: %s, want neutral", got)
	}
	none := must(adapters.NewEmotion(adapters.EmotionNeutralRadius(0)))(t)
	if got := str(t, handle(t, none, message(schemas.Payload{"valence": 0.01, "arousal": 0.0}, nil)), "emotion"); got != "pleasure" {
		t.Errorf("radius 0: %s, want pleasure", got)
	}
	if got := str(t, handle(t, &adapters.Emotion{}, message(schemas.Payload{"valence": 0.05, "arousal": 0.0}, nil)), "emotion"); got != "neutral" {
		t.Errorf("zero value: %s, want the default radius 0.1 to give neutral", got)
	}
	for _, bad := range []float64{-0.1, 1, math.NaN()} {
		if _, err := adapters.NewEmotion(adapters.EmotionNeutralRadius(bad)); !errors.Is(err, adapters.ErrInvalidOption) {
			t.Errorf("radius %v: err %v", bad, err)
		}
	}
}

func TestEmotionBadInput(t *testing.T) {
	node := must(adapters.NewEmotion())(t)
	for _, tc := range []struct {
		p    schemas.Payload
		want string
	}{
		{schemas.Payload{"arousal": 0.1}, "payload.valence: missing; want a number in [-1, 1]"},
		{schemas.Payload{"valence": 1.1, "arousal": 0.1}, "payload.valence: got double 1.1"},
		{schemas.Payload{"valence": 0.1, "arousal": math.Inf(-1)}, "payload.arousal: got -Inf"},
		{schemas.Payload{"valence": 0.1, "arousal": "calm"}, `payload.arousal: got string "calm"`},
	} {
		wantReason(t, handle(t, node, message(tc.p, nil)), tc.want)
	}
}

// deg is atan2 in degrees, computed here independently of the node.
func deg(y, x float64) float64 { return math.Atan2(y, x) * 180 / math.Pi }
