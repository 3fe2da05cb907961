package adapters_test

import (
	"math"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestBio(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p        schemas.Payload
		score    float64
		fps      int64
		state    string
		dominant string
	}{
		{"comfortable", schemas.Payload{"load": 0.5, "energy": 0.9}, 1, 30, "balanced", "none"},
		{"load as long", schemas.Payload{"load": int64(1), "energy": int64(1)}, 1 - math.Sqrt(0.5), 15, "critical", "load"},
		{"exhausted and saturated, tie to load", schemas.Payload{"load": 1.0, "energy": 0.0}, 0, 15, "critical", "load"},
		{"energy low only", schemas.Payload{"load": 0.2, "energy": 0.1}, 1 - math.Sqrt(0.5*0.75*0.75), 20, "strained", "energy"},
		{"fever", schemas.Payload{"load": 0.5, "energy": 0.9, "temperature": 40.0}, 1 - math.Sqrt(0.15/0.85), 20, "strained", "temperature"},
		{"chill", schemas.Payload{"load": 0.5, "energy": 0.9, "temperature": int64(34)}, 1 - math.Sqrt(0.15/0.85), 20, "strained", "temperature"},
		{"stress only", schemas.Payload{"load": 0.5, "energy": 0.9, "stress": 1.0}, 1 - math.Sqrt(0.15/0.85), 20, "strained", "stress"},
		{"boundary 0.7", schemas.Payload{"load": 0.72, "energy": 0.28}, 0.7, 30, "balanced", "load"},
		{"boundary 0.4", schemas.Payload{"load": 0.84, "energy": 0.16}, 0.4, 20, "strained", "load"},
		{"just below 0.4", schemas.Payload{"load": 0.841, "energy": 0.16}, 1 - math.Sqrt((0.6025*0.6025+0.6*0.6)/2), 15, "critical", "load"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handle(t, adapters.Bio{}, message(tc.p, nil))
			wantOK(t, r)
			if got := f64(t, r, "homeostasis"); !near(got, tc.score) {
				t.Errorf("homeostasis %v, want %v", got, tc.score)
			}
			if i64(t, r, "fps") != tc.fps || str(t, r, "state") != tc.state || str(t, r, "dominant") != tc.dominant {
				t.Errorf("fps %v state %v dominant %v, want %v %v %v", r.Payload["fps"], r.Payload["state"], r.Payload["dominant"], tc.fps, tc.state, tc.dominant)
			}
		})
	}
}

// TestBioMonotone: more load or less energy never raises homeostasis.
func TestBioMonotone(t *testing.T) {
	prev := 2.0
	for load := 0.0; load <= 1.0001; load += 0.05 {
		r := handle(t, adapters.Bio{}, message(schemas.Payload{"load": math.Min(load, 1), "energy": 0.3}, nil))
		s := f64(t, r, "homeostasis")
		if s > prev {
			t.Fatalf("load %v: homeostasis rose to %v from %v", load, s, prev)
		}
		prev = s
	}
	prev = 2.0
	for energy := 1.0; energy >= -0.0001; energy -= 0.05 {
		r := handle(t, adapters.Bio{}, message(schemas.Payload{"load": 0.8, "energy": math.Max(energy, 0)}, nil))
		s := f64(t, r, "homeostasis")
		if s > prev {
			t.Fatalf("energy %v: homeostasis rose to %v from %v", energy, s, prev)
		}
		prev = s
	}
}

func TestBioBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    schemas.Payload
		want []string
	}{
		{"load missing", schemas.Payload{"energy": 0.5}, []string{"payload.load: missing; want a number in [0, 1]"}},
		{"load null", schemas.Payload{"load": nil, "energy": 0.5}, []string{"payload.load: got null; want a number in [0, 1]"}},
		{"load too high", schemas.Payload{"load": 1.5, "energy": 0.5}, []string{"payload.load: got double 1.5; want a number in [0, 1]"}},
		{"energy string", schemas.Payload{"load": 0.5, "energy": "full"}, []string{`payload.energy: got string "full"`}},
		{"energy NaN", schemas.Payload{"load": 0.5, "energy": math.NaN()}, []string{"payload.energy: got NaN"}},
		{"temperature Inf", schemas.Payload{"load": 0.5, "energy": 0.5, "temperature": math.Inf(1)}, []string{"payload.temperature: got +Inf; want a number in [0, 60]"}},
		{"stress list", schemas.Payload{"load": 0.5, "energy": 0.5, "stress": []float64{1}}, []string{"payload.stress: got array<double> of 1"}},
		{"struct", schemas.Payload{"load": struct{}{}, "energy": 0.5}, []string{"payload.load: got struct {}"}},
		{"long string cut", schemas.Payload{"load": "0123456789012345678901234567890123456789-tail", "energy": 0.5}, []string{`got string "0123456789012345678901234567890123456789…"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handle(t, adapters.Bio{}, message(tc.p, nil))
			wantReason(t, r, tc.want...)
			if r.Payload != nil {
				t.Errorf("refused result carries a payload: %v", r.Payload)
			}
		})
	}
	r := handle(t, adapters.Bio{}, message(schemas.Payload{"load": "x", "energy": true}, nil))
	if len(r.Reasons) != 2 {
		t.Fatalf("two bad keys gave %d reasons, want 2: %q", len(r.Reasons), r.Reasons)
	}
}
