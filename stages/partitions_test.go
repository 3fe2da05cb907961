package stages

import (
	"context"
	"sync"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestStagesServePartitionsConcurrently runs frames of four partitions in
// parallel through one instance of each stage while the metrics side reads
// Stats and the changelog side takes snapshots (run it with -race), and
// checks that every partition ends as it would have alone.
func TestStagesServePartitionsConcurrently(t *testing.T) {
	guard, _ := NewGuardian(GuardianApprovals(ApprovalFunc(func(id string) bool { return id[0] < '8' })))
	chain := []interface {
		Stage
		Stateful
	}{guard}

	frames := func(part int32, seq int64) *Frame {
		var ms []*schemas.MatrizMessage
		for i := range 20 {
			n := int(part)*100_000 + int(seq)*100 + i
			m := fxMsg(n, fxID(i%5), []string{"memory", "trend", "action"}[i%3], schemas.Payload{
				"intent": fxRotated(0, 2), "action": fxRotated(float64(seq)*0.05, 2),
				"novelty": float64(i%7) / 7, "value": float64(i%3) / 3, "fanout": int64(i % 9), "priority": "P0",
			})
			m.Glyph.Tags = consented()
			ms = append(ms, m)
		}
		f := fxFrame(schemas.LaneProd, part, seq, ms...)
		f.Flags.ExtActions = true
		return f
	}
	run := func(stages []interface {
		Stage
		Stateful
	}, part int32) {
		for seq := range int64(30) {
			f := frames(part, seq)
			for _, st := range stages {
				if err := st.Process(context.Background(), f); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}

	var wg sync.WaitGroup
	for part := range int32(4) {
		wg.Go(func() { run(chain, part) })
	}
	wg.Go(func() {
		for range 50 {
			_ = guard.Stats()
			for _, st := range chain {
				if _, err := st.Snapshot(2); err != nil {
					t.Error(err)
				}
			}
		}
	})
	wg.Wait()

	for part := range int32(4) {
		g, _ := NewGuardian(GuardianApprovals(ApprovalFunc(func(id string) bool { return id[0] < '8' })))
		alone := []interface {
			Stage
			Stateful
		}{g}
		run(alone, part)
		for i, st := range chain {
			got, _ := st.Snapshot(part)
			want, _ := alone[i].Snapshot(part)
			if string(got) != string(want) {
				t.Fatalf("%s partition %d: state after concurrent run differs from a run alone:\n%s\n%s", st.Name(), part, got, want)
			}
		}
	}
}
