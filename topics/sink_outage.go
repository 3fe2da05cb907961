package topics

// How a Sink tells a broker outage, which it rides out for its retry
// window (SinkRetryFor), from a failure retrying cannot cure.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// ErrSinkAborted is the error the Acks of a Sink's unwritten records get
// after Abort: they were never acknowledged, so their offsets do not
// commit and the next owner redoes them.
var ErrSinkAborted = errors.New("sink aborted before the records were acknowledged")

// RetryingError tells the error hook that a Sink is riding out a broker
// outage: Records records are still being retried, Since when the first
// attempt failed. It is a report, not a failure; the records fail (with a
// *WriteError) only once the retry window is over.
type RetryingError struct {
	Topics   []string // of the records being retried
	Records  int
	Attempts int
	Since    time.Duration // how long the batch has been failing
	Window   time.Duration // SinkRetryFor
	Err      error         // the last failure
}

func (e *RetryingError) Error() string {
	return fmt.Sprintf("broker unavailable: %d records to %s not yet written after %d attempts over %v, retrying for up to %v: %v",
		e.Records, strings.Join(e.Topics, ","), e.Attempts, e.Since.Round(time.Millisecond), e.Window, e.Err)
}

// Unwrap exposes the last failure.
func (e *RetryingError) Unwrap() error { return e.Err }

// outage reports whether err is what a broker restart or a leadership
// move looks like to a writer, worth retrying for the whole window: the
// connection refused, reset or cut, a timeout, or Kafka saying there is
// no leader (yet). A record too large, an unknown topic, an authorization
// or a protocol error stays what it is however long one waits.
func outage(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrSinkAborted) {
		return false
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.LeaderNotAvailable, kafka.NotLeaderForPartition, kafka.RequestTimedOut,
			kafka.NetworkException, kafka.NotEnoughReplicas, kafka.NotEnoughReplicasAfterAppend,
			kafka.BrokerNotAvailable, kafka.ReplicaNotAvailable, kafka.KafkaStorageError,
			kafka.NotController, kafka.FencedLeaderEpoch, kafka.UnknownLeaderEpoch,
			kafka.PreferredLeaderNotAvailable, kafka.EligibleLeadersNotAvailable:
			return true
		}
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) // a dial or a read that failed on the network
}
