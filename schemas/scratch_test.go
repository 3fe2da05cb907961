package schemas

import (
	"fmt"
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	m := MatrizMessage{MsgID: "6f1c2a3e-0000-4000-8000-000000000001", TS: time.Unix(1700000000, 123000).UTC(), Lane: LaneProd,
		Glyph: Glyph{ID: "6f1c2a3e-0000-4000-8000-000000000002", Kind: "intent", Version: "1", Tags: map[string]string{"consent": "yes"}},
		Payload: Payload{"intent": []float64{1, 2}, "n": int64(3), "s": "x", "nil": nil, "b": true, "d": 0.5, "tags": []string{"a"}}, Topic: "trend"}
	b, err := AppendEncode(nil, &m)
	if err != nil { t.Fatal(err) }
	var out MatrizMessage
	if err := Decode(b, &out); err != nil { t.Fatal(err) }
	fmt.Printf("%d %#v\n", len(b), out)
	r := MatrizResult{ID: "x", MsgID: m.MsgID, Lane: "prod", Trace: []Crumb{{Stage: "a", Data: Payload{"z": []string{"q"}}}}}
	b, err = AppendEncode(nil, &r)
	if err != nil { t.Fatal(err) }
	var ro MatrizResult
	if err := Decode(b, &ro); err != nil { t.Fatal(err) }
	fmt.Printf("%#v\n", ro)
}
