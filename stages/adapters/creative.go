package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"

	"github.com/matriz/pipelines/schemas"
)

// Creative generates deterministic variants of an idea and scores each for
// novelty against a running centroid of past ideas and for value, and
// emits the best one: its novelty and value feed the breakthrough stage.
//
// Payload in:
//
//	features    array<double>, required, not all zero: the idea as a vector
//	centroid    array<double>, optional, same length: the running centroid
//	            of past ideas
//	centroid_n  long ≥ 1, optional (default 1 when centroid is set): how
//	            many ideas the centroid averages
//	target      array<double>, optional, same length: the direction of value
//	value       double in [0,1], optional: the idea's value when there is
//	            no target (one of target and value is required)
//
// Variants: variant 0 is the idea itself; variant k ≥ 1 is
// features + σ·(‖features‖/√n)·εₖ, with εₖ uniform in [-1,1]ⁿ and σ the
// spread (default 0.25), so the jitter scales with the idea. The noise is
// a SplitMix64 stream seeded with the first 8 bytes (big-endian) of
// SHA-256(msg_id): the same message always gives the same variants, on
// every platform and Go version.
//
// novelty(v) = (1 - cos(v, centroid)) / 2 in [0,1] (1 with no centroid:
// nothing has been seen yet). value(v) = (1 + cos(v, target)) / 2 with a
// target, else payload.value. The best variant maximises novelty·value;
// ties go to the lower index.
//
// State: the node keeps none. The running centroid travels in the payload
// and the result carries its update (centroid_next, centroid_n_next: the
// mean over the last `window` ideas, default 1000, including the best
// variant), so whoever owns learned state (a stage keyed by partition and
// glyph, gated by LEARNING_ENABLED) decides whether to keep it, and a
// replay with the same messages gives the same numbers.
//
// Payload out: idea (the best variant), variant (its index), variants
// (count), novelty, value, variant_novelty, variant_value, centroid_next,
// centroid_n_next, seed (hex).
type Creative struct {
	cfg creativeConfig
}

type creativeConfig struct {
	variants int
	spread   float64
	window   int64
}

func defaultCreativeConfig() creativeConfig {
	return creativeConfig{variants: 5, spread: 0.25, window: 1000}
}

func (c creativeConfig) validate() error {
	switch {
	case c.variants < 1 || c.variants > 64:
		return optionError(NameCreative, "variants %d: want 1..64", c.variants)
	case !(c.spread >= 0 && c.spread <= 10):
		return optionError(NameCreative, "spread %v: want a number in [0, 10]", c.spread)
	case c.window < 1:
		return optionError(NameCreative, "centroid window %d: want ≥ 1", c.window)
	}
	return nil
}

// CreativeOption configures a Creative node.
type CreativeOption func(*creativeConfig)

// CreativeVariants sets how many variants are scored, the idea itself included
// (default 5, 1..64).
func CreativeVariants(n int) CreativeOption { return func(c *creativeConfig) { c.variants = n } }

// CreativeSpread sets σ, the size of the variants' jitter relative to the
// idea's RMS element (default 0.25, 0..10).
func CreativeSpread(s float64) CreativeOption { return func(c *creativeConfig) { c.spread = s } }

// CreativeCentroidWindow sets how many ideas the running centroid averages at
// most (default 1000), so it keeps following recent ideas.
func CreativeCentroidWindow(n int64) CreativeOption { return func(c *creativeConfig) { c.window = n } }

// NewCreative returns a Creative node configured by opts.
func NewCreative(opts ...CreativeOption) (*Creative, error) {
	cfg := defaultCreativeConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Creative{cfg: cfg}, nil
}

// Name returns "creative".
func (*Creative) Name() string { return NameCreative }

// Version returns the node's version.
func (*Creative) Version() string { return "1.0.0" }

// splitMix64 is the SplitMix64 generator: tiny, fully specified, and the
// same on every platform, which is what a replayable seed needs.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// symmetric returns a uniform number in [-1, 1).
func (s *splitMix64) symmetric() float64 {
	return float64(s.next()>>11)/(1<<52) - 1
}

// Handle generates and scores msg's idea variants.
func (c *Creative) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameCreative); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameCreative, c.Version()), nil
	}
	cfg := c.cfg
	if cfg.variants == 0 { // the zero value is usable and means the defaults
		cfg = defaultCreativeConfig()
	}
	in := newInput(NameCreative, msg)
	f, okF := in.vector("features", true)
	cen, hasCen := in.vector("centroid", false)
	n, hasN := in.long("centroid_n", 1, math.MaxInt64, false)
	tgt, hasTgt := in.vector("target", false)
	val, hasVal := in.number("value", 0, 1, false)
	if okF {
		usableDirection(in, "features", f)
		if hasCen && in.sameLength("centroid", len(cen), "features", len(f)) {
			usableDirection(in, "centroid", cen)
		}
		if hasTgt && in.sameLength("target", len(tgt), "features", len(f)) {
			usableDirection(in, "target", tgt)
		}
	}
	if hasN && !hasCen {
		in.problem("payload.centroid_n is set without payload.centroid; send both or neither")
	}
	if !hasTgt && !hasVal && !in.has("target") && !in.has("value") {
		in.problem("payload has neither target nor value; want target (array<double>) or value (a number in [0, 1])")
	}
	if !in.ok() {
		return refuse(msg, NameCreative, c.Version(), in.reasons), nil
	}
	if hasCen && !hasN {
		n = 1
	}

	sum := sha256.Sum256([]byte(msg.MsgID))
	seed := binary.BigEndian.Uint64(sum[:8])
	rng := splitMix64(seed)
	scale := cfg.spread * norm(f) / math.Sqrt(float64(len(f)))

	nov := make([]float64, cfg.variants)
	vals := make([]float64, cfg.variants)
	best, bestScore := 0, math.Inf(-1)
	var bestV []float64
	v := make([]float64, len(f))
	for k := range cfg.variants {
		for i := range f {
			v[i] = f[i]
			if k > 0 {
				v[i] += scale * rng.symmetric()
			}
		}
		nov[k], vals[k] = 1, val
		if hasCen {
			cs, ok := cosine(v, cen)
			nov[k] = 0.5
			if ok {
				nov[k] = (1 - cs) / 2
			}
		}
		if hasTgt {
			cs, ok := cosine(v, tgt)
			vals[k] = 0.5
			if ok {
				vals[k] = (1 + cs) / 2
			}
		}
		if s := nov[k] * vals[k]; s > bestScore {
			best, bestScore = k, s
			bestV = append(bestV[:0], v...)
		}
	}

	next := bestV
	nextN := int64(1)
	if hasCen {
		nEff := min(n, cfg.window-1)
		next = make([]float64, len(cen))
		for i := range cen {
			next[i] = cen[i] + (bestV[i]-cen[i])/float64(nEff+1)
		}
		nextN = nEff + 1
	}
	novelty, value := round9(nov[best]), round9(vals[best])
	seedHex := hex.EncodeToString(sum[:8])
	out := schemas.Payload{
		"idea":            round9s(bestV),
		"variant":         int64(best),
		"variants":        int64(cfg.variants),
		"novelty":         novelty,
		"value":           value,
		"variant_novelty": round9s(nov),
		"variant_value":   round9s(vals),
		"centroid_next":   round9s(next),
		"centroid_n_next": nextN,
		"seed":            seedHex,
	}
	data := schemas.Payload{"novelty": novelty, "value": value, "variant": int64(best), "seed": seedHex}
	return answer(msg, NameCreative, c.Version(), nil, out, data), nil
}

// usableDirection records a problem when v has no direction (all zero) or
// is so large that its length overflows, where cosines are undefined.
func usableDirection(in *input, key string, v []float64) {
	switch n := norm(v); {
	case n == 0:
		in.problem("payload.%s: all zero; want a vector with a direction", key)
	case math.IsInf(n, 0):
		in.problem("payload.%s: too large (its length overflows); want elements well below 1e150 in magnitude", key)
	}
}
