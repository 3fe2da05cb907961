package adapters

import (
	"context"
	"math"
	"strconv"

	"github.com/matriz/pipelines/schemas"
)

// Consciousness is the attention node: a softmax over salience gives each
// candidate an attention weight, and the heaviest is the focus. The
// temperature sets how sharp attention is: low temperatures focus on the
// most salient candidate, high ones spread attention evenly.
//
// Payload in:
//
//	salience  array<double>, required, finite: one score per candidate
//	labels    array<string>, optional: candidate names, same length
//	          (default "0", "1", ...)
//
// weights[i] = exp((sᵢ - max s) / T) / Σⱼ exp((sⱼ - max s) / T), with T the
// configured temperature (default 1). The focus is the candidate with the
// largest weight; ties go to the first. entropy is the Shannon entropy of
// the weights divided by log(n), 0 when attention is on one candidate and
// 1 when it is spread evenly (0 for a single candidate).
//
// Payload out: weights (array<double>), focus (label), focus_index (long),
// focus_weight (double), entropy (double), temperature (double).
type Consciousness struct {
	cfg consciousnessConfig
}

type consciousnessConfig struct {
	temperature float64
}

func defaultConsciousnessConfig() consciousnessConfig {
	return consciousnessConfig{temperature: 1}
}

func (c consciousnessConfig) validate() error {
	if !(c.temperature > 0) || math.IsInf(c.temperature, 0) {
		return optionError(NameConsciousness, "temperature %v: want a finite number > 0", c.temperature)
	}
	return nil
}

// ConsciousnessOption configures a Consciousness node.
type ConsciousnessOption func(*consciousnessConfig)

// ConsciousnessTemperature sets the softmax temperature (default 1, must be > 0).
func ConsciousnessTemperature(t float64) ConsciousnessOption {
	return func(c *consciousnessConfig) { c.temperature = t }
}

// NewConsciousness returns a Consciousness node configured by opts.
func NewConsciousness(opts ...ConsciousnessOption) (*Consciousness, error) {
	cfg := defaultConsciousnessConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Consciousness{cfg: cfg}, nil
}

// Name returns "consciousness".
func (*Consciousness) Name() string { return NameConsciousness }

// Version returns the node's version.
func (*Consciousness) Version() string { return "1.0.0" }

// Handle computes attention weights and the focus of msg.
func (c *Consciousness) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameConsciousness); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameConsciousness, c.Version()), nil
	}
	temp := c.cfg.temperature
	if temp == 0 { // the zero value is usable and means the default
		temp = defaultConsciousnessConfig().temperature
	}
	in := newInput(NameConsciousness, msg)
	sal, ok := in.vector("salience", true)
	labels, hasLabels := in.texts("labels", false, false)
	if ok && hasLabels {
		in.sameLength("labels", len(labels), "salience", len(sal))
	}
	if !in.ok() {
		return refuse(msg, NameConsciousness, c.Version(), in.reasons), nil
	}

	maxS := sal[0]
	for _, s := range sal[1:] {
		maxS = math.Max(maxS, s)
	}
	weights := make([]float64, len(sal))
	var sum float64
	for i, s := range sal {
		weights[i] = math.Exp((s - maxS) / temp)
		sum += weights[i]
	}
	focus := 0
	var entropy float64
	for i := range weights {
		weights[i] /= sum
		if weights[i] > weights[focus] {
			focus = i
		}
		if weights[i] > 0 {
			entropy -= weights[i] * math.Log(weights[i])
		}
	}
	if len(weights) > 1 {
		entropy /= math.Log(float64(len(weights)))
	} else {
		entropy = 0
	}
	label := strconv.Itoa(focus)
	if hasLabels {
		label = labels[focus]
	}
	fw := round9(weights[focus])
	ent := round9(clamp01(entropy))
	out := schemas.Payload{
		"weights":      round9s(weights),
		"focus":        label,
		"focus_index":  int64(focus),
		"focus_weight": fw,
		"entropy":      ent,
		"temperature":  temp,
	}
	data := schemas.Payload{"focus": label, "focus_weight": fw, "entropy": ent, "candidates": int64(len(sal))}
	return answer(msg, NameConsciousness, c.Version(), nil, out, data), nil
}
