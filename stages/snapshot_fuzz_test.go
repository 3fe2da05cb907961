package stages_test

// Fuzz targets for every stateful stage's snapshot Restore: the changelog
// is a topic anyone with write access can put bytes on, and a restore runs
// before the partition does anything, so a Restore that panics is a crash
// loop. The property, for arbitrary bytes:
//
//   - Restore never panics;
//   - a refused snapshot is an error wrapping stages.ErrSnapshot and
//     leaves the state it found;
//   - an accepted one is a state that Snapshot → Restore round-trips to
//     the same bytes, and the stage still processes a frame.
//
// The seeds are real snapshots: the stage run over the frames of its
// conformance test, snapshotted after every frame, and the legacy-format
// snapshots of testdata/legacy (of the stages older than format 2). `go test` runs the seeds; `make fuzz` runs
// each target with -fuzz.

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// fuzzRestore runs the Restore property against stages made by fresh,
// seeded with the snapshots taken after each of frames, and the legacy
// snapshot of the stage in testdata.
func fuzzRestore(f *testing.F, fresh func() stages.Stateful, frames func() []*stages.Frame) {
	f.Helper()
	var seeds [][]byte
	st := fresh()
	for i, fr := range frames() {
		if err := st.Process(context.Background(), fr); err != nil {
			f.Fatalf("seed frame %d: %v", i, err)
		}
		b, err := st.Snapshot()
		if err != nil {
			f.Fatalf("seed snapshot %d: %v", i, err)
		}
		if b != nil {
			seeds = append(seeds, b)
		}
	}
	if len(seeds) == 0 {
		f.Fatal("the seed frames left no state to snapshot")
	}
	// A stage born after format 2 (learn, goals) never wrote the legacy format.
	legacy, err := os.ReadFile(filepath.Join("testdata", "legacy", st.Name()+".json"))
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && (st.Name() == stages.StageLearn || st.Name() == stages.StageGoals)) {
		f.Fatal(err)
	}
	if legacy != nil {
		seeds = append(seeds, legacy)
	}
	seeds = append(seeds, nil, []byte("null"), []byte("{}"), []byte(`{"format":2,"stage":"`+st.Name()+`","state":{}}`))
	for _, s := range seeds {
		f.Add(s)
	}
	base := seeds[len(seeds)/2]
	probe := frames()[0]
	f.Fuzz(func(t *testing.T, b []byte) {
		st := fresh()
		if err := st.Restore(base); err != nil {
			t.Fatalf("base seed: %v", err)
		}
		before, err := st.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Restore(b); err != nil {
			if !errors.Is(err, stages.ErrSnapshot) {
				t.Fatalf("Restore refused with %v, which does not wrap ErrSnapshot", err)
			}
			after, err := st.Snapshot()
			if err != nil || !bytes.Equal(after, before) {
				t.Fatalf("a refused snapshot changed the state (%v):\nbefore %s\nafter  %s", err, before, after)
			}
			return
		}
		s1, err := st.Snapshot()
		if err != nil {
			t.Fatalf("accepted %q, but its state does not snapshot: %v", b, err)
		}
		again := fresh()
		if err := again.Restore(s1); err != nil {
			t.Fatalf("accepted %q, but its snapshot %s does not restore: %v", b, s1, err)
		}
		s2, err := again.Snapshot()
		if err != nil || !bytes.Equal(s1, s2) {
			t.Fatalf("accepted %q: snapshot → restore → snapshot differs (%v):\n%s\n%s", b, err, s1, s2)
		}
		// The restored stage works: a frame is processed or refused
		// (another lane), never a panic.
		_ = st.Process(context.Background(), cloneFrame(probe))
	})
}

// cloneFrame copies f's records and their results, so each fuzz input
// processes a fresh copy of the probe frame.
func cloneFrame(f *stages.Frame) *stages.Frame {
	c := *f
	c.Records = make([]stages.Record, len(f.Records))
	for i, r := range f.Records {
		if r.Result != nil {
			res := *r.Result
			res.Trace = append([]schemas.Crumb(nil), r.Result.Trace...)
			r.Result = &res
		}
		r.Scores = nil
		c.Records[i] = r
	}
	c.Events, c.Traces, c.Actions = nil, nil, nil
	return &c
}

func FuzzDriftRestore(f *testing.F) {
	fuzzRestore(f, func() stages.Stateful {
		d, err := stages.NewDrift(stages.DriftWindow(3))
		if err != nil {
			f.Fatal(err)
		}
		return d
	}, func() []*stages.Frame {
		var fs []*stages.Frame
		for seq := range 4 {
			var ms []*schemas.MatrizMessage
			for i := range 4 {
				n := seq*5 + i
				ms = append(ms, stages.FxMsg(n, stages.FxID(seq%2), "trend", schemas.Payload{
					"intent": stages.FxRotated(0, 3), "action": stages.FxRotated(0.2*float64(n), 3),
				}))
			}
			fs = append(fs, stages.FxFrame(schemas.LaneProd, 0, int64(seq), ms...))
		}
		return fs
	})
}

func FuzzFoldGuardRestore(f *testing.F) {
	fuzzRestore(f, func() stages.Stateful {
		g, err := stages.NewFoldGuard(stages.FoldBudget(20))
		if err != nil {
			f.Fatal(err)
		}
		return g
	}, func() []*stages.Frame {
		var fs []*stages.Frame
		for seq, writes := range []int{3, 6, 3, 6} {
			var ms []*schemas.MatrizMessage
			for i := range writes {
				n := seq*10 + i
				ms = append(ms, stages.FxMsg(n, stages.FxID(i%3), "memory", schemas.Payload{"fanout": int64(i + 2), "depth": int64(i)}))
			}
			fs = append(fs, stages.FxFrame(schemas.LaneProd, 1, int64(seq*40), ms...))
		}
		return fs
	})
}

func FuzzBreakthroughRestore(f *testing.F) {
	fuzzRestore(f, func() stages.Stateful {
		b, err := stages.NewBreakthrough(stages.BreakthroughCUSUM(0.1, 2), stages.BreakthroughMinSamples(5))
		if err != nil {
			f.Fatal(err)
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
					v = 5
				}
				ms = append(ms, stages.FxMsg(n, stages.FxID(i), "creative", schemas.Payload{"novelty": v, "value": v}))
			}
			fs = append(fs, stages.FxFrame(schemas.LaneProd, 2, int64(seq), ms...))
		}
		return fs
	})
}

func FuzzGuardianRestore(f *testing.F) {
	fuzzRestore(f, func() stages.Stateful {
		half := stages.ApprovalFunc(func(id string) bool { return id[0] < '8' })
		g, err := stages.NewGuardian(schemas.LaneProd, stages.GuardianApprovals(half), stages.GuardianApprovalTTL(time.Hour))
		if err != nil {
			f.Fatal(err)
		}
		return g
	}, func() []*stages.Frame {
		var fs []*stages.Frame
		for seq := range 4 {
			var ms []*schemas.MatrizMessage
			for i := range 8 {
				n := seq*10 + i
				p := schemas.Payload{"risk": (float64(i) + 0.5) / 10}
				if i%2 == 0 {
					p["action_kind"] = "notify"
					p["priority"] = []string{"P0", "P1", "P2", "P3"}[(i/2)%4]
					p["n"], p["v"], p["to"], p["urgent"], p["none"] = int64(n), []float64{0.5, -1}, []string{"ops"}, i == 0, nil
				}
				m := stages.FxMsg(n, stages.FxID(i), "trend", p)
				m.Glyph.Tags = map[string]string{"consent": "granted", "purpose": "care"}
				ms = append(ms, m)
			}
			f := stages.FxFrame(schemas.LaneProd, 0, int64(seq), ms...)
			f.Flags.ExtActions = seq%2 == 0
			fs = append(fs, f)
		}
		return fs
	})
}

func FuzzLearnRestore(f *testing.F) {
	fuzzRestore(f, func() stages.Stateful {
		l, err := stages.NewLearn(stages.LearnWindow(4))
		if err != nil {
			f.Fatal(err)
		}
		return l
	}, learnFrames)
}

func FuzzGoalsRestore(f *testing.F) {
	fuzzRestore(f, func() stages.Stateful {
		g, err := stages.NewGoals(stages.GoalsMaxGoals(8), stages.GoalsMaxDepth(3))
		if err != nil {
			f.Fatal(err)
		}
		return g
	}, goalsFrames)
}
