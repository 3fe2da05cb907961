package stages_test

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

func TestBreakthroughConformance(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []stages.BreakthroughOption
	}{{"z", nil}, {"cusum", []stages.BreakthroughOption{stages.BreakthroughCUSUM(0.1, 2)}}} {
		t.Run(mode.name, func(t *testing.T) {
			newBreakthrough := func() *stages.Breakthrough {
				b, err := stages.NewBreakthrough(append(mode.opts, stages.BreakthroughMinSamples(5))...)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			frames := func() []*stages.Frame {
				var fs []*stages.Frame
				for seq := range 4 {
					var ms []*schemas.MatrizMessage
					for i := range 5 {
						n := seq*10 + i
						v := float64(n%3) / 10
						if n == 33 {
							v = 5 // a spike in the last frame flags
						}
						ms = append(ms, stages.FxMsg(n, stages.FxID(i), "creative", schemas.Payload{"novelty": v, "value": v}))
					}
					ms = append(ms, stages.FxMsg(seq*10+9, "x", "creative", schemas.Payload{"novelty": 0.1}))
					fs = append(fs, stages.FxFrame(schemas.LaneExperimental, 2, int64(seq), ms...))
				}
				return fs
			}
			stagetest.RunStage(t, func() stages.Stage { return newBreakthrough() }, frames)
			stagetest.RunStateful(t, func() stages.Stateful { return newBreakthrough() }, frames)
		})
	}
}
