package adapters

import (
	"context"
	"math"

	"github.com/matriz/pipelines/schemas"
)

// Bio is the homeostasis node: it turns load and energy signals into one
// homeostasis score in [0,1] and the frame rate the consciousness tick
// should run at, so the pipeline slows down before it is overwhelmed.
//
// Payload in:
//
//	load         double in [0,1], required: utilisation (1 = saturated)
//	energy       double in [0,1], required: remaining budget (0 = exhausted)
//	temperature  double in [0,60], optional: °C, setpoint 37
//	stress       double in [0,1], optional: external stress signal
//
// Each signal becomes a strain in [0,1] that is 0 inside its comfort band:
//
//	load strain        = clamp((load - 0.6) / 0.4)      above 60 % load
//	energy strain      = clamp((0.4 - energy) / 0.4)    below 40 % energy
//	temperature strain = clamp((|t - 37| - 0.5) / 2.5)  outside 36.5..37.5 °C
//	stress strain      = stress
//
// homeostasis = 1 - sqrt(Σ wᵢ·strainᵢ² / Σ wᵢ) over the signals present,
// with weights load 0.35, energy 0.35, temperature 0.15, stress 0.15: the
// weighted RMS punishes one large strain more than several small ones.
// fps is 30 when homeostasis ≥ 0.7, 20 when ≥ 0.4, else 15, and state is
// balanced, strained or critical accordingly.
//
// Payload out: homeostasis (double), fps (long), state (string), dominant
// (the signal with the largest weighted strain, ties to the first in the
// order load, energy, temperature, stress; "none" when all are 0),
// and the strains as load_strain, energy_strain, temperature_strain,
// stress_strain (only for the signals present).
type Bio struct{}

// Name returns "bio".
func (Bio) Name() string { return NameBio }

// Version returns the node's version.
func (Bio) Version() string { return "1.0.0" }

type bioSignal struct {
	name   string
	weight float64
	strain float64
}

// Handle computes the homeostasis score and recommended fps of msg.
func (b Bio) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameBio); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameBio, b.Version()), nil
	}
	in := newInput(NameBio, msg)
	load, okLoad := in.number("load", 0, 1, true)
	energy, okEnergy := in.number("energy", 0, 1, true)
	temp, okTemp := in.number("temperature", 0, 60, false)
	stress, okStress := in.number("stress", 0, 1, false)
	if !in.ok() {
		return refuse(msg, NameBio, b.Version(), in.reasons), nil
	}

	signals := make([]bioSignal, 0, 4)
	if okLoad {
		signals = append(signals, bioSignal{"load", 0.35, clamp01((load - 0.6) / 0.4)})
	}
	if okEnergy {
		signals = append(signals, bioSignal{"energy", 0.35, clamp01((0.4 - energy) / 0.4)})
	}
	if okTemp {
		signals = append(signals, bioSignal{"temperature", 0.15, clamp01((math.Abs(temp-37) - 0.5) / 2.5)})
	}
	if okStress {
		signals = append(signals, bioSignal{"stress", 0.15, stress})
	}

	var num, den, worst float64
	dominant := "none"
	out := schemas.Payload{}
	for _, s := range signals {
		num += s.weight * s.strain * s.strain
		den += s.weight
		if ws := s.weight * s.strain; ws > worst {
			worst, dominant = ws, s.name
		}
		out[s.name+"_strain"] = round9(s.strain)
	}
	score := round9(clamp01(1 - math.Sqrt(num/den)))
	fps, state := int64(15), "critical"
	switch {
	case score >= 0.7:
		fps, state = 30, "balanced"
	case score >= 0.4:
		fps, state = 20, "strained"
	}
	out["homeostasis"] = score
	out["fps"] = fps
	out["state"] = state
	out["dominant"] = dominant
	data := schemas.Payload{"homeostasis": score, "fps": fps, "dominant": dominant}
	return answer(msg, NameBio, b.Version(), nil, out, data), nil
}
