package topics

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// NotKafkaError is a --brokers address that accepted a connection but did
// not answer the Kafka protocol: another service's port (the schema
// registry's, say), not a missing topic.
type NotKafkaError struct {
	Addrs []string
	Err   error // the last address's failure
}

func (e *NotKafkaError) Error() string {
	return fmt.Sprintf("brokers %s accepted a connection but did not answer the Kafka protocol (%v): check --brokers names a Kafka listener, not the schema registry or another service",
		strings.Join(e.Addrs, ","), e.Err)
}

// ProbeKafka asks each address for its API versions, the first request
// every Kafka client sends, and returns nil at the first that answers. An
// address that accepts a connection but answers something else is a
// *NotKafkaError; one that refuses the connection is left to the callers'
// own reachability errors, which already name it (nil is returned when
// no address answered at all).
func ProbeKafka(ctx context.Context, addrs []string, timeout time.Duration) error {
	var notKafka []string
	var last error
	for _, a := range addrs {
		d := SecureDialer(&kafka.Dialer{Timeout: timeout})
		conn, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			var op *net.OpError
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isDial(err, &op) {
				continue // unreachable: reported elsewhere
			}
			notKafka, last = append(notKafka, a), err
			continue
		}
		conn.SetDeadline(time.Now().Add(timeout))
		_, err = conn.ApiVersions()
		conn.Close()
		if err == nil {
			return nil
		}
		notKafka, last = append(notKafka, a), err
	}
	if len(notKafka) > 0 {
		return &NotKafkaError{Addrs: notKafka, Err: SecurityHint(last)}
	}
	return nil
}

// isDial reports whether err is a failure to open the TCP connection.
func isDial(err error, op **net.OpError) bool {
	if e, ok := err.(*net.OpError); ok && e.Op == "dial" {
		*op = e
		return true
	}
	return strings.Contains(err.Error(), "connect: connection refused") || strings.Contains(err.Error(), "i/o timeout")
}
