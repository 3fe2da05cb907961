package topics

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; every error this package returns wraps one of them or is
// one of the typed errors below, so callers test with errors.Is / errors.As.
var (
	// ErrUnknownLane: a lane other than experimental, candidate or prod.
	ErrUnknownLane = errors.New("unknown lane")
	// ErrInvalidSpec: a topic spec that Kafka would refuse or that breaks
	// the stream/table distinction.
	ErrInvalidSpec = errors.New("invalid topic spec")
	// ErrInvalidConfig: an option of Admin, Broker, Source, Sink or
	// CompactedLog out of range; reported before any kafka-go constructor
	// (which would panic).
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrBrokerUnreachable: no bootstrap address accepted a connection.
	ErrBrokerUnreachable = errors.New("kafka broker unreachable")
	// ErrListen: the embedded broker could not bind its address.
	ErrListen = errors.New("cannot listen")
	// ErrDataDirInUse: another embedded broker holds the data dir.
	ErrDataDirInUse = errors.New("data dir in use")
	// ErrNotMessage: a Sink received an element that is not a Message.
	ErrNotMessage = errors.New("element is not a topics.Message")
	// ErrNoTopic: a Sink received a Message with an empty Topic.
	ErrNoTopic = errors.New("message has no topic")
	// ErrClosed: the Source, Sink or CompactedLog was closed.
	ErrClosed = errors.New("closed")
	// ErrNotCompactedLog: a CompactedLog's topic exists but has more than
	// one partition or is not compacted, so it would reorder or lose
	// records.
	ErrNotCompactedLog = errors.New("not a compacted single-partition topic")
)

// SpecError says which field of which topic spec is wrong and why.
type SpecError struct {
	Topic  string
	Field  string
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("topic %q: %s: %s", e.Topic, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidSpec) hold.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// ConfigError names the option that is out of range and what is allowed.
type ConfigError struct {
	Component string // "admin", "broker", "source", "sink", "compacted log", …
	Option    string
	Reason    string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Component, e.Option, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// BrokerUnreachableError is returned when none of Addrs accepted a TCP
// connection within the dial timeout. Its message names the addresses, the
// dial errors and what to do next.
type BrokerUnreachableError struct {
	Addrs []string
	Errs  []error // one per address, same order
}

func (e *BrokerUnreachableError) Error() string {
	parts := make([]string, len(e.Addrs))
	for i, a := range e.Addrs {
		if i < len(e.Errs) && e.Errs[i] != nil {
			parts[i] = fmt.Sprintf("%s (%v)", a, e.Errs[i])
		} else {
			parts[i] = a
		}
	}
	return "cannot reach Kafka at " + strings.Join(parts, ", ") +
		": start one with `matriz broker` or pass --brokers"
}

// Unwrap makes errors.Is(err, ErrBrokerUnreachable) hold and exposes the
// dial errors.
func (e *BrokerUnreachableError) Unwrap() []error {
	return append([]error{ErrBrokerUnreachable}, e.Errs...)
}

// ListenError is returned by StartBroker when its address cannot be bound.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("cannot listen on %s (%v): stop the process using it or pass --listen with another address (port 0 picks a free one)", e.Addr, e.Err)
}

// Unwrap exposes ErrListen and the bind error (e.g. syscall.EADDRINUSE).
func (e *ListenError) Unwrap() []error { return []error{ErrListen, e.Err} }

// TopicError is one topic that Ensure or NewCompactedLog could not create,
// describe or use.
type TopicError struct {
	Topic string
	Err   error
}

func (e *TopicError) Error() string { return fmt.Sprintf("topic %q: %v", e.Topic, e.Err) }

// Unwrap exposes the cause: a Kafka error (e.g. kafka.PolicyViolation) or
// ErrNotCompactedLog.
func (e *TopicError) Unwrap() error { return e.Err }
