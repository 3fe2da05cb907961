package devstack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/schemas"
)

// syntheticNS is the UUID namespace of the built-in producer's ids, so the
// n-th synthetic message of a lane has the same msg_id in every run.
var syntheticNS = uuid.MustParse("0d1f6a52-5b8e-4c57-9a39-6f1e1c3a9b10")

// synthTopics are the message topics the synthetic producer cycles through,
// one per kind of MATRIZ node work.
var synthTopics = []string{"contradiction", "resource", "trend", "memory", "emotion", "identity", "governance", "creative"}

// Synthetic makes valid MatrizMessages for one lane: deterministic for a
// seed, spread over a fixed set of glyphs so keys spread over partitions.
type Synthetic struct {
	lane   schemas.Lane
	rng    *rand.Rand
	glyphs []string
	seq    uint64
}

// NewSynthetic returns a generator for lane with glyphs distinct glyph ids.
func NewSynthetic(lane schemas.Lane, seed uint64, glyphs int) *Synthetic {
	if glyphs < 1 {
		glyphs = 1
	}
	s := &Synthetic{lane: lane, rng: rand.New(rand.NewPCG(seed, uint64(len(lane))))}
	for i := range glyphs {
		s.glyphs = append(s.glyphs, uuid.NewSHA1(syntheticNS, fmt.Appendf(nil, "glyph/%s/%d", lane, i)).String())
	}
	return s
}

// Next returns the next message, stamped with event time ts.
func (s *Synthetic) Next(ts time.Time) schemas.MatrizMessage {
	n := s.seq
	s.seq++
	glyph := s.glyphs[s.rng.IntN(len(s.glyphs))]
	intent := make([]float64, 8)
	action := make([]float64, 8)
	for i := range intent {
		intent[i] = s.rng.Float64()*2 - 1
		// Actions follow intents closely: healthy, low drift.
		action[i] = intent[i] + (s.rng.Float64()-0.5)*0.1
	}
	return schemas.MatrizMessage{
		MsgID: uuid.NewSHA1(syntheticNS, fmt.Appendf(nil, "msg/%s/%d", s.lane, n)).String(),
		TS:    ts.UTC().Truncate(time.Microsecond),
		Lane:  s.lane,
		Glyph: schemas.Glyph{
			ID:      glyph,
			Kind:    "intent",
			Version: "1",
			Tags:    map[string]string{"consent": "granted", "purpose": "research", "subject_sid": glyph[:8]},
		},
		Payload: schemas.Payload{
			"intent":                  intent,
			"action":                  action,
			"constraint_satisfaction": math.Round(s.rng.Float64()*100) / 100,
			"novelty":                 s.rng.Float64(),
			"value":                   s.rng.Float64(),
			"risk":                    s.rng.Float64() * 0.3,
			"priority":                "P3",
		},
		Topic: synthTopics[n%uint64(len(synthTopics))],
	}
}
