package adapters

import (
	"context"
	"math"

	"github.com/matriz/pipelines/schemas"
)

// Emotion maps a point on Russell's circumplex of affect (valence,
// arousal) to a discrete emotion and its intensity, so stages and people
// can read affect as a word and a strength instead of two numbers.
//
// Payload in:
//
//	valence  double in [-1,1], required: unpleasant (-1) .. pleasant (+1)
//	arousal  double in [-1,1], required: deactivated (-1) .. activated (+1)
//
// angle = atan2(arousal, valence) in degrees [0, 360); the label is the
// one of Russell's (1980) eight categories whose direction is nearest
// (sectors of 45° centred on them): pleasure 0°, excitement 45°, arousal
// 90°, distress 135°, misery 180°, depression 225°, sleepiness 270°,
// contentment 315°. intensity = min(1, √(valence² + arousal²)); below the
// neutral radius (default 0.1), and always at the origin, the label is
// "neutral".
//
// Payload out: emotion (label), intensity, angle_deg, valence, arousal.
type Emotion struct {
	cfg emotionConfig
}

type emotionConfig struct {
	neutral float64
	set     bool // distinguishes a configured 0 from the zero value
}

func defaultEmotionConfig() emotionConfig { return emotionConfig{neutral: 0.1, set: true} }

func (c emotionConfig) validate() error {
	if !(c.neutral >= 0 && c.neutral < 1) {
		return optionError(NameEmotion, "neutral radius %v: want a number in [0, 1)", c.neutral)
	}
	return nil
}

// EmotionOption configures an Emotion node.
type EmotionOption func(*emotionConfig)

// EmotionNeutralRadius sets the intensity below which affect is "neutral"
// (default 0.1, in [0, 1)).
func EmotionNeutralRadius(r float64) EmotionOption {
	return func(c *emotionConfig) { c.neutral = r }
}

// NewEmotion returns an Emotion node configured by opts.
func NewEmotion(opts ...EmotionOption) (*Emotion, error) {
	cfg := defaultEmotionConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Emotion{cfg: cfg}, nil
}

// Name returns "emotion".
func (*Emotion) Name() string { return NameEmotion }

// Version returns the node's version.
func (*Emotion) Version() string { return "1.0.0" }

// circumplex lists Russell's eight categories counter-clockwise from 0°.
var circumplex = [8]string{"pleasure", "excitement", "arousal", "distress", "misery", "depression", "sleepiness", "contentment"}

// Handle labels msg's affect.
func (e *Emotion) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameEmotion); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameEmotion, e.Version()), nil
	}
	cfg := e.cfg
	if !cfg.set { // the zero value is usable and means the defaults
		cfg = defaultEmotionConfig()
	}
	in := newInput(NameEmotion, msg)
	v, _ := in.number("valence", -1, 1, true)
	a, _ := in.number("arousal", -1, 1, true)
	if !in.ok() {
		return refuse(msg, NameEmotion, e.Version(), in.reasons), nil
	}
	angle := math.Atan2(a, v) * 180 / math.Pi
	if angle < 0 {
		angle += 360
	}
	r := math.Hypot(v, a)
	intensity := round9(math.Min(1, r))
	label := "neutral"
	if r > 0 && r >= cfg.neutral {
		label = circumplex[int(math.Floor((angle+22.5)/45))%8]
	}
	deg := round9(angle)
	out := schemas.Payload{
		"emotion":   label,
		"intensity": intensity,
		"angle_deg": deg,
		"valence":   v,
		"arousal":   a,
	}
	data := schemas.Payload{"emotion": label, "intensity": intensity, "angle_deg": deg}
	return answer(msg, NameEmotion, e.Version(), nil, out, data), nil
}
