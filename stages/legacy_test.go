package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// checkLegacyRestore restores testdata/legacy/<stage>.json, a format-1
// snapshot, into restored, runs all but the last of frames() through twin,
// and checks that both hold the same state; then, after between, that the
// last frame gives, through restored, what the format-1 code emitted for it.
func checkLegacyRestore(t *testing.T, stage string, restored, twin Stateful, frames func() []*Frame, between func()) {
	t.Helper()
	legacy, err := os.ReadFile("testdata/legacy/" + stage + ".json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/legacy/" + stage + ".next.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.Restore(bytes.TrimSpace(legacy)); err != nil {
		t.Fatalf("restore of the legacy snapshot: %v", err)
	}
	fs := frames()
	for _, f := range fs[:len(fs)-1] {
		if err := twin.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	got, err := restored.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ran, _ := twin.Snapshot()
	if !bytes.Equal(got, ran) {
		t.Fatalf("state restored from the legacy snapshot:\n%s\nstate of an instance that ran the frames:\n%s", got, ran)
	}
	between()
	last := frames()[len(fs)-1]
	if err := restored.Process(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(legacyOutputs(last), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(out, '\n'), want) {
		t.Fatalf("the frame after the restore emitted\n%s\nthe format-1 code emitted\n%s", out, want)
	}
}

// The frames behind testdata/legacy: the code that wrote the bare format-1
// snapshots ran all but the last frame on partition 3 of a stage with its
// defaults (fold-guard: FoldBudget(8); breakthrough: BreakthroughCUSUM(0.1,
// 50)) and wrote what Snapshot returned to <stage>.json; it then ran the
// last frame (the guardian with its second waiting action approved) and
// wrote what that frame emitted to <stage>.next.json. The guardian's
// previews have since gained their params_hash, added to that file by hand.

func legacyDriftFrames() []*Frame {
	var fs []*Frame
	for seq := range int64(7) {
		var ms []*schemas.MatrizMessage
		for i := range 4 {
			n := int(seq)*4 + i
			p := schemas.Payload{"intent": fxRotated(0, 3), "action": fxRotated(0.15*float64(n%7)+0.1*float64(i), 3)}
			if i == 1 {
				p["constraint_satisfaction"] = 0.25 * float64(seq%4)
			}
			ms = append(ms, fxMsg(n, fxID(i%3), "trend", p))
		}
		fs = append(fs, fxFrame(schemas.LaneProd, 3, seq, ms...))
	}
	return fs
}

func legacyFoldFrames() []*Frame {
	return []*Frame{
		fxFrame(schemas.LaneCandidate, 3, 0, fxMsg(1, "g", "memory", schemas.Payload{"fanout": int64(3)}), fxMsg(2, "g", "memory", schemas.Payload{"fanout": int64(2)})),
		fxFrame(schemas.LaneCandidate, 3, 1, fxMsg(3, "g", "memory", schemas.Payload{"fanout": int64(8)}), fxMsg(4, "g", "memory", nil)),
		fxFrame(schemas.LaneCandidate, 3, 40, fxMsg(5, "g", "memory", schemas.Payload{"fanout": int64(5), "depth": int64(2)}), fxMsg(6, "g", "memory", schemas.Payload{"fanout": int64(4)})),
	}
}

func legacyBreakFrames() []*Frame {
	var fs []*Frame
	for seq := range int64(11) {
		var ms []*schemas.MatrizMessage
		for i := range 10 {
			n := int(seq)*10 + i
			v := math.Mod(float64(n)*0.618, 1)
			ms = append(ms, fxMsg(n, fxID(n%11), "creative", schemas.Payload{"novelty": v, "value": 1 - v/2}))
		}
		fs = append(fs, fxFrame(schemas.LaneExperimental, 3, seq, ms...))
	}
	return fs
}

func legacyGuardFrames() []*Frame {
	p := schemas.Payload{"action_kind": "wire", "amount": 12.5, "n": int64(3), "ok": true, "v": []float64{1, math.Inf(1)}, "to": []string{"x"}, "none": nil}
	m1 := gMsg(1, "trend", p)
	m2 := gMsg(2, "action", schemas.Payload{"priority": "P0", "risk": 0.3, "explanation_link": "https://docs/x"})
	m2.Glyph.Tags["provenance"] = "import:crm"
	f := fxFrame(schemas.LaneProd, 3, 0, m1, m2, gMsg(3, "trend", nil))
	f.Flags.ExtActions = true
	next := fxFrame(schemas.LaneProd, 3, 1, gMsg(4, "action", schemas.Payload{"priority": "P2"}))
	next.Flags.ExtActions = true
	return []*Frame{f, next}
}

// legacyOutput is what a frame emitted, in the form the .next.json files
// hold.
type legacyOutput struct {
	Records []legacyRecord
	Events  []schemas.Event
	Traces  []schemas.Trace
	Actions []schemas.Event
}

type legacyRecord struct {
	Result  *schemas.MatrizResult
	Scores  map[string]float64
	Verdict *Verdict
}

func legacyOutputs(f *Frame) legacyOutput {
	out := legacyOutput{Events: f.Events, Traces: f.Traces, Actions: f.Actions}
	for _, r := range f.Records {
		out.Records = append(out.Records, legacyRecord{Result: r.Result, Scores: r.Scores, Verdict: r.Verdict})
	}
	return out
}
