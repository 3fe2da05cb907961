package spec

// This file builds a lane's stage chain from its spec. Parse builds every
// lane this way, dry, and the runtime builds the lane it runs the same way,
// so an option a stage refuses is refused at parse time, located by the
// fields of optionFields.

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

// Chain is one lane's stage chain built from its spec: the factory that
// makes each partition's chain (fresh instances of the stateful stages),
// and what every partition shares.
type Chain struct {
	Factory   *stages.ChainFactory
	Router    *stages.Router
	Approvals *stages.ApprovalSet
}

// ChainOptions are what a chain needs beyond the spec.
type ChainOptions struct {
	// Executor performs guardian-approved external actions (default
	// stages.RecordOnly); the chain wraps it in the lane guard.
	Executor stages.Executor
	// Wrap, when set, decorates every stage instance (the runtime adds its
	// per-stage metrics); chains are built of what it returns.
	Wrap func(stages.Stage) stages.Stage
}

// optionFields names, for each stage and operator option, the fields of a
// lane's spec it is set from, the first being the one it is about: an
// option error is reported at the first of them the file sets.
var optionFields = map[string][]string{
	"LearnWindow":            {"learn.window"},
	"LearnMaxGlyphs":         {"learn.max_glyphs"},
	"DriftAlpha":             {"drift.alpha"},
	"DriftThresholds":        {"drift.warn", "drift.block"},
	"DriftWindow":            {"drift.window"},
	"DriftMaxGlyphs":         {"drift.max_glyphs"},
	"FoldMaxFanout":          {"fold_guard.max_fanout"},
	"FoldMaxDepth":           {"fold_guard.max_depth"},
	"FoldBudget":             {"fold_guard.budget", "fold_guard.max_fanout"},
	"FoldCooldown":           {"fold_guard.cooldown_ms"},
	"BreakthroughWeights":    {"breakthrough.novelty_weight", "breakthrough.value_weight"},
	"BreakthroughZ":          {"breakthrough.z"},
	"BreakthroughMinSamples": {"breakthrough.min_samples"},
	"BreakthroughCUSUM":      {"breakthrough.cusum_k", "breakthrough.cusum_h"},
	"GuardianMaxRisk":        {"guardian.max_risk"},
	"GuardianMaxDrift":       {"guardian.max_drift"},
	"GuardianDryRun":         {"guardian.dry_run"},
	"GuardianMaxPending":     {"guardian.max_pending"},
	"GoalsMaxGoals":          {"goals.max_goals"},
	"GoalsMaxDepth":          {"goals.max_depth"},
	"GoalsMaxRisk":           {"goals.max_risk"},
	"CanaryFraction":         {"canary.fraction"},
	"CanaryMinAgreement":     {"canary.min_agreement"},
	"CanaryMinSamples":       {"canary.min_samples"},
	"TickFPS":                {"tick.fps"},
	"TickGrace":              {"tick.grace_ms"},
	"TickBudget":             {"tick.budget_ms"},
	"DecimateCapacity":       {"decimate.k"},
	"DecimatePolicy":         {"decimate.policy"},
	"DecimateMaxRecords":     {"decimate.max_records"},

	// 0 (unset) leaves the stage default, stages.DefaultExecutorTimeout.
	"GuardianExecutorTimeout": {"guardian.executor_timeout_ms"},
}

// Chain builds lane's chain in the spec's stage order. Decimation is not a
// chain stage: it is the ring between the tick and the chain, configured by
// DecimateOptions.
func (l *Lane) Chain(lane schemas.Lane, opts ChainOptions) (*Chain, error) {
	c := &Chain{Approvals: stages.NewApprovalSet()}
	router, err := stages.NewRouter()
	if err != nil {
		return nil, err
	}
	byName := map[string]stages.Node{}
	for _, n := range adapters.All() {
		byName[n.Name()] = n
	}
	for topic, node := range adapters.DefaultRoutes() {
		if err := router.Register(topic, byName[node]); err != nil {
			return nil, fmt.Errorf("route %s → %s: %w", topic, node, err)
		}
	}
	c.Router = router
	guarded, err := guardedExecutor(lane, opts.Executor)
	if err != nil {
		return nil, err
	}

	var fs []stages.Factory
	for _, name := range l.Stages {
		var f stages.Factory
		switch name {
		case StageDecimate:
			continue
		case StageRoute:
			f = stages.Shared(router)
		case StageLearn:
			ln := l.Learn
			f = stages.PerPartition(stages.StageLearn, func() (*stages.Learn, error) {
				return stages.NewLearn(stages.LearnNode(adapters.NameCreative), stages.LearnWindow(int64(ln.Window)), stages.LearnMaxGlyphs(ln.MaxGlyphs))
			})
		case StageAdapter:
			a, err := stages.NewAdapter(router)
			if err != nil {
				return nil, err
			}
			f = stages.Shared(a)
		case StageDrift:
			d := l.Drift
			f = stages.PerPartition(stages.StageDrift, func() (*stages.Drift, error) {
				return stages.NewDrift(stages.DriftAlpha(d.Alpha), stages.DriftThresholds(d.Warn, d.Block), stages.DriftWindow(d.Window), stages.DriftMaxGlyphs(d.MaxGlyphs))
			})
		case StageFoldGuard:
			g := l.FoldGuard
			f = stages.PerPartition(stages.StageFoldGuard, func() (*stages.FoldGuard, error) {
				return stages.NewFoldGuard(stages.FoldMaxFanout(int64(g.MaxFanout)), stages.FoldMaxDepth(int64(g.MaxDepth)),
					stages.FoldBudget(int64(g.Budget)), stages.FoldCooldown(time.Duration(g.CooldownMS)*time.Millisecond))
			})
		case StageBreakthrough:
			bo := l.Breakthrough.options()
			f = stages.PerPartition(stages.StageBreakthrough, func() (*stages.Breakthrough, error) {
				return stages.NewBreakthrough(bo...)
			})
		case StageGuardian:
			g := l.Guardian
			f = stages.PerPartition(stages.StageGuardian, func() (*stages.Guardian, error) {
				opts := []stages.GuardianOption{
					stages.GuardianMaxRisk(g.MaxRisk), stages.GuardianMaxDrift(g.MaxDrift), stages.GuardianDryRun(g.DryRun), stages.GuardianMaxPending(g.MaxPending),
					stages.GuardianApprovals(c.Approvals), stages.GuardianExecutor(guarded)}
				if g.ExecutorTimeoutMS != 0 {
					opts = append(opts, stages.GuardianExecutorTimeout(time.Duration(g.ExecutorTimeoutMS)*time.Millisecond))
				}
				return stages.NewGuardian(lane, opts...)
			})
		case StageGoals:
			gl := l.Goals
			f = stages.PerPartition(stages.StageGoals, func() (*stages.Goals, error) {
				return stages.NewGoals(stages.GoalsNode(adapters.NameOrchestration), stages.GoalsMaxGoals(gl.MaxGoals),
					stages.GoalsMaxDepth(gl.MaxDepth), stages.GoalsMaxRisk(gl.MaxRisk))
			})
		default:
			return nil, fmt.Errorf("lane %s: unknown stage %q", lane, name)
		}
		if opts.Wrap != nil {
			f = wrapped{f, opts.Wrap}
		}
		fs = append(fs, f)
	}
	if c.Factory, err = stages.NewChainFactory(fs...); err != nil {
		return nil, err
	}
	return c, nil
}

// options are the breakthrough detector's options: the detector and the
// way the score combines novelty and value select which apply.
func (b Breakthrough) options() []stages.BreakthroughOption {
	bo := []stages.BreakthroughOption{stages.BreakthroughZ(b.Z), stages.BreakthroughMinSamples(int64(b.MinSamples))}
	if b.Combine == "product" {
		bo = append(bo, stages.BreakthroughProduct())
	} else {
		bo = append(bo, stages.BreakthroughWeights(b.NoveltyWeight, b.ValueWeight))
	}
	if b.Detector == "cusum" {
		bo = append(bo, stages.BreakthroughCUSUM(b.CusumK, b.CusumH))
	}
	if b.Baseline == "learning" {
		bo = append(bo, stages.BreakthroughFollowLearningFlag())
	}
	return bo
}

// guardedExecutor wraps executor (default stages.RecordOnly) in lane's
// guard, which refuses external actions outside candidate and prod.
func guardedExecutor(lane schemas.Lane, executor stages.Executor) (stages.Executor, error) {
	if executor == nil {
		executor = stages.RecordOnly{}
	}
	guard, err := stages.NewLaneGuard(lane)
	if err != nil {
		return nil, err
	}
	return stages.ExecutorFunc(func(ctx context.Context, l schemas.Lane, a stages.Action) error {
		return guard.Do(ctx, a.Kind, func(ctx context.Context) error { return executor.Execute(ctx, l, a) })
	}), nil
}

// wrapped is a factory whose stages are decorated by wrap.
type wrapped struct {
	stages.Factory
	wrap func(stages.Stage) stages.Stage
}

func (w wrapped) New() (stages.Stage, error) {
	st, err := w.Factory.New()
	if err != nil {
		return nil, err
	}
	return w.wrap(st), nil
}
