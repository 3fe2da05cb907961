package stages_test

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

func TestDriftConformance(t *testing.T) {
	newDrift := func() *stages.Drift {
		d, err := stages.NewDrift(stages.DriftWindow(3))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	frames := func() []*stages.Frame {
		var fs []*stages.Frame
		for seq := range 4 {
			var ms []*schemas.MatrizMessage
			for i := range 4 {
				n := seq*5 + i
				ms = append(ms, stages.FxMsg(n, stages.FxID(seq%2), "trend", schemas.Payload{
					"intent": stages.FxRotated(0, 3), "action": stages.FxRotated(0.2*float64(n), 3),
				}))
			}
			ms = append(ms, stages.FxMsg(seq*5+4, "z", "trend", schemas.Payload{"intent": []float64{0, 0}, "action": []float64{1, 0}}))
			fs = append(fs, stages.FxFrame(schemas.LaneCandidate, 0, int64(seq), ms...))
		}
		fs[1].Records[0].Dropped = true
		return fs
	}
	stagetest.RunStage(t, func() stages.Stage { return newDrift() }, frames)
	stagetest.RunStateful(t, func() stages.Stateful { return newDrift() }, frames)
}
