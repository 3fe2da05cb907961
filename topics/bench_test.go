package topics

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time: broker, client and
// benchmark together. On a shared machine wall-clock msgs/s swings with
// other load; CPU per op is the steadier figure for comparing settings.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportThroughput adds msgs/s (wall clock) and cpu-ms/op to b's results.
func reportThroughput(b *testing.B, cpuStart time.Duration) {
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpuStart).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// Throughput on the embedded broker: 100k records of 200-byte values over
// 6 partitions, one op = all 100k. Run with
//
//	go test ./topics -run '^$' -bench . -benchtime 3x
//
// msgs/s is the figure to read. The sub-benchmarks compare the chosen
// defaults with kafka-go's own and with the neighbours tried while tuning.
const (
	benchRecords    = 100_000
	benchPartitions = 6
)

func benchMessages(topic string) []Message {
	msgs := make([]Message, benchRecords)
	for i := range msgs {
		m := testRecord(topic, i)
		m.Headers = m.Headers[:1]
		m.Key = fmt.Appendf(nil, "%036d", i) // a glyph id's length
		msgs[i] = m
	}
	return msgs
}

func BenchmarkSink(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []SinkOption
	}{
		{"defaults", nil},
		{"kafka-go-batching/size=100/timeout=1s", []SinkOption{SinkBatchSize(100), SinkBatchTimeout(time.Second), SinkBatchBytes(1 << 20)}},
		{"size=1000", []SinkOption{SinkBatchSize(1000)}},
		{"size=2000", []SinkOption{SinkBatchSize(2000)}},
		{"size=10000", []SinkOption{SinkBatchSize(10000)}},
		{"size=20000/bytes=8MiB", []SinkOption{SinkBatchSize(20000), SinkBatchBytes(8 << 20)}},
		{"bytes=1MiB", []SinkOption{SinkBatchBytes(1 << 20)}},
		{"writer-batch=100", []SinkOption{func(c *sinkConfig) { c.writerBatchSize = 100 }}},
		{"writer-batch=5000", []SinkOption{func(c *sinkConfig) { c.writerBatchSize = 5000 }}},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := newBroker(b)
			addrs := br.Addrs()
			msgs := benchMessages("sink")
			ensureTopics(b, addrs, Spec{Name: "sink", Partitions: benchPartitions, ReplicationFactor: -1,
				Configs: map[string]string{ConfigRetentionMs: "-1"}})
			b.ReportAllocs()
			b.SetBytes(benchRecords * 200)
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				sink, err := NewSink(context.Background(), addrs, c.opts...)
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range msgs {
					sink.In() <- m
				}
				close(sink.In())
				sink.AwaitCompletion()
				if sink.Written() != benchRecords {
					b.Fatalf("written %d: %v", sink.Written(), sink.Err())
				}
			}
			reportThroughput(b, cpu0)
		})
	}
}

func BenchmarkSource(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []SourceOption
	}{
		{"defaults", nil},
		{"kafka-go-defaults", []SourceOption{SourceMaxBytes(1e6), SourceMaxWait(10 * time.Second), SourceQueueCapacity(100)}},
		{"queue=100", []SourceOption{SourceQueueCapacity(100)}},
		{"queue=10000", []SourceOption{SourceQueueCapacity(10000)}},
		{"maxbytes=256KiB", []SourceOption{SourceMaxBytes(256 << 10)}},
		{"maxbytes=10MiB", []SourceOption{SourceMaxBytes(10 << 20)}},
		{"maxwait=100ms", []SourceOption{SourceMaxWait(100 * time.Millisecond)}},
		{"maxwait=2s", []SourceOption{SourceMaxWait(2 * time.Second)}},
		{"minbytes=64KiB", []SourceOption{SourceMinBytes(64 << 10)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := newBroker(b)
			addrs := br.Addrs()
			ensureTopics(b, addrs, streamSpec("src", benchPartitions))
			sink, err := NewSink(context.Background(), addrs)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range benchMessages("src") {
				sink.In() <- m
			}
			close(sink.In())
			sink.AwaitCompletion()
			if sink.Written() != benchRecords {
				b.Fatal(sink.Err())
			}
			b.ReportAllocs()
			b.SetBytes(benchRecords * 200)
			var firstRecord time.Duration
			var fetchErrs atomic.Int64
			var closing time.Duration
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				// A fresh group each op reads the topic from the start;
				// join time is inside the measurement.
				start := time.Now()
				opts := append([]SourceOption{SourceOnError(func(error) { fetchErrs.Add(1) })}, c.opts...)
				src, err := NewSource(context.Background(), addrs, fmt.Sprintf("bench-%d", i), []string{"src"}, opts...)
				if err != nil {
					b.Fatal(err)
				}
				out := src.Out()
				m := (<-out).(Message)
				firstRecord += time.Since(start)
				m.Ack.Done(nil)
				for range benchRecords - 1 {
					(<-out).(Message).Ack.Done(nil)
				}
				b.StopTimer()
				closeStart := time.Now()
				if err := src.Close(); err != nil {
					b.Fatal(err)
				}
				closing += time.Since(closeStart)
				b.StartTimer()
			}
			reportThroughput(b, cpu0)
			b.ReportMetric(float64(fetchErrs.Load())/float64(b.N), "errors/op")
			b.ReportMetric(float64(closing.Milliseconds())/float64(b.N), "close-ms")
			b.ReportMetric(float64(firstRecord.Milliseconds())/float64(b.N), "ms-to-first")
		})
	}
}

// BenchmarkSourceLatency is one record's trip through a caught-up Source:
// produce it (acks=all), then wait for the Source to emit it. It shows what
// MaxWait costs a live pipeline: with MinBytes 1 the broker answers a held
// fetch as soon as a record lands, so a long MaxWait adds no latency, while
// a short one only adds idle fetch round trips (and, under load, read
// timeouts: kafka-go's read deadline is MaxWait, the broker holds the fetch
// for 3/4 of it).
func BenchmarkSourceLatency(b *testing.B) {
	for _, wait := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 10 * time.Second} {
		b.Run("maxwait="+wait.String(), func(b *testing.B) {
			br := newBroker(b)
			addrs := br.Addrs()
			ensureTopics(b, addrs, streamSpec("lat", 1))
			var fetchErrs atomic.Int64
			src, err := NewSource(context.Background(), addrs, "lat", []string{"lat"}, SourceMaxWait(wait),
				SourceOnError(func(error) { fetchErrs.Add(1) }))
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			sink, err := NewSink(context.Background(), addrs, SinkBatchTimeout(time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { close(sink.In()); sink.AwaitCompletion() }()
			send := func(i int) {
				m := testRecord("lat", i)
				sink.In() <- m
				(<-src.Out()).(Message).Ack.Done(nil)
			}
			send(-1) // join the group and catch up before timing
			b.ResetTimer()
			for i := range b.N {
				send(i)
			}
			b.StopTimer() // the deferred Close waits out a held fetch; not latency
			b.ReportMetric(float64(fetchErrs.Load())/float64(b.N), "errors/op")
		})
	}
}
