package pipelines

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// ProducerConfig configures the built-in synthetic producer of one lane.
type ProducerConfig struct {
	Lane  schemas.Lane
	Rate  int // messages per second
	Seed  uint64
	Serde *Serde
	Sink  *topics.Sink
	Clock clock.Clock
	// Next makes the n-th message at event time ts; nil uses Synthetic.
	Next func(ts time.Time) schemas.MatrizMessage
}

// producerTick is how often the producer wakes to emit its share of the
// rate: often enough for a smooth stream, rarely enough to stay cheap.
const producerTick = 10 * time.Millisecond

// RunProducer writes valid MatrizMessages in the wire format to the lane's
// messages topic at cfg.Rate per second until ctx ends. Key = glyph.id.
func RunProducer(ctx context.Context, cfg ProducerConfig) error {
	lane := string(cfg.Lane)
	topic := topics.Name(lane, topics.KindMessages)
	id, err := cfg.Serde.ID(ValueSubject(topic))
	if err != nil {
		return err
	}
	next := cfg.Next
	if next == nil {
		next = NewSynthetic(cfg.Lane, cfg.Seed, 64).Next
	}
	if cfg.Rate <= 0 {
		return fmt.Errorf("producer rate %d, want > 0", cfg.Rate)
	}
	tk := cfg.Clock.NewTicker(producerTick)
	defer tk.Stop()
	start := cfg.Clock.Now()
	sent := int64(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tk.C():
			due := int64(now.Sub(start).Seconds() * float64(cfg.Rate))
			for ; sent < due; sent++ {
				msg := next(now)
				val, err := schemas.AppendWire(nil, id, &msg)
				if err != nil {
					return fmt.Errorf("producer: %w", err)
				}
				select {
				case cfg.Sink.In() <- topics.Message{Topic: topic, Key: []byte(msg.Glyph.ID), Value: val}:
				case <-ctx.Done():
					return nil
				}
			}
		}
	}
}
