package stages

// A canary runs a candidate chain in shadow beside a lane's own chain on a
// fixed share of its glyphs, and compares the two chains' decisions on the
// same inputs. This file is the pure part: which keys are in the canary
// (a stable hash of the Kafka key, so one glyph is always in or always
// out, on every worker, in every run) and the running agreement that
// decides when the canary aborts. The runtime owns the shadow chain and
// its outputs.

import (
	"fmt"
	"math"
)

// CanaryBuckets is the resolution of the canary's share: a key falls in
// one of this many buckets, and a fraction f takes the first ⌊f·buckets⌉.
const CanaryBuckets = 10000

// CanaryBucket returns key's bucket in [0, CanaryBuckets): FNV-1a (32 bit)
// of its bytes. It is the same for a key on every worker and in every run.
func CanaryBucket(key []byte) uint32 {
	h := uint32(2166136261)
	for _, b := range key {
		h ^= uint32(b)
		h *= 16777619
	}
	return h % CanaryBuckets
}

// CanarySampler tells which keys a canary takes: those whose bucket is
// below its fraction's share of CanaryBuckets.
type CanarySampler struct {
	below uint32
}

// NewCanarySampler returns the sampler of fraction, which must be in
// (0, 1]: a share of a ten-thousandth or more.
func NewCanarySampler(fraction float64) (CanarySampler, error) {
	below := math.Round(fraction * CanaryBuckets)
	if math.IsNaN(fraction) || fraction <= 0 || fraction > 1 || below < 1 {
		return CanarySampler{}, &OptionError{Stage: "canary", Option: "CanaryFraction", Value: fraction,
			Want: fmt.Sprintf("a share in (0, 1] of at least 1/%d", CanaryBuckets), Err: ErrCanaryConfig}
	}
	return CanarySampler{below: uint32(below)}, nil
}

// Sampled reports whether the canary takes key.
func (s CanarySampler) Sampled(key []byte) bool { return CanaryBucket(key) < s.below }

// Decision is what a canary compares between the lane's chain and its own
// for one input: whether the result is ok and what the guardian decided
// (empty without a verdict). A record the chain dropped or failed has no
// result; its decision says so.
type Decision struct {
	OK      bool    `json:"ok"`
	Outcome Outcome `json:"outcome"`
	Status  string  `json:"status"` // "result", "dropped" or "failed"
}

// DecisionOf returns r's decision after a chain ran over it.
func DecisionOf(r *Record) Decision {
	var d Decision
	switch {
	case r.Failure != nil:
		d.Status = "failed"
	case r.Dropped:
		d.Status = "dropped"
	default:
		d.Status = "result"
		d.OK = r.Result != nil && r.Result.OK
	}
	if r.Verdict != nil {
		d.Outcome = r.Verdict.Outcome
	}
	return d
}

// Agreement counts the inputs both chains decided and those they decided
// alike. Each partition keeps its own; Abort reads it against the
// canary's floor.
type Agreement struct {
	Samples int64
	Agreed  int64
}

// Add compares one input's decisions.
func (a *Agreement) Add(baseline, canary Decision) {
	a.Samples++
	if baseline == canary {
		a.Agreed++
	}
}

// Rate is the share of samples the chains agreed on (1 with none).
func (a Agreement) Rate() float64 {
	if a.Samples == 0 {
		return 1
	}
	return float64(a.Agreed) / float64(a.Samples)
}

// CanaryFloor is when a canary aborts: once it compared at least
// MinSamples inputs, at an agreement rate below MinAgreement.
type CanaryFloor struct {
	MinAgreement float64
	MinSamples   int64
}

// Validate refuses a floor that could never or would always abort.
func (f CanaryFloor) Validate() error {
	if math.IsNaN(f.MinAgreement) || f.MinAgreement < 0 || f.MinAgreement > 1 {
		return &OptionError{Stage: "canary", Option: "CanaryMinAgreement", Value: f.MinAgreement, Want: "a rate in [0, 1]", Err: ErrCanaryConfig}
	}
	if f.MinSamples < 1 {
		return &OptionError{Stage: "canary", Option: "CanaryMinSamples", Value: f.MinSamples, Want: "at least 1 compared input", Err: ErrCanaryConfig}
	}
	return nil
}

// Abort reports whether a's figures are below the floor.
func (f CanaryFloor) Abort(a Agreement) bool {
	return a.Samples >= f.MinSamples && a.Rate() < f.MinAgreement
}
