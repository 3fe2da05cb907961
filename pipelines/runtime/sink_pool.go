package runtime

import (
	"context"

	"github.com/matriz/pipelines/topics"
)

// DefaultLaneSinks is how many Sinks a lane writes through.
//
// A Sink writes one batch at a time and waits for every partition of it
// before it starts the next, so with a single Sink the lane's outputs had
// one batch in flight: in matriz bench's chain phase, writes of ~3,300
// records took ~30 ms on the embedded broker, about 26k inputs/s at four
// records per input. BenchmarkLaneChain (60,000 messages, 6 partitions,
// interleaved runs): 1 Sink 35.5k-39.3k msgs/s, 3 Sinks 39.9k-41.2k, 6
// Sinks 39.3k-39.4k.
const DefaultLaneSinks = 3

// laneSinkBatch and laneSinkBatchBytes size each of a lane's Sinks'
// batches: with three Sinks, three batches are collected and three are in
// flight, so each is smaller than a lone Sink's default (5,000 records, 4
// MiB) to hold the lane's outputs in memory to about what one Sink held.
const (
	laneSinkBatch      = 2000
	laneSinkBatchBytes = 2 << 20
)

// sinkPool is a lane's Sinks. A partition always writes through the same
// one (partition mod the pool's size), so its outputs keep the order the
// single Sink gave them: its decisions written ahead of the outputs made
// under them (topics.Message.Ahead), a frame's outputs before the next
// frame's, its checkpoints after the outputs they cover. Partitions are
// independent of each other, so two of them need no order between their
// Sinks.
type sinkPool struct {
	sinks []*topics.Sink
	gates []*sinkGate // the partitions' ways into sinks (sinkgate.go)
}

// newSinkPool makes n Sinks writing to brokers with opts, each batching
// laneSinkBatch records or laneSinkBatchBytes; if one fails, those made
// are closed and the error returned.
func newSinkPool(ctx context.Context, n int, brokers []string, opts ...topics.SinkOption) (*sinkPool, error) {
	opts = append([]topics.SinkOption{topics.SinkBatchSize(laneSinkBatch), topics.SinkBatchBytes(laneSinkBatchBytes)}, opts...)
	p := &sinkPool{}
	for range max(n, 1) {
		s, err := topics.NewSink(ctx, brokers, opts...)
		if err != nil {
			p.close()
			return nil, err
		}
		p.sinks = append(p.sinks, s)
		p.gates = append(p.gates, newSinkGate(s.In()))
	}
	return p, nil
}

func (p *sinkPool) index(partition int32) int { return int(partition) % len(p.sinks) }

// of returns partition's Sink.
func (p *sinkPool) of(partition int32) *topics.Sink { return p.sinks[p.index(partition)] }

// send hands e to partition's Sink through its gate; false once closing.
func (p *sinkPool) send(partition int32, e any) bool { return p.gates[p.index(partition)].send(e) }

// maxRecord is the largest record any of the Sinks writes.
func (p *sinkPool) maxRecord() int { return p.sinks[0].MaxRecord() }

// close closes every gate, then waits until every Sink has written or
// failed what it received.
func (p *sinkPool) close() {
	for _, g := range p.gates {
		g.close()
	}
	for _, s := range p.sinks {
		s.AwaitCompletion()
	}
}

// endRetryWindow ends every Sink's outage window (topics.Sink.EndRetryWindow).
func (p *sinkPool) endRetryWindow() {
	for _, s := range p.sinks {
		s.EndRetryWindow()
	}
}

// abort stops every Sink at once (topics.Sink.Abort).
func (p *sinkPool) abort() {
	for _, s := range p.sinks {
		s.Abort()
	}
}
