package bench

// The codec goal, measured in the bench run itself so --check sees it: a
// MatrizMessage decode + MatrizResult encode round trip over a message
// and a result taken from the chain phase's topics (the real shapes, not
// a fixture), buffers and records reused as the runtime reuses them.
// `go test -bench RoundTrip ./schemas/` is the codec's own measure; this
// one runs in the bench's process beside the idle embedded broker.

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// firstValue returns the value of the first record of topic's first
// non-empty partition.
func firstValue(ctx context.Context, brokers []string, topic string) ([]byte, error) {
	starts, err := replay.ResolvePositions(ctx, brokers, topic, replay.Position{Kind: replay.PositionStart})
	if err != nil {
		return nil, err
	}
	ends, err := replay.ResolvePositions(ctx, brokers, topic, replay.Position{Kind: replay.PositionEnd})
	if err != nil {
		return nil, err
	}
	for p := range int32(len(ends)) {
		if ends[p] <= starts[p] {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: slices.Clone(brokers), Topic: topic, Partition: int(p), MaxWait: 50 * time.Millisecond, Dialer: topics.NewDialer()})
		defer r.Close()
		if err := r.SetOffset(starts[p]); err != nil {
			return nil, err
		}
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		return m.Value, nil
	}
	return nil, fmt.Errorf("%s: no records", topic)
}

// codecRoundTrip decodes msgWire's body into a MatrizMessage and encodes
// the result resWire holds, over and over for at least d; it returns the
// time and the allocations per round trip.
func codecRoundTrip(msgWire, resWire []byte, cl clock.Clock, d time.Duration) (time.Duration, float64, error) {
	_, msgBody, err := schemas.ParseWire(msgWire)
	if err != nil {
		return 0, 0, fmt.Errorf("message: %w", err)
	}
	_, resBody, err := schemas.ParseWire(resWire)
	if err != nil {
		return 0, 0, fmt.Errorf("result: %w", err)
	}
	var res schemas.MatrizResult
	if err := schemas.Decode(resBody, &res); err != nil {
		return 0, 0, fmt.Errorf("result: %w", err)
	}
	var m schemas.MatrizMessage
	buf := make([]byte, 0, 2*len(resBody))
	once := func() error {
		if err := schemas.Decode(msgBody, &m); err != nil {
			return err
		}
		buf, err = schemas.AppendEncode(buf[:0], &res)
		return err
	}
	if err := once(); err != nil { // warm: buffers at size
		return 0, 0, err
	}
	const chunk = 1000
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := cl.Now()
	ops := 0
	for {
		for range chunk {
			if err := once(); err != nil {
				return 0, 0, err
			}
		}
		ops += chunk
		if took := cl.Now().Sub(start); took >= d {
			runtime.ReadMemStats(&ms1)
			return took / time.Duration(ops), float64(ms1.Mallocs-ms0.Mallocs) / float64(ops), nil
		}
	}
}
