package stages_test

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/stagetest"
)

func TestGuardianConformance(t *testing.T) {
	newGuardian := func() *stages.Guardian {
		// Deterministic approvals: about half of the action ids. The others
		// wait and expire two frames later, so the frames show what a
		// waiting action keeps.
		half := stages.ApprovalFunc(func(id string) bool { return id[0] < '8' })
		g, err := stages.NewGuardian(schemas.LaneProd, stages.GuardianApprovals(half), stages.GuardianApprovalTTL(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	frames := func() []*stages.Frame {
		var fs []*stages.Frame
		for seq := range 4 {
			var ms []*schemas.MatrizMessage
			for i := range 8 {
				n := seq*10 + i
				p := schemas.Payload{"risk": (float64(i) + 0.5) / 10}
				if i%2 == 0 {
					// Parameters of every payload type, kept by waiting actions.
					p["action_kind"] = "notify"
					p["priority"] = []string{"P0", "P1", "P2", "P3"}[(i/2)%4]
					p["n"], p["v"], p["to"], p["urgent"], p["none"] = int64(n), []float64{0.5, -1}, []string{"ops"}, i == 0, nil
				}
				if i%4 == 0 {
					p["data_origin"], p["explanation_link"] = "sensor", "https://explain.example/"+stages.FxID(n)
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
	}
	stagetest.RunStage(t, func() stages.Stage { return newGuardian() }, frames)
	stagetest.RunStateful(t, func() stages.Stateful { return newGuardian() }, frames)
}
