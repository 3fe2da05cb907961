package spec

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

// LaneChain is one lane's stage chain built from its spec, with handles on
// the stages whose domain figures the runtime exports.
type LaneChain struct {
	Chain        *stages.Chain
	Router       *stages.Router
	Drift        *stages.Drift
	FoldGuard    *stages.FoldGuard
	Breakthrough *stages.Breakthrough
	Guardian     *stages.Guardian
	Approvals    *stages.ApprovalSet
}

// ChainOptions are what the chain needs beyond the spec.
type ChainOptions struct {
	Executor stages.Executor
	// Wrap, when set, decorates every stage (the runtime adds its per-stage
	// metrics); the chain is built of what it returns.
	Wrap func(stages.Stage) stages.Stage
}

// BuildChain builds lane's chain in the spec's stage order. Decimation is
// not a chain stage: it is the ring between the tick and the chain (see
// the worker), configured from the same spec.
func BuildChain(lane schemas.Lane, ls *Lane, opts ChainOptions) (*LaneChain, error) {
	lc := &LaneChain{Approvals: stages.NewApprovalSet()}
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
	lc.Router = router

	executor := opts.Executor
	if executor == nil {
		executor = stages.RecordOnly{}
	}
	guard, err := stages.NewLaneGuard(lane)
	if err != nil {
		return nil, err
	}
	guarded := stages.ExecutorFunc(func(ctx context.Context, l schemas.Lane, a stages.Action) error {
		return guard.Do(ctx, a.Kind, func(ctx context.Context) error { return executor.Execute(ctx, l, a) })
	})

	var chain []stages.Stage
	for _, name := range ls.Stages {
		var st stages.Stage
		switch name {
		case StageDecimate:
			continue
		case StageRoute:
			st = router
		case StageAdapter:
			a, err := stages.NewAdapter(router)
			if err != nil {
				return nil, err
			}
			st = a
		case StageDrift:
			d, err := stages.NewDrift(
				stages.DriftAlpha(ls.Drift.Alpha), stages.DriftThresholds(ls.Drift.Warn, ls.Drift.Block),
				stages.DriftWindow(ls.Drift.Window))
			if err != nil {
				return nil, err
			}
			lc.Drift, st = d, d
		case StageFoldGuard:
			f, err := stages.NewFoldGuard(
				stages.FoldMaxFanout(int64(ls.FoldGuard.MaxFanout)), stages.FoldMaxDepth(int64(ls.FoldGuard.MaxDepth)),
				stages.FoldBudget(int64(ls.FoldGuard.Budget)), stages.FoldCooldown(time.Duration(ls.FoldGuard.CooldownMS)*time.Millisecond))
			if err != nil {
				return nil, err
			}
			lc.FoldGuard, st = f, f
		case StageBreakthrough:
			b := ls.Breakthrough
			bo := []stages.BreakthroughOption{stages.BreakthroughZ(b.Z), stages.BreakthroughMinSamples(int64(b.MinSamples))}
			if b.Combine == "product" {
				bo = append(bo, stages.BreakthroughProduct())
			} else {
				bo = append(bo, stages.BreakthroughWeights(b.NoveltyWeight, b.ValueWeight))
			}
			if b.Detector == "cusum" {
				bo = append(bo, stages.BreakthroughCUSUM(b.CusumK, b.CusumH))
			}
			br, err := stages.NewBreakthrough(bo...)
			if err != nil {
				return nil, err
			}
			lc.Breakthrough, st = br, br
		case StageGuardian:
			g, err := stages.NewGuardian(
				stages.GuardianMaxRisk(ls.Guardian.MaxRisk), stages.GuardianMaxDrift(ls.Guardian.MaxDrift),
				stages.GuardianDryRun(ls.Guardian.DryRun || lane == schemas.LaneExperimental, lane),
				stages.GuardianApprovals(lc.Approvals), stages.GuardianExecutor(guarded))
			if err != nil {
				return nil, err
			}
			lc.Guardian, st = g, g
		default:
			return nil, fmt.Errorf("lane %s: unknown stage %q", lane, name)
		}
		if opts.Wrap != nil {
			st = opts.Wrap(st)
		}
		chain = append(chain, st)
	}
	c, err := stages.NewChain(chain...)
	if err != nil {
		return nil, err
	}
	lc.Chain = c
	return lc, nil
}
