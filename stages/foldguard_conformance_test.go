package stages_test

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

func TestFoldGuardConformance(t *testing.T) {
	newFoldGuard := func() *stages.FoldGuard {
		g, err := stages.NewFoldGuard(stages.FoldBudget(20))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	// Within budget, past it (the breaker opens), the half-open probe 1.33s
	// later within budget (it closes), past the budget again.
	frames := func() []*stages.Frame {
		var fs []*stages.Frame
		for seq, writes := range []int{3, 6, 3, 6} {
			var ms []*schemas.MatrizMessage
			for i := range writes {
				n := seq*10 + i
				ms = append(ms, stages.FxMsg(n, stages.FxID(i%3), "memory", schemas.Payload{"fanout": int64(i + 2), "depth": int64(i)}))
			}
			ms = append(ms, stages.FxMsg(seq*10+9, "x", "trend", nil))
			fs = append(fs, stages.FxFrame(schemas.LaneProd, 1, int64(seq*40), ms...))
		}
		return fs
	}
	stagetest.RunStage(t, func() stages.Stage { return newFoldGuard() }, frames)
	stagetest.RunStateful(t, func() stages.Stateful { return newFoldGuard() }, frames)
}
