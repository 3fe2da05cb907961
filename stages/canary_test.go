package stages

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestCanarySamplesOnePercentOfTenThousandKeys: glyph-like keys, 1% ±
// 0.3% taken, the same ones every time.
func TestCanarySamplesOnePercentOfTenThousandKeys(t *testing.T) {
	s, err := NewCanarySampler(0.01)
	if err != nil {
		t.Fatal(err)
	}
	taken := func() map[string]bool {
		m := map[string]bool{}
		for i := range 10000 {
			k := fmt.Sprintf("glyph-%05d", i)
			if s.Sampled([]byte(k)) {
				m[k] = true
			}
		}
		return m
	}
	first, again := taken(), taken()
	share := float64(len(first)) / 10000
	t.Logf("10,000 keys: %d taken (%.2f%%)", len(first), share*100)
	if math.Abs(share-0.01) > 0.003 {
		t.Errorf("took %.2f%% of 10,000 keys, want 1%% ± 0.3%%", share*100)
	}
	if len(again) != len(first) {
		t.Fatalf("a second pass took %d keys, the first %d", len(again), len(first))
	}
	for k := range first {
		if !again[k] {
			t.Errorf("%s taken once and not again", k)
		}
	}
	ten, err := NewCanarySampler(0.1)
	if err != nil {
		t.Fatal(err)
	}
	for k := range first {
		if !ten.Sampled([]byte(k)) {
			t.Errorf("%s is in the 1%% canary but not in the 10%% one: a larger share must contain a smaller", k)
		}
	}
}

// TestCanaryBucketIsFNV1a pins the hash, so workers built from other
// versions of the binary sample the same glyphs.
func TestCanaryBucketIsFNV1a(t *testing.T) {
	for key, want := range map[string]uint32{"": 2166136261 % CanaryBuckets, "a": 0xe40c292c % CanaryBuckets, "foobar": 0xbf9cf968 % CanaryBuckets} {
		if got := CanaryBucket([]byte(key)); got != want {
			t.Errorf("CanaryBucket(%q) = %d, want %d", key, got, want)
		}
	}
	all, err := NewCanarySampler(1)
	if err != nil || !all.Sampled([]byte("anything")) {
		t.Errorf("fraction 1 does not take every key (%v)", err)
	}
}

func TestCanarySamplerRefusesShares(t *testing.T) {
	for _, f := range []float64{0, -0.5, 1.01, math.NaN(), 0.00001} {
		_, err := NewCanarySampler(f)
		var oe *OptionError
		if !errors.Is(err, ErrCanaryConfig) || !errors.As(err, &oe) || oe.Option != "CanaryFraction" {
			t.Errorf("fraction %v: err %v, want an OptionError on CanaryFraction", f, err)
		}
	}
}

func TestDecisionOf(t *testing.T) {
	ok := &schemas.MatrizResult{OK: true}
	for _, tc := range []struct {
		r    Record
		want Decision
	}{
		{Record{Result: ok, Verdict: &Verdict{Outcome: OutcomeAllow}}, Decision{OK: true, Outcome: OutcomeAllow, Status: "result"}},
		{Record{Result: &schemas.MatrizResult{}, Verdict: &Verdict{Outcome: OutcomeDeny}}, Decision{Outcome: OutcomeDeny, Status: "result"}},
		{Record{Dropped: true}, Decision{Status: "dropped"}},
		{Record{Failure: &Failure{Stage: "x"}}, Decision{Status: "failed"}},
		{Record{}, Decision{Status: "result"}},
	} {
		if got := DecisionOf(&tc.r); got != tc.want {
			t.Errorf("DecisionOf(%+v) = %+v, want %+v", tc.r, got, tc.want)
		}
	}
}

// TestCanaryFloorAbortsBelowAgreementOnceSampled: no abort before
// min_samples, whatever the rate; then below min_agreement only.
func TestCanaryFloorAbortsBelowAgreementOnceSampled(t *testing.T) {
	floor := CanaryFloor{MinAgreement: 0.9, MinSamples: 10}
	if err := floor.Validate(); err != nil {
		t.Fatal(err)
	}
	allow := Decision{OK: true, Outcome: OutcomeAllow, Status: "result"}
	deny := Decision{Outcome: OutcomeDeny, Status: "result"}
	var a Agreement
	if a.Rate() != 1 || floor.Abort(a) {
		t.Fatalf("no samples: rate %v abort %v, want 1 and no abort", a.Rate(), floor.Abort(a))
	}
	for range 9 {
		a.Add(allow, deny)
	}
	if floor.Abort(a) {
		t.Fatalf("aborted at %d samples, under min_samples 10", a.Samples)
	}
	a.Add(allow, allow)
	if a.Samples != 10 || a.Agreed != 1 || a.Rate() != 0.1 || !floor.Abort(a) {
		t.Fatalf("%+v rate %v: want 10 samples, 1 agreed, an abort", a, a.Rate())
	}
	var good Agreement
	for i := range 100 {
		if i < 95 {
			good.Add(allow, allow)
		} else {
			good.Add(allow, deny)
		}
	}
	if floor.Abort(good) {
		t.Errorf("aborted at agreement %v over floor 0.9", good.Rate())
	}
	for _, bad := range []CanaryFloor{{MinAgreement: -0.1, MinSamples: 1}, {MinAgreement: 1.1, MinSamples: 1}, {MinAgreement: math.NaN(), MinSamples: 1}, {MinAgreement: 0.5}} {
		if err := bad.Validate(); !errors.Is(err, ErrCanaryConfig) {
			t.Errorf("floor %+v: err %v, want ErrCanaryConfig", bad, err)
		}
	}
}
