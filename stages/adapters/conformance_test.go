package adapters_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
	"github.com/matriz/pipelines/stages/stagetest"
)

// payloadKeys are the keys any node reads; hostile messages set all of them
// to one wrong value.
var payloadKeys = []string{
	"load", "energy", "temperature", "stress", "intent", "action", "risk", "priority",
	"purpose", "data_categories", "data_origin", "salience", "labels", "improve", "worsen",
	"parameters", "deltas", "features", "centroid", "centroid_n", "target", "value",
	"valence", "arousal", "drift", "constraint_satisfaction", "fanout", "depth",
	"subject_sid", "links", "goal", "subgoals", "values", "risks", "status", "next_status",
}

// hostile returns messages every node must refuse or handle without a
// panic: an empty payload, and payloads whose every key holds the same
// wrong value. withNaN adds payloads with NaN, which RunNode cannot take
// (NaN != NaN, so its deep-equal mutation check would always fail);
// TestHostileInputs covers those.
func hostile(withNaN bool) []schemas.MatrizMessage {
	fill := func(v func() any) schemas.Payload {
		p := schemas.Payload{}
		for _, k := range payloadKeys {
			p[k] = v()
		}
		return p
	}
	payloads := []schemas.Payload{
		nil,
		{},
		fill(func() any { return math.Inf(-1) }),
		fill(func() any { return "x" }),
		fill(func() any { return nil }),
		fill(func() any { return []float64{} }),
		fill(func() any { return []string{} }),
		fill(func() any { return []float64{1, math.Inf(1)} }),
		fill(func() any { return []string{""} }),
		fill(func() any { return int64(-1) }),
		fill(func() any { return true }),
		fill(func() any { return 1e300 }),
		fill(func() any { return []float64{1e300, -1e300} }),
	}
	if withNaN {
		payloads = append(payloads,
			fill(func() any { return math.NaN() }),
			fill(func() any { return []float64{1, math.NaN()} }))
	}
	out := make([]schemas.MatrizMessage, len(payloads))
	for i, p := range payloads {
		out[i] = schemas.MatrizMessage{
			MsgID:   fmt.Sprintf("00000000-0000-4000-8000-%012x", i),
			TS:      time.Date(2026, 3, 1, 12, 0, 0, i*1000, time.UTC),
			Lane:    schemas.LaneExperimental,
			Glyph:   schemas.Glyph{ID: "glyph-hostile", Kind: "intent", Version: "1", Tags: map[string]string{"purpose": "x", "subject_sid": "nope"}},
			Payload: p,
			Topic:   "hostile",
		}
	}
	return out
}

// conformance runs the Node Contract suite over the node's golden inputs
// and the hostile messages.
func conformance(t *testing.T, newNode func() stages.Node) {
	name := newNode().Name()
	stagetest.RunNode(t, newNode, func() []schemas.MatrizMessage {
		var msgs []schemas.MatrizMessage
		paths, err := filepath.Glob(filepath.Join(goldenDir, name, "*.input.json"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no golden inputs for %s: %v", name, err)
		}
		for _, p := range paths {
			msgs = append(msgs, loadMessage(t, p))
		}
		return append(msgs, hostile(false)...)
	})
}

func TestConformanceBio(t *testing.T) {
	conformance(t, func() stages.Node { return adapters.Bio{} })
}

func TestConformanceBridge(t *testing.T) {
	conformance(t, func() stages.Node { return adapters.Bridge{} })
}

func TestConformanceCompliance(t *testing.T) {
	conformance(t, func() stages.Node { return adapters.Compliance{} })
}

func TestConformanceConsciousness(t *testing.T) {
	conformance(t, func() stages.Node { return must(adapters.NewConsciousness())(t) })
}

func TestConformanceContradiction(t *testing.T) {
	conformance(t, func() stages.Node { return must(adapters.NewContradiction())(t) })
}

func TestConformanceCreative(t *testing.T) {
	conformance(t, func() stages.Node { return must(adapters.NewCreative())(t) })
}

func TestConformanceEmotion(t *testing.T) {
	conformance(t, func() stages.Node { return must(adapters.NewEmotion())(t) })
}

func TestConformanceGovernance(t *testing.T) {
	conformance(t, func() stages.Node { return must(adapters.NewGovernance())(t) })
}

func TestConformanceIdentity(t *testing.T) {
	conformance(t, func() stages.Node { return adapters.Identity{} })
}

func TestConformanceMemory(t *testing.T) {
	conformance(t, func() stages.Node { return adapters.Memory{} })
}

func TestConformanceOrchestration(t *testing.T) {
	conformance(t, func() stages.Node { return adapters.Orchestration{} })
}

// must turns a constructor's (node, error) into a function that fails the
// test on error.
func must[T stages.Node](n T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}
