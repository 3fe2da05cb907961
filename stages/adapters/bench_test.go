package adapters_test

import (
	"context"
	"testing"

	"github.com/matriz/pipelines/schemas"

	"github.com/matriz/pipelines/stages/adapters"
)

// BenchmarkHandle measures one Handle per node on the node's golden inputs
// (OK and refused cases, in turn): ns/op and allocs/op per message. msgs/s
// is the single-core throughput.
//
//	go test ./stages/adapters/ -run '^$' -bench Handle -benchmem
func BenchmarkHandle(b *testing.B) {
	cases := goldenCases(b)
	for _, n := range adapters.All() {
		var msgs []*schemas.MatrizMessage
		for _, c := range cases {
			if c.node == n.Name() {
				m := loadMessage(b, c.input)
				msgs = append(msgs, &m)
			}
		}
		b.Run(n.Name(), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := n.Handle(ctx, msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
