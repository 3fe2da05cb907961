package stages_test

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

func TestGuardianConformance(t *testing.T) {
	stagetest.RunStage(t, func() stages.Stage {
		// Deterministic approvals: about half of the action ids.
		half := stages.ApprovalFunc(func(id string) bool { return id[0] < '8' })
		g, err := stages.NewGuardian(schemas.LaneProd, stages.GuardianApprovals(half))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}, func() []*stages.Frame {
		var fs []*stages.Frame
		for seq := range 4 {
			var ms []*schemas.MatrizMessage
			for i := range 8 {
				n := seq*10 + i
				p := schemas.Payload{"risk": float64(i) / 10}
				if i%2 == 0 {
					p["action_kind"] = "notify"
					p["priority"] = []string{"P0", "P1", "P2", "P3"}[(i/2)%4]
				}
				m := stages.FxMsg(n, stages.FxID(i), "trend", p)
				if i != 7 {
					m.Glyph.Tags = map[string]string{"consent": "granted", "purpose": "care"}
				}
				ms = append(ms, m)
			}
			f := stages.FxFrame(schemas.LaneProd, 0, int64(seq), ms...)
			f.Flags.ExtActions = seq%2 == 0
			fs = append(fs, f)
		}
		return fs
	})
}
