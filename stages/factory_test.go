package stages_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// laneFactory is the factory of a prod chain as the runtime builds one:
// route and adapter shared by every partition, the stateful stages made
// per partition, and one Approvals shared by every guardian.
func laneFactory(t *testing.T) *stages.ChainFactory {
	t.Helper()
	router, adapter := adStages(t, adNode{name: "trend"}, adNode{name: "memory"}, adNode{name: "action"})
	approvals := stages.ApprovalFunc(func(id string) bool { return id[0] < '8' })
	c, err := stages.NewChainFactory(
		stages.Shared(router),
		stages.Shared(adapter),
		stages.PerPartition(stages.StageDrift, func() (*stages.Drift, error) { return stages.NewDrift(stages.DriftWindow(5)) }),
		stages.PerPartition(stages.StageFoldGuard, func() (*stages.FoldGuard, error) { return stages.NewFoldGuard(stages.FoldBudget(20)) }),
		stages.PerPartition(stages.StageBreakthrough, func() (*stages.Breakthrough, error) {
			return stages.NewBreakthrough(stages.BreakthroughMinSamples(5))
		}),
		stages.PerPartition(stages.StageGuardian, func() (*stages.Guardian, error) {
			return stages.NewGuardian(schemas.LaneProd, stages.GuardianApprovals(approvals))
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// laneFrame is frame seq of partition part: messages for every stage.
func laneFrame(part int32, seq int64) *stages.Frame {
	var ms []*schemas.MatrizMessage
	for i := range 12 {
		n := int(part)*100_000 + int(seq)*100 + i
		p := schemas.Payload{
			"intent": stages.FxRotated(0, 2), "action": stages.FxRotated(float64(seq)*0.05, 2),
			"novelty": float64(i%7) / 7, "value": float64(i%3) / 3,
		}
		topic := []string{"memory", "trend", "action"}[i%3]
		switch topic {
		case "memory":
			p["fanout"] = int64(i % 9)
		case "action":
			p["priority"] = []string{"P0", "P1"}[i%2]
		}
		m := stages.FxMsg(n, stages.FxID(i%5), topic, p)
		m.Glyph.Tags = map[string]string{"consent": "granted", "purpose": "care"}
		ms = append(ms, m)
	}
	f := stages.FxFrame(schemas.LaneProd, part, seq, ms...)
	f.Flags.ExtActions = true
	return f
}

func runFrames(t *testing.T, c *stages.Chain, part int32, from, to int64) {
	for seq := from; seq < to; seq++ {
		if err := c.Run(context.Background(), laneFrame(part, seq)); err != nil {
			t.Error(err)
			return
		}
	}
}

// TestChainFactoryChainsAreIndependent runs partitions 0 and 2 on their own
// goroutines (run it with -race) and checks that partition 1's state does
// not move, that each partition ends as it would alone, and that the shared
// stages are one value while the stateful ones are one per chain.
func TestChainFactoryChainsAreIndependent(t *testing.T) {
	factory := laneFactory(t)
	fixture := func() *stages.Chain {
		c, err := factory.New()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c0, c1, c2 := fixture(), fixture(), fixture()
	runFrames(t, c1, 1, 0, 10)
	before, err := c1.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 4 || before[stages.StageGuardian] == nil {
		t.Fatalf("partition 1 snapshot %q: want four stages' state, the guardian's with waiting actions", before)
	}

	var wg sync.WaitGroup
	wg.Go(func() { runFrames(t, c0, 0, 0, 30) })
	wg.Go(func() { runFrames(t, c2, 2, 0, 30) })
	wg.Wait()

	after, _ := c1.Snapshot()
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("frames of partitions 0 and 2 changed partition 1's state:\n%q\n%q", before, after)
	}
	alone := fixture()
	runFrames(t, alone, 0, 0, 30)
	got, _ := c0.Snapshot()
	want, _ := alone.Snapshot()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partition 0 next to others ends as\n%q\nand alone as\n%q", got, want)
	}

	r0, _ := stages.As[*stages.Router](c0)
	r1, _ := stages.As[*stages.Router](c1)
	d0, _ := stages.As[*stages.Drift](c0)
	d1, _ := stages.As[*stages.Drift](c1)
	if r0 == nil || r0 != r1 {
		t.Fatal("the shared router is not one value in every chain")
	}
	if d0 == nil || d0 == d1 {
		t.Fatal("two partitions' chains share a drift instance")
	}
	if d0.Stats().Partition != 0 || d1.Stats().Partition != 1 {
		t.Fatalf("drift stats name partitions %d and %d", d0.Stats().Partition, d1.Stats().Partition)
	}
	names := []string{"route", "adapter", "drift", "fold-guard", "breakthrough", "guardian"}
	if !reflect.DeepEqual(factory.Names(), names) || !reflect.DeepEqual(c0.Names(), names) {
		t.Fatalf("names %v and %v, want %v", factory.Names(), c0.Names(), names)
	}
}

// TestChainFactoryRestoresARevokedPartition: the worker that takes a
// partition over makes a fresh chain, restores the state the old owner
// wrote, and goes on as the old owner would have.
func TestChainFactoryRestoresARevokedPartition(t *testing.T) {
	factory := laneFactory(t)
	old, _ := factory.New()
	runFrames(t, old, 4, 0, 12)
	state, err := old.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	next, _ := factory.New()
	if err := next.Restore(state); err != nil {
		t.Fatal(err)
	}
	fo, fn := laneFrame(4, 12), laneFrame(4, 12)
	_ = old.Run(context.Background(), fo)
	_ = next.Run(context.Background(), fn)
	if !reflect.DeepEqual(fn.Events, fo.Events) || !reflect.DeepEqual(fn.Actions, fo.Actions) {
		t.Fatal("the new owner's frame differs from the old owner's")
	}
}

type namedStage struct{ name string }

func (s namedStage) Name() string                                 { return s.name }
func (s namedStage) Process(context.Context, *stages.Frame) error { return nil }

func TestNewChainFactoryRejects(t *testing.T) {
	drift := func() (*stages.Drift, error) { return stages.NewDrift() }
	tests := []struct {
		name string
		fs   []stages.Factory
		want string
		is   error
	}{
		{"nil factory", []stages.Factory{stages.Shared(namedStage{"a"}), nil}, "factory 1 is nil", nil},
		{"shared nil stage", []stages.Factory{stages.Shared(nil)}, "factory 0 (stages.sharedFactory) has no name", nil},
		{"unnamed", []stages.Factory{stages.PerPartition("", drift)}, "has no name", nil},
		{"duplicate", []stages.Factory{stages.Shared(namedStage{"drift"}), stages.PerPartition("drift", drift)}, `factories 0 and 1 are both named "drift"`, nil},
		{"constructor fails", []stages.Factory{stages.PerPartition("drift", func() (*stages.Drift, error) { return stages.NewDrift(stages.DriftAlpha(7)) })},
			"stage drift: drift: option DriftAlpha = 7", stages.ErrDriftConfig},
		{"no constructor", []stages.Factory{stages.PerPartition[*stages.Drift]("drift", nil)}, `PerPartition("drift") has no constructor`, nil},
		{"nil instance", []stages.Factory{stages.PerPartition("drift", func() (*stages.Drift, error) { return nil, nil })}, "returned a nil *stages.Drift", nil},
		{"name mismatch", []stages.Factory{stages.PerPartition("drift2", drift)}, `factory "drift2" made a stage named "drift"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := stages.NewChainFactory(tc.fs...)
			if c != nil || !errors.Is(err, stages.ErrChain) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewChainFactory = %v, %v; want an ErrChain mentioning %q", c, err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
	if st, err := stages.Shared(nil).New(); st != nil || err != nil {
		t.Fatalf("Shared(nil).New() = %v, %v", st, err)
	}
}
