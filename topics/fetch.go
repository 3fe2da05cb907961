package topics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
)

// fetchLoop emits r's records into out, each with an Ack tracked by tr,
// until ctx ends or the reader closes. A fetch error goes to onFail and is
// retried after a backoff (100 ms doubling to 2 s). onSent, when set,
// runs after each record is emitted, with the record as fetched. A record
// fetched but not emitted when ctx ends is abandoned: never committed, so
// redelivered.
func fetchLoop(ctx context.Context, r *kafka.Reader, tr *tracker, out chan<- any, cl clock.Clock, onAckErr, onFail func(error), onSent func(kafka.Message)) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for {
		km, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			onFail(err)
			if !clock.Sleep(ctx, cl, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		ack := tr.track(km.Topic, int32(km.Partition), km.Offset, onAckErr)
		select {
		case out <- fromKafka(km, ack):
		case <-ctx.Done():
			ack.abandon()
			return
		}
		if onSent != nil {
			onSent(km)
		}
	}
}
