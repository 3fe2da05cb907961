package topics

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// defaultDialTimeout bounds every TCP dial this package makes: long enough
// for a cross-zone handshake, short enough that a wrong --brokers fails the
// command in seconds instead of hanging.
const defaultDialTimeout = 3 * time.Second

// checkAddrs validates bootstrap addresses as host:port before anything
// dials them.
func checkAddrs(component string, addrs []string) error {
	if len(addrs) == 0 {
		return &ConfigError{Component: component, Option: "brokers", Reason: "empty, want at least one host:port"}
	}
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil || host == "" {
			return &ConfigError{Component: component, Option: "brokers", Reason: fmt.Sprintf("%q is not host:port", a)}
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return &ConfigError{Component: component, Option: "brokers", Reason: fmt.Sprintf("%q: port %q, want 1..65535", a, port)}
		}
	}
	return nil
}

// Reachable returns nil once one of brokers accepts a TCP connection, a
// *BrokerUnreachableError naming each address when none does, or a
// *ConfigError for an address that is not host:port: the check to make
// before a request whose client would retry an absent broker for long
// (a metadata request, a write).
func Reachable(ctx context.Context, brokers []string) error {
	if err := checkAddrs("brokers", brokers); err != nil {
		return err
	}
	return reachable(ctx, brokers, defaultDialTimeout)
}

// reachable dials each address in turn with a bounded timeout and returns
// nil at the first that answers, or a *BrokerUnreachableError naming every
// address and why it failed. kafka-go's own clients retry an unreachable
// bootstrap forever inside their goroutines; this turns a typo in --brokers
// into one actionable line instead.
func reachable(ctx context.Context, addrs []string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	errs := make([]error, len(addrs))
	for i, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			return c.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs[i] = err
	}
	return &BrokerUnreachableError{Addrs: addrs, Errs: errs}
}
