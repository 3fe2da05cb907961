package runtime

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// BenchmarkRestartScans: a prod lane's event log of 300,000 records (the
// events of 50,000 inputs per partition over 6 partitions), read at a lane
// start for every partition's recorded decisions: per partition, each
// reading the whole log (as every start did before restartScans), and
// once for all six. It reports records read per second of start.
func BenchmarkRestartScans(b *testing.B) {
	const partitions, perPartition = 6, 50_000
	env := pipetest.Start(b, schemas.LaneProd)
	lane := string(schemas.LaneProd)
	recs := make([]topics.Message, 0, partitions*perPartition)
	value := make([]byte, 200)
	for i := range partitions * perPartition {
		p := int32(i % partitions)
		recs = append(recs, topics.Message{Key: []byte(strconv.Itoa(i)), Value: value, Time: time.Now(),
			Headers: []topics.Header{{Key: HeaderSrcPartition, Value: []byte(strconv.Itoa(int(p)))}, {Key: HeaderSrcOffset, Value: []byte(strconv.Itoa(i / partitions))}}})
	}
	env.Write(b, topics.Name(lane, topics.KindEvents), recs)
	noDecode := func([]byte, *schemas.Event) error { return nil }
	load := func(asks map[int32]scanAsk) {
		got, err := loadDecisions(context.Background(), clock.Real{}, env.Brokers, topics.Name(lane, topics.KindEvents), asks, noDecode, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		for p := range asks {
			if got[p].Reached != perPartition-1 {
				b.Fatalf("partition %d reached %d, want %d", p, got[p].Reached, perPartition-1)
			}
		}
	}
	b.Run("per-partition", func(b *testing.B) {
		for range b.N {
			var wg sync.WaitGroup
			for p := range int32(partitions) {
				wg.Go(func() { load(map[int32]scanAsk{p: {until: perPartition}}) })
			}
			wg.Wait()
		}
		b.ReportMetric(float64(b.N*partitions*perPartition)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("shared", func(b *testing.B) {
		for range b.N {
			asks := map[int32]scanAsk{}
			for p := range int32(partitions) {
				asks[p] = scanAsk{until: perPartition}
			}
			load(asks)
		}
		b.ReportMetric(float64(b.N*partitions*perPartition)/b.Elapsed().Seconds(), "records/s")
	})
}
