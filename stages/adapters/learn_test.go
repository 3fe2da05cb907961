package adapters_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

// TestLearnStageFeedsTheCreativeNode: the learn stage, which cannot import
// this package, learns the creative node's ideas by default, and the
// centroid it injects is one the node accepts and measures novelty
// against: an idea the glyph has had before is no longer novel.
func TestLearnStageFeedsTheCreativeNode(t *testing.T) {
	if stages.DefaultLearnNode != adapters.NameCreative {
		t.Fatalf("stages.DefaultLearnNode = %q, want the creative node's name %q", stages.DefaultLearnNode, adapters.NameCreative)
	}
	creative, err := adapters.NewCreative()
	if err != nil {
		t.Fatal(err)
	}
	router, err := stages.NewRouter(stages.RouteTo("idea", creative))
	if err != nil {
		t.Fatal(err)
	}
	adapter, _ := stages.NewAdapter(router)
	learn, _ := stages.NewLearn()
	chain, err := stages.NewChain(router, learn, adapter)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var novelty []float64
	var learned []schemas.Payload
	for i := range 3 {
		m := &schemas.MatrizMessage{MsgID: "00000000-0000-4000-8000-00000000000" + string(rune('1'+i)), TS: start.Add(time.Duration(i) * time.Millisecond),
			Lane: schemas.LaneCandidate, Glyph: schemas.Glyph{ID: "g", Kind: "intent", Version: "1"}, Topic: "idea",
			Payload: schemas.Payload{"features": []float64{0.2, 0.9, 0.1}, "value": 0.8}}
		f := &stages.Frame{Lane: schemas.LaneCandidate, Seq: int64(i), FPS: 30, Start: m.TS, End: m.TS.Add(time.Millisecond),
			Flags: stages.Flags{Dispatch: true, Learning: i < 2}, Records: []stages.Record{{Msg: m}}}
		if err := chain.Run(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		res := f.Records[0].Result
		if res == nil || res.Node != adapters.NameCreative || !res.OK {
			t.Fatalf("idea %d: result %+v, want the creative node's ok answer", i, res)
		}
		n, _ := res.Payload.Float("novelty")
		novelty = append(novelty, n)
		learned = append(learned, crumbData(res, stages.StageLearn))
	}
	if novelty[0] != 1 || novelty[1] > 0.05 || novelty[2] > 0.05 {
		t.Fatalf("novelty of one idea sent three times %v: want 1 with nothing learned, then near 0 against the learned centroid", novelty)
	}
	want := []schemas.Payload{
		{"injected": false, "learned": true, "centroid_n": int64(1)},
		{"injected": true, "learned": true, "centroid_n": int64(2)},
		{"injected": true, "learned": false, "centroid_n": int64(2)}, // learning off: frozen
	}
	if !reflect.DeepEqual(learned, want) {
		t.Fatalf("learn crumbs %v, want %v", learned, want)
	}
}

func crumbData(r *schemas.MatrizResult, stage string) schemas.Payload {
	for _, c := range r.Trace {
		if c.Stage == stage {
			return c.Data
		}
	}
	return nil
}
