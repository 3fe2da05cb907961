package stagetest

import (
	"reflect"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestDeepCopyMessageKeepsEmptySlices guards the "inputs not mutated"
// check against false alarms: a copy of a message must be deep-equal to it,
// empty and nil slices included, and share no slice with it.
func TestDeepCopyMessageKeepsEmptySlices(t *testing.T) {
	m := schemas.MatrizMessage{
		MsgID: "m1",
		Glyph: schemas.Glyph{ID: "g", Tags: map[string]string{}},
		Payload: schemas.Payload{
			"empty_vec": []float64{}, "nil_vec": []float64(nil), "vec": []float64{1, 2},
			"empty_strs": []string{}, "strs": []string{"a"}, "n": int64(3),
		},
	}
	c := deepCopyMessage(m)
	if !reflect.DeepEqual(c, m) {
		t.Fatalf("copy differs from the original:\n%#v\n%#v", c, m)
	}
	c.Payload["vec"].([]float64)[0] = 9
	c.Payload["strs"].([]string)[0] = "z"
	c.Glyph.Tags["k"] = "v"
	if m.Payload["vec"].([]float64)[0] != 1 || m.Payload["strs"].([]string)[0] != "a" || len(m.Glyph.Tags) != 0 {
		t.Fatalf("copy shares memory with the original: %#v", m)
	}
	if deepCopyMessage(schemas.MatrizMessage{}).Payload != nil {
		t.Fatal("nil payload cloned to non-nil")
	}
}
