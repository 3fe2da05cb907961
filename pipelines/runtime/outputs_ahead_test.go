package runtime

import (
	"testing"
)

// TestFrameDecisionsGoAheadOfTheirOutputs: encode hands a frame's
// decisions (a watermark and a decimation in identityFrame) to the Sink
// before its result, events, trace, action and DLQ record, marked Ahead so
// the Sink has them durable before it writes the rest; nothing else is
// marked, and the others keep their order.
func TestFrameDecisionsGoAheadOfTheirOutputs(t *testing.T) {
	fl := newInflight()
	o := newOutputs("prod", "", laneIDs{result: 11, event: 12, trace: 13, action: 14}, fl, func(err error) { t.Error(err) })
	f, _, _ := identityFrame(t, fl)
	out := o.encode(f)
	if len(out) != 7 {
		t.Fatalf("%d outputs, want 7", len(out))
	}
	var kinds, rest []string
	for i, m := range out {
		d := string(m.Header(HeaderDecision))
		if m.Ahead != (d != "") {
			t.Errorf("output %d (%s %s): Ahead %v, decision %q", i, m.Topic, m.Header(HeaderOutputID), m.Ahead, d)
		}
		if d != "" {
			if len(rest) > 0 {
				t.Errorf("decision %s at %d, after %v", d, i, rest)
			}
			kinds = append(kinds, d)
		} else {
			rest = append(rest, m.Topic)
		}
	}
	if len(kinds) != 2 || kinds[0] != "watermark" || kinds[1] != "decimation" {
		t.Errorf("decisions %v, want [watermark decimation] in the frame's order", kinds)
	}
	want := []string{"matriz.prod.results", "matriz.prod.dlq", "matriz.prod.events", "matriz.prod.traces", "matriz.prod.actions"}
	if len(rest) != len(want) {
		t.Fatalf("other outputs %v, want %v", rest, want)
	}
	for i := range want {
		if rest[i] != want[i] {
			t.Fatalf("other outputs %v, want %v", rest, want)
		}
	}
}
