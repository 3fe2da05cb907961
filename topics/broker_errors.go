package topics

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// The broker settings that bound a consumer group's session timeout.
const (
	ConfigMinSessionTimeout = "group.min.session.timeout.ms"
	ConfigMaxSessionTimeout = "group.max.session.timeout.ms"
)

// SessionTimeoutError is a session timeout the broker refuses
// (INVALID_SESSION_TIMEOUT): retrying cannot help, the setting must change.
// Min and Max are the broker's allowed range, zero when it could not be
// read.
type SessionTimeoutError struct {
	Requested time.Duration
	Min, Max  time.Duration
	Err       error // the broker's answer, or why the range could not be read
}

func (e *SessionTimeoutError) Error() string {
	return fmt.Sprintf("session timeout %v %s", e.Requested, e.Outside())
}

// Outside says how the timeout is wrong and what to do, without naming
// the setting, for a caller that names it its own way (a flag).
func (e *SessionTimeoutError) Outside() string {
	if e.Min > 0 && e.Max > 0 {
		return fmt.Sprintf("is outside the broker's allowed range %v..%v (%s..%s); pick a value inside it",
			e.Min, e.Max, ConfigMinSessionTimeout, ConfigMaxSessionTimeout)
	}
	return fmt.Sprintf("is outside the broker's allowed range, its %s..%s (which could not be read: %v); pick a value inside it",
		ConfigMinSessionTimeout, ConfigMaxSessionTimeout, e.Err)
}

func (e *SessionTimeoutError) Unwrap() error { return e.Err }

// MissingTopicsError is topics a component needs that the cluster does not
// have.
type MissingTopicsError struct {
	Topics []string
}

func (e *MissingTopicsError) Error() string {
	return fmt.Sprintf("topics %s do not exist", strings.Join(e.Topics, ", "))
}

// Unwrap makes errors.Is(err, kafka.UnknownTopicOrPartition) hold.
func (e *MissingTopicsError) Unwrap() error { return kafka.UnknownTopicOrPartition }

// AuthorizationError is the broker refusing this client an operation on a
// resource. matriz connects without SASL, so the broker sees the client as
// User:ANONYMOUS.
type AuthorizationError struct {
	Resource string // "topic", "group" or "cluster"
	Names    []string
	Err      error // the broker's error code
}

func (e *AuthorizationError) Error() string {
	what := e.Resource
	if len(e.Names) > 0 {
		what += " " + strings.Join(e.Names, ", ")
	}
	if sec := CurrentSecurity(); sec.Mechanism != "" {
		return fmt.Sprintf("the broker refuses access to %s (%v): matriz connects as principal User:%s; grant it ACLs for the %s (matriz deploy --acls grants each lane's) or connect as a principal that has them (--sasl-user)",
			what, e.Err, sec.User, e.Resource)
	}
	return fmt.Sprintf("the broker refuses access to %s (%v): matriz connects without SASL, as principal User:ANONYMOUS; grant it ACLs for the %s or open the listener",
		what, e.Err, e.Resource)
}

func (e *AuthorizationError) Unwrap() error { return e.Err }

// authorizationResource names what an authorization error code is about;
// "" when the code is not one.
func authorizationResource(err error) string {
	switch {
	case errors.Is(err, kafka.TopicAuthorizationFailed):
		return "topic"
	case errors.Is(err, kafka.GroupAuthorizationFailed):
		return "group"
	case errors.Is(err, kafka.ClusterAuthorizationFailed), errors.Is(err, kafka.SASLAuthenticationFailed):
		return "cluster"
	}
	return ""
}
