package stagetest

import (
	"math"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

func TestEqualTreatsNaNAsEqualAndStillSeesChanges(t *testing.T) {
	ts := time.Unix(1700000000, 0).UTC()
	a := schemas.MatrizMessage{MsgID: "m", TS: ts, Payload: schemas.Payload{"x": math.NaN(), "v": []float64{1, math.NaN()}}}
	b := deepCopyMessage(a)
	if !equal(a, b) {
		t.Fatal("a copy holding NaN compares unequal")
	}
	cases := map[string]func(m *schemas.MatrizMessage){
		"payload value":   func(m *schemas.MatrizMessage) { m.Payload["x"] = 1.0 },
		"vector element":  func(m *schemas.MatrizMessage) { m.Payload["v"].([]float64)[0] = 2 },
		"added key":       func(m *schemas.MatrizMessage) { m.Payload["y"] = "new" },
		"time":            func(m *schemas.MatrizMessage) { m.TS = m.TS.Add(time.Microsecond) },
		"tags become set": func(m *schemas.MatrizMessage) { m.Glyph.Tags = map[string]string{} },
	}
	for name, mutate := range cases {
		c := deepCopyMessage(a)
		mutate(&c)
		if equal(a, c) {
			t.Errorf("%s: change not seen", name)
		}
	}
}
