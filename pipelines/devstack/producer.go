package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// ProducerConfig configures the built-in producer of one lane.
type ProducerConfig struct {
	Lane  schemas.Lane
	Rate  int // steps per second (one background message each)
	Seed  uint64
	Serde *serde.Serde
	Sink  *topics.Sink
	Clock clock.Clock
	// Next makes the n-th message at event time ts.
	Next func(ts time.Time) schemas.MatrizMessage
	// Records makes one step's records at event time ts (a scripted burst,
	// deliberately corrupt records). With neither Next nor Records the
	// producer runs the built-in Scenario seeded with Seed.
	Records func(ts time.Time) []ScenarioRecord
}

// producerTick is how often the producer wakes to emit its share of the
// rate: often enough for a smooth stream, rarely enough to stay cheap.
const producerTick = 10 * time.Millisecond

// RunProducer writes MatrizMessages in the wire format to the lane's
// messages topic at cfg.Rate steps per second until ctx ends. Key =
// glyph.id. A step is one message, or with Records the step's records: the
// scenario's scripted records ride on top of the rate.
func RunProducer(ctx context.Context, cfg ProducerConfig) error {
	lane := string(cfg.Lane)
	topic := topics.Name(lane, topics.KindMessages)
	id, err := cfg.Serde.ID(serde.ValueSubject(topic))
	if err != nil {
		return err
	}
	step := cfg.Records
	if next := cfg.Next; step == nil && next != nil {
		step = func(ts time.Time) []ScenarioRecord { return []ScenarioRecord{{Msg: next(ts)}} }
	}
	if step == nil {
		sc, err := NewScenario(cfg.Lane, ScenarioSeed(cfg.Seed))
		if err != nil {
			return err
		}
		step = sc.Next
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
				for _, rec := range step(now) {
					val, err := rec.Wire(id)
					if err != nil {
						return fmt.Errorf("producer: %w", err)
					}
					select {
					case cfg.Sink.In() <- topics.Message{Topic: topic, Key: rec.Key(), Value: val}:
					case <-ctx.Done():
						return nil
					}
				}
			}
		}
	}
}
