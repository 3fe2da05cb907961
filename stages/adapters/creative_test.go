package adapters_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestCreativeSeededByMsgID(t *testing.T) {
	node := must(adapters.NewCreative())(t)
	p := schemas.Payload{"features": []float64{0.9, 0.1, 0.4}, "centroid": []float64{0.5, 0.5, 0.5}, "value": 0.8}
	a := handle(t, node, message(p, nil))
	b := handle(t, node, message(p, nil))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same message gave different results")
	}
	other := message(p, nil)
	other.MsgID = "3e1f0c2a-9b8d-4c7e-a6f5-0d1c2b3a4959"
	c := handle(t, node, other)
	if str(t, a, "seed") == str(t, c, "seed") || reflect.DeepEqual(vec(t, a, "variant_novelty"), vec(t, c, "variant_novelty")) {
		t.Fatal("a different msg_id gave the same seed or variants")
	}
	// The seed is the first 8 bytes of SHA-256(msg_id), as documented.
	sum := sha256.Sum256([]byte(message(p, nil).MsgID))
	if got, want := str(t, a, "seed"), hex.EncodeToString(sum[:8]); got != want {
		t.Fatalf("seed %s, want %s (SHA-256 of the msg_id, first 8 bytes)", got, want)
	}
}

func TestCreativeScores(t *testing.T) {
	node := must(adapters.NewCreative(adapters.CreativeSpread(0)))(t)
	// With no jitter every variant is the idea itself: novelty and value
	// are the closed forms, and variant 0 wins the tie.
	f := []float64{1, 0}
	r := handle(t, node, message(schemas.Payload{"features": f, "centroid": []float64{0, 1}, "centroid_n": int64(3), "target": []float64{1, 1}}, nil))
	wantOK(t, r)
	if !near(f64(t, r, "novelty"), 0.5) { // cos = 0
		t.Errorf("novelty %v, want 0.5", r.Payload["novelty"])
	}
	if !near(f64(t, r, "value"), (1+math.Sqrt(0.5))/2) {
		t.Errorf("value %v", r.Payload["value"])
	}
	if i64(t, r, "variant") != 0 || !slices.Equal(vec(t, r, "idea"), f) {
		t.Errorf("best %v idea %v", r.Payload["variant"], r.Payload["idea"])
	}
	// Running mean over 3 ideas plus this one.
	if got := vec(t, r, "centroid_next"); !near(got[0], 0.25) || !near(got[1], 0.75) || i64(t, r, "centroid_n_next") != 4 {
		t.Errorf("centroid_next %v n %v", got, r.Payload["centroid_n_next"])
	}

	// An idea opposite the centroid is maximally novel; one along it is not.
	far := handle(t, node, message(schemas.Payload{"features": []float64{-1, -1}, "centroid": []float64{1, 1}, "value": 1.0}, nil))
	same := handle(t, node, message(schemas.Payload{"features": []float64{2, 2}, "centroid": []float64{1, 1}, "value": 1.0}, nil))
	if !near(f64(t, far, "novelty"), 1) || !near(f64(t, same, "novelty"), 0) {
		t.Errorf("novelty far %v same %v, want 1 and 0", far.Payload["novelty"], same.Payload["novelty"])
	}
	// centroid without centroid_n counts as one idea.
	if got := vec(t, far, "centroid_next"); !near(got[0], 0) || i64(t, far, "centroid_n_next") != 2 {
		t.Errorf("centroid_next %v", got)
	}
}

func TestCreativeVariants(t *testing.T) {
	node := must(adapters.NewCreative(adapters.CreativeVariants(16), adapters.CreativeSpread(1)))(t)
	f := []float64{0.2, 0.4, 0.6, 0.8}
	r := handle(t, node, message(schemas.Payload{"features": f, "centroid": []float64{0.25, 0.25, 0.25, 0.25}, "target": []float64{1, 0, 0, 0}}, nil))
	wantOK(t, r)
	nov, val := vec(t, r, "variant_novelty"), vec(t, r, "variant_value")
	if len(nov) != 16 || len(val) != 16 || i64(t, r, "variants") != 16 {
		t.Fatalf("want 16 variants: %v", r.Payload)
	}
	best := i64(t, r, "variant")
	for k := range nov {
		if nov[k]*val[k] > nov[best]*val[best]+1e-12 {
			t.Fatalf("variant %d scores %v > best %d's %v", k, nov[k]*val[k], best, nov[best]*val[best])
		}
		if nov[k] < 0 || nov[k] > 1 || val[k] < 0 || val[k] > 1 {
			t.Fatalf("variant %d out of [0,1]: %v %v", k, nov[k], val[k])
		}
	}
	if slices.Equal(nov[1:], slices.Repeat([]float64{nov[0]}, 15)) {
		t.Fatal("the variants did not vary")
	}
	// Variants whose length overflows get the neutral 0.5 instead of NaN.
	huge := must(adapters.NewCreative(adapters.CreativeSpread(10)))(t)
	r = handle(t, huge, message(schemas.Payload{"features": []float64{1e154}, "centroid": []float64{1}, "value": 0.5}, nil))
	if nov := vec(t, r, "variant_novelty"); nov[0] != 0 || !slices.Contains(nov[1:], 0.5) {
		t.Fatalf("overflowing variants: novelty %v", nov)
	}
	// The window caps how many ideas the centroid averages.
	capped := must(adapters.NewCreative(adapters.CreativeCentroidWindow(10)))(t)
	r = handle(t, capped, message(schemas.Payload{"features": f, "centroid": f, "centroid_n": int64(500), "value": 0.5}, nil))
	if i64(t, r, "centroid_n_next") != 10 {
		t.Fatalf("centroid_n_next %v, want the window 10", r.Payload["centroid_n_next"])
	}
	// The zero value is the default node.
	z := handle(t, &adapters.Creative{}, message(schemas.Payload{"features": f, "value": 0.5}, nil))
	if i64(t, z, "variants") != 5 {
		t.Fatalf("zero value: %v variants", z.Payload["variants"])
	}
	for _, opt := range []adapters.CreativeOption{
		adapters.CreativeVariants(0), adapters.CreativeVariants(65), adapters.CreativeSpread(-1), adapters.CreativeSpread(math.NaN()), adapters.CreativeCentroidWindow(0),
	} {
		if _, err := adapters.NewCreative(opt); !errors.Is(err, adapters.ErrInvalidOption) {
			t.Errorf("err %v, want ErrInvalidOption", err)
		}
	}
}

func TestCreativeBadInput(t *testing.T) {
	node := must(adapters.NewCreative())(t)
	for _, tc := range []struct {
		p    schemas.Payload
		want string
	}{
		{schemas.Payload{"value": 0.5}, "payload.features: missing"},
		{schemas.Payload{"features": []float64{0, 0}, "value": 0.5}, "payload.features: all zero"},
		{schemas.Payload{"features": []float64{1e200, 1e200}, "value": 0.5}, "payload.features: too large"},
		{schemas.Payload{"features": []float64{1, 0}}, "neither target nor value"},
		{schemas.Payload{"features": []float64{1, 0}, "value": 1.5}, "payload.value: got double 1.5"},
		{schemas.Payload{"features": []float64{1, 0}, "value": 0.5, "centroid": []float64{1}}, "payload.centroid: has 1 entries; want 2"},
		{schemas.Payload{"features": []float64{1, 0}, "value": 0.5, "centroid": []float64{0, 0}}, "payload.centroid: all zero"},
		{schemas.Payload{"features": []float64{1, 0}, "target": []float64{0, 0}}, "payload.target: all zero"},
		{schemas.Payload{"features": []float64{1, 0}, "value": 0.5, "centroid_n": int64(3)}, "centroid_n is set without payload.centroid"},
		{schemas.Payload{"features": []float64{1, 0}, "value": 0.5, "centroid": []float64{1, 1}, "centroid_n": int64(0)}, "payload.centroid_n: got long 0; want a whole number ≥ 1"},
	} {
		wantReason(t, handle(t, node, message(tc.p, nil)), tc.want)
	}
}
