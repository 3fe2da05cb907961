package adapters

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// Contradiction finds technical contradictions (improving one parameter
// worsens another) and proposes TRIZ inventive principles for them from
// Altshuller's contradiction matrix, so a conflict between, say, speed and
// reliability comes with the standard ways others resolved it.
//
// Payload in, one of:
//
//	improve, worsen      array<string>: parameters that get better / worse
//	parameters, deltas   array<string> and array<double> of the same length:
//	                     the change in quality of each parameter (> 0 better,
//	                     < 0 worse, 0 unchanged)
//
// A parameter is named by its slug (speed, stability, power,
// loss_of_energy, loss_of_information, loss_of_time,
// quantity_of_substance, reliability, measurement_accuracy,
// ease_of_operation, adaptability, device_complexity,
// difficulty_of_detecting, extent_of_automation, productivity) or by its
// standard number (9, 13, 21, 22, 24–28, 33, 35–39). See triz.go.
//
// Every (improving, worsening) pair is a contradiction; its matrix cell
// lists up to four principles, most used first. A principle scores 4, 3, 2
// or 1 by its place in each cell it appears in, summed over the pairs; the
// top N principles (default 5) by score, then by number, are proposed.
//
// Payload out: contradictions (long), pairs ("improving->worsening"),
// cells (the principle numbers of each pair's cell, "" when the cell is
// empty), principles ("35 Parameter changes", best first),
// principle_scores, improving and worsening (slugs).
type Contradiction struct {
	cfg contradictionConfig
}

type contradictionConfig struct {
	top int
}

func defaultContradictionConfig() contradictionConfig { return contradictionConfig{top: 5} }

func (c contradictionConfig) validate() error {
	if c.top < 1 || c.top > 40 {
		return optionError(NameContradiction, "top principles %d: want 1..40", c.top)
	}
	return nil
}

// ContradictionOption configures a Contradiction node.
type ContradictionOption func(*contradictionConfig)

// ContradictionTopPrinciples sets how many principles are proposed (default 5, 1..40).
func ContradictionTopPrinciples(n int) ContradictionOption {
	return func(c *contradictionConfig) { c.top = n }
}

// NewContradiction returns a Contradiction node configured by opts.
func NewContradiction(opts ...ContradictionOption) (*Contradiction, error) {
	cfg := defaultContradictionConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Contradiction{cfg: cfg}, nil
}

// Name returns "contradiction".
func (*Contradiction) Name() string { return NameContradiction }

// Version returns the node's version.
func (*Contradiction) Version() string { return "1.0.0" }

// trizByName finds a parameter by slug or standard number.
func trizByName(s string) (trizParam, bool) {
	s = normalPurpose(s)
	for _, p := range trizParams {
		if p.slug == s || strconv.Itoa(p.num) == s {
			return p, true
		}
	}
	return trizParam{}, false
}

// Handle finds the contradictions in msg and proposes principles.
func (c *Contradiction) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameContradiction); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameContradiction, c.Version()), nil
	}
	top := c.cfg.top
	if top == 0 { // the zero value is usable and means the default
		top = defaultContradictionConfig().top
	}
	in := newInput(NameContradiction, msg)
	improving, worsening := c.sides(in)
	if !in.ok() {
		return refuse(msg, NameContradiction, c.Version(), in.reasons), nil
	}

	scores := map[int]int{}
	pairs := make([]string, 0, len(improving)*len(worsening))
	cells := make([]string, 0, cap(pairs))
	empty := int64(0)
	for _, i := range improving {
		for _, w := range worsening {
			pairs = append(pairs, i.slug+"->"+w.slug)
			cell := trizMatrix[[2]int{i.num, w.num}]
			if len(cell) == 0 {
				empty++
			}
			nums := make([]string, len(cell))
			for pos, p := range cell {
				scores[p] += 4 - pos
				nums[pos] = strconv.Itoa(p)
			}
			cells = append(cells, strings.Join(nums, ","))
		}
	}
	ranked := make([]int, 0, len(scores))
	for p := range scores {
		ranked = append(ranked, p)
	}
	slices.SortFunc(ranked, func(a, b int) int {
		return cmp.Or(cmp.Compare(scores[b], scores[a]), cmp.Compare(a, b))
	})
	ranked = ranked[:min(top, len(ranked))]
	principles := make([]string, len(ranked))
	pscores := make([]float64, len(ranked))
	for k, p := range ranked {
		principles[k] = strconv.Itoa(p) + " " + trizPrinciples[p]
		pscores[k] = float64(scores[p])
	}
	out := schemas.Payload{
		"contradictions":   int64(len(pairs)),
		"pairs":            pairs,
		"cells":            cells,
		"principles":       principles,
		"principle_scores": pscores,
		"improving":        slugs(improving),
		"worsening":        slugs(worsening),
	}
	data := schemas.Payload{"contradictions": int64(len(pairs)), "empty_cells": empty}
	if len(principles) > 0 {
		data["top_principle"] = principles[0]
	}
	return answer(msg, NameContradiction, c.Version(), nil, out, data), nil
}

// sides reads the improving and worsening parameters from either input form.
func (*Contradiction) sides(in *input) (improving, worsening []trizParam) {
	pairForm := in.has("improve") || in.has("worsen")
	deltaForm := in.has("parameters") || in.has("deltas")
	switch {
	case pairForm && deltaForm:
		in.problem("payload has both improve/worsen and parameters/deltas; send one form")
		return nil, nil
	case deltaForm:
		names, okN := in.texts("parameters", true, false)
		deltas, okD := in.vector("deltas", true)
		if !okN || !okD || !in.sameLength("deltas", len(deltas), "parameters", len(names)) {
			return nil, nil
		}
		for k, name := range names {
			p, ok := trizParamOrReason(in, "parameters", name)
			switch {
			case !ok:
			case deltas[k] > 0:
				improving = appendParam(improving, p)
			case deltas[k] < 0:
				worsening = appendParam(worsening, p)
			}
		}
	case pairForm:
		imp, _ := in.texts("improve", false, true)
		wor, _ := in.texts("worsen", false, true)
		for _, name := range imp {
			if p, ok := trizParamOrReason(in, "improve", name); ok {
				improving = appendParam(improving, p)
			}
		}
		for _, name := range wor {
			if p, ok := trizParamOrReason(in, "worsen", name); ok {
				worsening = appendParam(worsening, p)
			}
		}
	default:
		in.problem("payload has neither improve/worsen nor parameters/deltas; want the TRIZ parameters that improve and worsen, e.g. improve=[\"speed\"] worsen=[\"reliability\"]")
		return nil, nil
	}
	for _, p := range improving {
		if slices.Contains(worsening, p) {
			in.problem("parameter %s both improves and worsens; list it on one side", p.slug)
		}
	}
	return improving, worsening
}

func trizParamOrReason(in *input, key, name string) (trizParam, bool) {
	p, ok := trizByName(name)
	if !ok {
		names := make([]string, len(trizParams))
		for i, p := range trizParams {
			names[i] = p.slug
		}
		in.problem("payload.%s: unknown TRIZ parameter %q; want one of %s (or its standard number)", key, name, strings.Join(names, ", "))
	}
	return p, ok
}

func appendParam(ps []trizParam, p trizParam) []trizParam {
	if slices.Contains(ps, p) {
		return ps
	}
	return append(ps, p)
}

func slugs(ps []trizParam) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.slug
	}
	return out
}
