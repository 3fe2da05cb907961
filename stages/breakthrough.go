package stages

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/matriz/pipelines/schemas"
)

// Breakthrough flags messages whose novelty and value stand out from the
// partition's running baseline.
//
// Score: w_n·novelty + w_v·value (weights 0.5/0.5), or novelty×value with
// BreakthroughProduct. Both come from the payload (`novelty`, `value`,
// doubles; the creative node's answer wins over the input, see
// recordValue). A message with neither is not scored and gets no reason;
// one without the other, or a value that is not a finite number, gets a
// reason on its result (the result stays ok: the message was answered).
//
// Baseline: a running mean and variance (Welford) per partition. The score
// is compared with the baseline as it was before the message: z = (score −
// mean) / std. A score that differs from a constant baseline (std 0) has
// z = ±1e6. Scores are written as ScoreBreakthrough and, once the baseline
// has two samples, ScoreBreakthroughZ.
//
// Detectors (no flag before MinSamples, default 30):
//   - z (default): flag when z ≥ Z (default 3.0);
//   - CUSUM (BreakthroughCUSUM): S = max(0, S + z − k), flag when S ≥ h
//     (defaults k 0.5, h 5), then S restarts at 0. It finds a small shift
//     that persists.
//
// A flag is a breakthrough event (payload: score, z, mean, std, samples,
// detector, threshold, novelty, value, cusum when used).
//
// A flagged message does not update the baseline (unless
// BreakthroughLearnOutliers): breakthroughs are rare by definition, and
// letting them in would widen the variance and hide the next one. The
// baseline is a statistic of the stream, not a learned model, so it updates
// whatever LEARNING_ENABLED says; BreakthroughFollowLearningFlag makes it
// update only on frames with Flags.Learning.
//
// A Breakthrough is one partition's baseline (make one per partition, see
// Factory; it works one lane, see ErrPartitionLane). Snapshot and Restore
// write and read it in the snapshot encoding (snapshot.go); the state is
//
//	{"lane":"experimental","base":{"n":100,"mean":0.62,"m2":0.53},"cusum":{"s":0.45}}
type Breakthrough struct {
	cfg   breakConfig
	bind  laneBinding
	st    breakState
	flags atomic.Uint64
}

// StageBreakthrough names the breakthrough stage on its crumbs, events and state.
const StageBreakthrough = "breakthrough"

// Detector names a breakthrough detector.
type Detector string

// The detectors.
const (
	DetectorZ     Detector = "z"
	DetectorCUSUM Detector = "cusum"
)

type breakConfig struct {
	wn, wv         float64
	product        bool
	detector       Detector
	z              float64
	minSamples     int64
	k, h           float64
	learnOutliers  bool
	followLearning bool
}

// BreakthroughOption configures NewBreakthrough.
type BreakthroughOption func(*breakConfig)

// BreakthroughWeights sets w_n and w_v of the weighted score (default 0.5
// each; both ≥ 0, not both 0).
func BreakthroughWeights(novelty, value float64) BreakthroughOption {
	return func(c *breakConfig) { c.wn, c.wv = novelty, value }
}

// BreakthroughProduct scores novelty×value instead of the weighted sum.
func BreakthroughProduct() BreakthroughOption {
	return func(c *breakConfig) { c.product = true }
}

// BreakthroughZ sets the z-score a message must reach to flag (default
// 3.0, > 0).
func BreakthroughZ(z float64) BreakthroughOption {
	return func(c *breakConfig) { c.z = z }
}

// BreakthroughMinSamples sets how many baseline samples a partition needs
// before anything flags (default 30, ≥ 2).
func BreakthroughMinSamples(n int64) BreakthroughOption {
	return func(c *breakConfig) { c.minSamples = n }
}

// BreakthroughCUSUM switches to the CUSUM detector with slack k ≥ 0 and
// decision threshold h > 0, both in standard deviations.
func BreakthroughCUSUM(k, h float64) BreakthroughOption {
	return func(c *breakConfig) { c.detector, c.k, c.h = DetectorCUSUM, k, h }
}

// BreakthroughLearnOutliers lets flagged messages update the baseline too:
// the baseline then follows a level shift instead of flagging it for as
// long as it lasts.
func BreakthroughLearnOutliers() BreakthroughOption {
	return func(c *breakConfig) { c.learnOutliers = true }
}

// BreakthroughFollowLearningFlag updates the baseline only on frames whose
// Flags.Learning (LEARNING_ENABLED) is on; scores and flags are still
// computed against the frozen baseline.
func BreakthroughFollowLearningFlag() BreakthroughOption {
	return func(c *breakConfig) { c.followLearning = true }
}

func finiteFloat(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (c *breakConfig) validate() error {
	bad := func(option string, v any, want string) error {
		return &OptionError{Stage: StageBreakthrough, Option: option, Value: v, Want: want, Err: ErrBreakthroughConfig}
	}
	switch {
	case !finiteFloat(c.wn) || !finiteFloat(c.wv) || c.wn < 0 || c.wv < 0 || c.wn+c.wv == 0:
		return bad("BreakthroughWeights", fmt.Sprintf("novelty %v value %v", c.wn, c.wv), "finite weights >= 0, not both 0")
	case !finiteFloat(c.z) || c.z <= 0:
		return bad("BreakthroughZ", c.z, "a finite number > 0")
	case c.minSamples < 2:
		return bad("BreakthroughMinSamples", c.minSamples, ">= 2 (a standard deviation needs two samples)")
	case !finiteFloat(c.k) || !finiteFloat(c.h) || c.k < 0 || c.h <= 0:
		return bad("BreakthroughCUSUM", fmt.Sprintf("k %v h %v", c.k, c.h), "finite k >= 0 and h > 0")
	}
	return nil
}

// NewBreakthrough returns one partition's breakthrough stage with the
// defaults (weighted score 0.5/0.5, z detector at 3.0, 30 samples minimum,
// CUSUM k 0.5 h 5 when chosen) changed by opts.
func NewBreakthrough(opts ...BreakthroughOption) (*Breakthrough, error) {
	cfg := breakConfig{wn: 0.5, wv: 0.5, detector: DetectorZ, z: 3.0, minSamples: 30, k: 0.5, h: 5}
	if err := configure(&cfg, opts, (*breakConfig).validate); err != nil {
		return nil, err
	}
	return &Breakthrough{cfg: cfg}, nil
}

// Name returns "breakthrough".
func (b *Breakthrough) Name() string { return StageBreakthrough }

// breakState is the baseline, what Restore replaces whole.
type breakState struct {
	base  welford
	cusum cusum
}

// Process scores f's live records against the partition's baseline and
// appends breakthrough events. It checks ctx once, before it changes state.
func (b *Breakthrough) Process(ctx context.Context, f *Frame) error {
	if err := b.bind.admit(ctx, StageBreakthrough, f); err != nil {
		return err
	}
	learn := !b.cfg.followLearning || f.Flags.Learning
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		b.record(f, &b.st, r, learn)
	}
	return nil
}

func (b *Breakthrough) record(f *Frame, p *breakState, r *Record, learn bool) {
	nv, hasN := recordValue(r, "novelty")
	vv, hasV := recordValue(r, "value")
	if !hasN && !hasV {
		b.crumb(r, schemas.Payload{"scored": false}, "")
		return
	}
	novelty, value, score, err := b.score(nv, vv, hasN, hasV)
	if err != nil {
		b.crumb(r, schemas.Payload{"scored": false}, "breakthrough: "+err.Error())
		return
	}
	r.SetScore(ScoreBreakthrough, score)
	data := schemas.Payload{"scored": true, "score": score, "samples": p.base.N, "mean": p.base.Mean, "std": p.base.std()}
	z, zok := p.base.z(score)
	flag := false
	var sum float64
	if zok {
		r.SetScore(ScoreBreakthroughZ, z)
		data["z"] = z
		if p.base.N >= b.cfg.minSamples {
			if b.cfg.detector == DetectorCUSUM {
				sum, flag = p.cusum.step(z, b.cfg.k, b.cfg.h)
				data["cusum"] = sum
			} else {
				flag = z >= b.cfg.z
			}
		}
	}
	data["flagged"] = flag
	if flag {
		b.flags.Add(1)
		f.Events = append(f.Events, b.event(f, p, r, novelty, value, score, z, sum))
	}
	reason := ""
	if learn && (!flag || b.cfg.learnOutliers) {
		next, ok := p.base.add(score)
		if ok {
			p.base = next
		} else {
			reason = fmt.Sprintf("breakthrough: score %v would overflow the baseline; not learned", score)
		}
	}
	b.crumb(r, data, reason)
}

func (b *Breakthrough) event(f *Frame, p *breakState, r *Record, novelty, value, score, z, sum float64) schemas.Event {
	m := r.Msg
	payload := schemas.Payload{
		"score":     score,
		"z":         z,
		"mean":      p.base.Mean,
		"std":       p.base.std(),
		"samples":   p.base.N,
		"detector":  string(b.cfg.detector),
		"novelty":   novelty,
		"value":     value,
		"partition": int64(f.Partition),
	}
	if b.cfg.detector == DetectorCUSUM {
		payload["cusum"] = sum
		payload["threshold"] = b.cfg.h
	} else {
		payload["threshold"] = b.cfg.z
	}
	return schemas.Event{
		ID:      DerivedID(m.MsgID, StageBreakthrough, string(schemas.EventBreakthrough)),
		TS:      m.TS,
		Kind:    schemas.EventBreakthrough,
		Lane:    f.Lane,
		GlyphID: m.Glyph.ID,
		MsgID:   m.MsgID,
		Stage:   StageBreakthrough,
		Payload: payload,
	}
}

func (b *Breakthrough) crumb(r *Record, data schemas.Payload, reason string) {
	if r.Result == nil {
		return
	}
	if reason != "" {
		r.Result.Reasons = append(r.Result.Reasons, reason)
		data["reason"] = reason
	}
	r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: StageBreakthrough, T: r.Msg.TS, Data: data})
}

// score reads novelty and value and combines them.
func (b *Breakthrough) score(nv, vv any, hasN, hasV bool) (novelty, value, score float64, err error) {
	if !hasN {
		return 0, 0, 0, fmt.Errorf("value without novelty")
	}
	if !hasV {
		return 0, 0, 0, fmt.Errorf("novelty without value")
	}
	if novelty, err = finiteNumber("novelty", nv); err != nil {
		return 0, 0, 0, err
	}
	if value, err = finiteNumber("value", vv); err != nil {
		return 0, 0, 0, err
	}
	if b.cfg.product {
		score = novelty * value
	} else {
		score = b.cfg.wn*novelty + b.cfg.wv*value
	}
	if !finiteFloat(score) {
		return 0, 0, 0, fmt.Errorf("score of novelty %v and value %v is %v", novelty, value, score)
	}
	return novelty, value, score, nil
}

// BreakthroughStats are one partition's baseline figures.
type BreakthroughStats struct {
	// Lane is the lane the instance works, empty before its first frame;
	// Partition that of the last frame it processed.
	Lane      schemas.Lane
	Partition int32
	Samples   int64
	Mean, Std float64
	CUSUM     float64
}

// Stats returns this partition's baseline. It takes no lock: the runtime
// reads it on the partition's goroutine, between frames.
func (b *Breakthrough) Stats() BreakthroughStats {
	p := &b.st
	return BreakthroughStats{Lane: b.bind.lane, Partition: b.bind.partition, Samples: p.base.N, Mean: p.base.Mean, Std: p.base.std(), CUSUM: p.cusum.S}
}

// Flags returns how many breakthrough events this instance has emitted
// since it was made: the source of lukhas_breakthrough_flags_total.
func (b *Breakthrough) Flags() uint64 { return b.flags.Load() }

// breakSnapshot is the state in a snapshot.
type breakSnapshot struct {
	Lane  schemas.Lane `json:"lane"`
	Base  welford      `json:"base"`
	CUSUM cusum        `json:"cusum"`
}

// Snapshot returns the partition's baseline, or nil before the first frame.
func (b *Breakthrough) Snapshot() ([]byte, error) {
	if b.bind.lane == "" {
		return nil, nil
	}
	return encodeSnapshot(StageBreakthrough, breakSnapshot{Lane: b.bind.lane, Base: b.st.base, CUSUM: b.st.cusum})
}

// Restore replaces the partition's baseline with a snapshot (either
// format), or resets it when state is empty. A refused snapshot changes
// nothing.
func (b *Breakthrough) Restore(state []byte) error {
	if len(state) == 0 {
		b.bind.lane, b.st = "", breakState{}
		return nil
	}
	var s breakSnapshot
	if err := decodeSnapshot(StageBreakthrough, state, &s); err != nil {
		return err
	}
	switch {
	case !s.Lane.Valid():
		return restoreError(StageBreakthrough, fmt.Sprintf("lane %q", s.Lane), "experimental, candidate or prod")
	case s.Base.N < 0 || s.Base.M2 < 0 || (s.Base.N == 0 && (s.Base.Mean != 0 || s.Base.M2 != 0)) || s.CUSUM.S < 0:
		return restoreError(StageBreakthrough, fmt.Sprintf("baseline %+v cusum %v", s.Base, s.CUSUM.S),
			"n >= 0, m2 >= 0, mean and m2 0 when n is 0, and cusum >= 0")
	}
	b.bind.lane, b.st = s.Lane, breakState{base: s.Base, cusum: s.CUSUM}
	return nil
}
