package stages

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
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
type Breakthrough struct {
	cfg   breakConfig
	mu    sync.Mutex
	parts map[int32]*breakPart
	flags atomic.Uint64
}

// StageBreakthrough names the breakthrough stage on its crumbs, events and state.
const StageBreakthrough = "breakthrough"

const (
	breakSnapshotV = 1
)

// Detector names a breakthrough detector.
type Detector string

// The detectors.
const (
	DetectorZ     Detector = "z"
	DetectorCUSUM Detector = "cusum"
)

type breakLimits struct {
	wn, wv        float64
	product       bool
	detector      Detector
	z             float64
	minSamples    int64
	k, h          float64
	learnOutliers bool
}

type breakConfig struct {
	lanes          map[schemas.Lane]*breakLimits
	followLearning bool
	err            error
}

func (c *breakConfig) keep(err error) {
	if c.err == nil {
		c.err = err
	}
}

// BreakthroughOption configures NewBreakthrough.
type BreakthroughOption func(*breakConfig)

// BreakthroughWeights sets w_n and w_v of the weighted score (default 0.5
// each; both ≥ 0, not both 0) for the named lanes or all lanes.
func BreakthroughWeights(novelty, value float64, lanes ...schemas.Lane) BreakthroughOption {
	return func(c *breakConfig) {
		c.keep(setLanes(c.lanes, StageBreakthrough, "BreakthroughWeights", ErrBreakthroughConfig, lanes, func(l *breakLimits) { l.wn, l.wv = novelty, value }))
	}
}

// BreakthroughProduct scores novelty×value instead of the weighted sum, for
// the named lanes or all lanes.
func BreakthroughProduct(lanes ...schemas.Lane) BreakthroughOption {
	return func(c *breakConfig) {
		c.keep(setLanes(c.lanes, StageBreakthrough, "BreakthroughProduct", ErrBreakthroughConfig, lanes, func(l *breakLimits) { l.product = true }))
	}
}

// BreakthroughZ sets the z-score a message must reach to flag (default
// 3.0, > 0) for the named lanes or all lanes.
func BreakthroughZ(z float64, lanes ...schemas.Lane) BreakthroughOption {
	return func(c *breakConfig) {
		c.keep(setLanes(c.lanes, StageBreakthrough, "BreakthroughZ", ErrBreakthroughConfig, lanes, func(l *breakLimits) { l.z = z }))
	}
}

// BreakthroughMinSamples sets how many baseline samples a partition needs
// before anything flags (default 30, ≥ 2) for the named lanes or all lanes.
func BreakthroughMinSamples(n int64, lanes ...schemas.Lane) BreakthroughOption {
	return func(c *breakConfig) {
		c.keep(setLanes(c.lanes, StageBreakthrough, "BreakthroughMinSamples", ErrBreakthroughConfig, lanes, func(l *breakLimits) { l.minSamples = n }))
	}
}

// BreakthroughCUSUM switches the named lanes (or all lanes) to the CUSUM
// detector with slack k ≥ 0 and decision threshold h > 0, both in standard
// deviations.
func BreakthroughCUSUM(k, h float64, lanes ...schemas.Lane) BreakthroughOption {
	return func(c *breakConfig) {
		c.keep(setLanes(c.lanes, StageBreakthrough, "BreakthroughCUSUM", ErrBreakthroughConfig, lanes, func(l *breakLimits) { l.detector, l.k, l.h = DetectorCUSUM, k, h }))
	}
}

// BreakthroughLearnOutliers lets flagged messages update the baseline too,
// for the named lanes or all lanes: the baseline then follows a level shift
// instead of flagging it for as long as it lasts.
func BreakthroughLearnOutliers(lanes ...schemas.Lane) BreakthroughOption {
	return func(c *breakConfig) {
		c.keep(setLanes(c.lanes, StageBreakthrough, "BreakthroughLearnOutliers", ErrBreakthroughConfig, lanes, func(l *breakLimits) { l.learnOutliers = true }))
	}
}

// BreakthroughFollowLearningFlag updates the baseline only on frames whose
// Flags.Learning (LEARNING_ENABLED) is on; scores and flags are still
// computed against the frozen baseline.
func BreakthroughFollowLearningFlag() BreakthroughOption {
	return func(c *breakConfig) { c.followLearning = true }
}

func finiteFloat(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (c *breakConfig) validate() error {
	if c.err != nil {
		return c.err
	}
	bad := func(option string, lane schemas.Lane, v any, want string) error {
		return &OptionError{Stage: StageBreakthrough, Option: option, Lane: lane, Value: v, Want: want, Err: ErrBreakthroughConfig}
	}
	for _, lane := range schemas.Lanes {
		l := c.lanes[lane]
		switch {
		case !finiteFloat(l.wn) || !finiteFloat(l.wv) || l.wn < 0 || l.wv < 0 || l.wn+l.wv == 0:
			return bad("BreakthroughWeights", lane, fmt.Sprintf("novelty %v value %v", l.wn, l.wv), "finite weights >= 0, not both 0")
		case !finiteFloat(l.z) || l.z <= 0:
			return bad("BreakthroughZ", lane, l.z, "a finite number > 0")
		case l.minSamples < 2:
			return bad("BreakthroughMinSamples", lane, l.minSamples, ">= 2 (a standard deviation needs two samples)")
		case !finiteFloat(l.k) || !finiteFloat(l.h) || l.k < 0 || l.h <= 0:
			return bad("BreakthroughCUSUM", lane, fmt.Sprintf("k %v h %v", l.k, l.h), "finite k >= 0 and h > 0")
		}
	}
	return nil
}

// NewBreakthrough returns a breakthrough stage with the defaults (weighted
// score 0.5/0.5, z detector at 3.0, 30 samples minimum, CUSUM k 0.5 h 5
// when chosen) changed by opts.
func NewBreakthrough(opts ...BreakthroughOption) (*Breakthrough, error) {
	cfg := breakConfig{lanes: make(map[schemas.Lane]*breakLimits, len(schemas.Lanes))}
	for _, l := range schemas.Lanes {
		cfg.lanes[l] = &breakLimits{wn: 0.5, wv: 0.5, detector: DetectorZ, z: 3.0, minSamples: 30, k: 0.5, h: 5}
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Breakthrough{cfg: cfg, parts: make(map[int32]*breakPart)}, nil
}

// Name returns "breakthrough".
func (b *Breakthrough) Name() string { return StageBreakthrough }

type breakPart struct {
	mu    sync.Mutex
	lane  schemas.Lane
	base  welford
	cusum cusum
}

func (p *breakPart) boundLane() schemas.Lane { return p.lane }

// Process scores f's live records against the partition's baseline and
// appends breakthrough events. It checks ctx once, before it changes state.
func (b *Breakthrough) Process(ctx context.Context, f *Frame) error {
	p, err := partFor(ctx, &b.mu, b.parts, StageBreakthrough, f, func() *breakPart { return &breakPart{lane: f.Lane} })
	if err != nil {
		return err
	}
	lim := b.cfg.lanes[f.Lane]
	p.mu.Lock()
	defer p.mu.Unlock()
	learn := !b.cfg.followLearning || f.Flags.Learning
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		b.record(f, lim, p, r, learn)
	}
	return nil
}

func (b *Breakthrough) record(f *Frame, lim *breakLimits, p *breakPart, r *Record, learn bool) {
	nv, hasN := recordValue(r, "novelty")
	vv, hasV := recordValue(r, "value")
	if !hasN && !hasV {
		b.crumb(r, schemas.Payload{"scored": false}, "")
		return
	}
	novelty, value, score, err := breakScore(lim, nv, vv, hasN, hasV)
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
		if p.base.N >= lim.minSamples {
			if lim.detector == DetectorCUSUM {
				sum, flag = p.cusum.step(z, lim.k, lim.h)
				data["cusum"] = sum
			} else {
				flag = z >= lim.z
			}
		}
	}
	data["flagged"] = flag
	if flag {
		b.flags.Add(1)
		f.Events = append(f.Events, b.event(f, lim, p, r, novelty, value, score, z, sum))
	}
	reason := ""
	if learn && (!flag || lim.learnOutliers) {
		next, ok := p.base.add(score)
		if ok {
			p.base = next
		} else {
			reason = fmt.Sprintf("breakthrough: score %v would overflow the baseline; not learned", score)
		}
	}
	b.crumb(r, data, reason)
}

func (b *Breakthrough) event(f *Frame, lim *breakLimits, p *breakPart, r *Record, novelty, value, score, z, sum float64) schemas.Event {
	m := r.Msg
	payload := schemas.Payload{
		"score":     score,
		"z":         z,
		"mean":      p.base.Mean,
		"std":       p.base.std(),
		"samples":   p.base.N,
		"detector":  string(lim.detector),
		"novelty":   novelty,
		"value":     value,
		"partition": int64(f.Partition),
	}
	if lim.detector == DetectorCUSUM {
		payload["cusum"] = sum
		payload["threshold"] = lim.h
	} else {
		payload["threshold"] = lim.z
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

// breakScore reads novelty and value and combines them.
func breakScore(lim *breakLimits, nv, vv any, hasN, hasV bool) (novelty, value, score float64, err error) {
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
	if lim.product {
		score = novelty * value
	} else {
		score = lim.wn*novelty + lim.wv*value
	}
	if !finiteFloat(score) {
		return 0, 0, 0, fmt.Errorf("score of novelty %v and value %v is %v", novelty, value, score)
	}
	return novelty, value, score, nil
}

// BreakthroughStats are one partition's baseline figures.
type BreakthroughStats struct {
	Lane      schemas.Lane
	Partition int32
	Samples   int64
	Mean, Std float64
	CUSUM     float64
}

// Stats returns every partition's baseline, ordered by partition.
func (b *Breakthrough) Stats() []BreakthroughStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BreakthroughStats, 0, len(b.parts))
	for id, p := range b.parts {
		p.mu.Lock()
		out = append(out, BreakthroughStats{Lane: p.lane, Partition: id, Samples: p.base.N, Mean: p.base.Mean, Std: p.base.std(), CUSUM: p.cusum.S})
		p.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Flags returns how many breakthrough events this instance has emitted
// since it was made: the source of lukhas_breakthrough_flags_total.
func (b *Breakthrough) Flags() uint64 { return b.flags.Load() }

type breakSnapshot struct {
	V     int          `json:"v"`
	Lane  schemas.Lane `json:"lane"`
	Base  welford      `json:"base"`
	CUSUM cusum        `json:"cusum"`
}

// Snapshot returns partition's baseline as JSON, or nil when it has none.
func (b *Breakthrough) Snapshot(partition int32) ([]byte, error) {
	b.mu.Lock()
	p, ok := b.parts[partition]
	b.mu.Unlock()
	if !ok {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return marshalSnapshot(StageBreakthrough, partition, breakSnapshot{V: breakSnapshotV, Lane: p.lane, Base: p.base, CUSUM: p.cusum})
}

// Restore replaces partition's baseline with a snapshot; empty state resets it.
func (b *Breakthrough) Restore(partition int32, state []byte) error {
	if len(state) == 0 {
		b.Forget(partition)
		return nil
	}
	var s breakSnapshot
	if err := unmarshalSnapshot(StageBreakthrough, partition, state, &s); err != nil {
		return err
	}
	switch {
	case s.V != breakSnapshotV:
		return snapshotError(StageBreakthrough, partition, fmt.Sprintf("version = %d", s.V))
	case !s.Lane.Valid():
		return snapshotError(StageBreakthrough, partition, fmt.Sprintf("lane = %q", s.Lane))
	case s.Base.N < 0 || s.Base.M2 < 0 || (s.Base.N == 0 && (s.Base.Mean != 0 || s.Base.M2 != 0)) || s.CUSUM.S < 0:
		return snapshotError(StageBreakthrough, partition, fmt.Sprintf("baseline %+v cusum %v", s.Base, s.CUSUM.S))
	}
	b.mu.Lock()
	b.parts[partition] = &breakPart{lane: s.Lane, base: s.Base, cusum: s.CUSUM}
	b.mu.Unlock()
	return nil
}

// Forget drops partition's baseline.
func (b *Breakthrough) Forget(partition int32) {
	b.mu.Lock()
	delete(b.parts, partition)
	b.mu.Unlock()
}
