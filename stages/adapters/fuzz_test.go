package adapters_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

// FuzzNodes takes a node's golden input, overwrites one payload key with an
// arbitrary value of an arbitrary union branch, and checks the contract:
// no panic, no NaN or Inf out, a reason when not OK, the input unchanged,
// the same result twice. `go test` runs the seeds; run it longer with
//
//	go test ./stages/adapters/ -run '^$' -fuzz FuzzNodes -fuzztime 30s
func FuzzNodes(f *testing.F) {
	nodes := adapters.All()
	base := make([]schemas.MatrizMessage, len(nodes))
	for i, n := range nodes {
		cs := goldenCases(f)
		for _, c := range cs {
			if c.node == n.Name() {
				base[i] = loadMessage(f, c.input)
				break
			}
		}
	}
	f.Add(uint8(0), uint8(0), uint8(3), math.NaN(), "", int64(0))
	f.Add(uint8(1), uint8(7), uint8(4), 0.0, "urgent", int64(0))
	f.Add(uint8(2), uint8(8), uint8(6), 0.0, "biometric", int64(0))
	f.Add(uint8(3), uint8(11), uint8(5), math.Inf(1), "", int64(3))
	f.Add(uint8(4), uint8(13), uint8(6), 0.0, "9", int64(0))
	f.Add(uint8(5), uint8(17), uint8(5), 1e300, "", int64(-1))
	f.Add(uint8(6), uint8(22), uint8(3), -1.0, "", int64(0))
	f.Add(uint8(7), uint8(6), uint8(2), 0.0, "", int64(99))
	f.Add(uint8(8), uint8(28), uint8(4), 0.0, "ABC", int64(0))
	f.Add(uint8(9), uint8(29), uint8(7), 0.0, "", int64(0))
	f.Add(uint8(10), uint8(35), uint8(6), 0.0, "done", int64(0))
	f.Add(uint8(10), uint8(33), uint8(5), 0.5, "", int64(2))
	f.Fuzz(func(t *testing.T, node, key, kind uint8, x float64, s string, n int64) {
		i := int(node) % len(nodes)
		msg := base[i]
		msg.Payload = msg.Payload.Clone()
		if msg.Payload == nil {
			msg.Payload = schemas.Payload{}
		}
		var v any
		switch kind % 8 {
		case 0:
			v = nil
		case 1:
			v = x > 0
		case 2:
			v = n
		case 3:
			v = x
		case 4:
			v = s
		case 5:
			v = []float64{x, float64(n), x / 2}
		case 6:
			v = []string{s}
		case 7:
			v = []string{}
		}
		msg.Payload[payloadKeys[int(key)%len(payloadKeys)]] = v
		before := fmt.Sprintf("%#v", msg)
		r1 := handle(t, nodes[i], &msg)
		if after := fmt.Sprintf("%#v", msg); after != before {
			t.Fatalf("%s mutated its input", nodes[i].Name())
		}
		r2, err := nodes[i].Handle(context.Background(), &msg)
		if err != nil || !reflect.DeepEqual(r1, r2) {
			t.Fatalf("%s is not deterministic: %v\n%+v\n%+v", nodes[i].Name(), err, r1, r2)
		}
		if _, err := schemas.AppendEncode(nil, &r1); err != nil {
			t.Fatalf("%s: result does not encode: %v", nodes[i].Name(), err)
		}
	})
}
