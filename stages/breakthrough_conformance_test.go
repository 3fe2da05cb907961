package stages_test

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

func TestBreakthroughConformance(t *testing.T) {
	stagetest.RunStage(t, func() stages.Stage {
		b, err := stages.NewBreakthrough(stages.BreakthroughMinSamples(5))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, func() []*stages.Frame {
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
	})
}
