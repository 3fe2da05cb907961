package topics

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// preflightTimeout bounds each startup check: a broker slower than this
// to answer metadata is reported by the join itself.
const preflightTimeout = 5 * time.Second

// preflightClient is a kafka-go client on a transport of its own, closed
// with the returned func, so a check leaves no connection behind.
func preflightClient(brokers []string) (*kafka.Client, func()) {
	tr := SecureTransport(&kafka.Transport{DialTimeout: defaultDialTimeout})
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: preflightTimeout, Transport: tr}, tr.CloseIdleConnections
}

// CheckTopics returns nil when every one of names exists and this client
// may describe it; a *MissingTopicsError naming the ones that do not
// exist, or an *AuthorizationError naming the ones it may not see. Any
// other failure to ask is returned as is: the caller decides whether a
// check it could not make stops it.
func CheckTopics(ctx context.Context, brokers []string, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	var errs map[string]int16
	var err error
	for _, addr := range brokers {
		if errs, err = topicErrors(ctx, addr, names); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("read topic metadata: %w", err)
	}
	var missing, denied []string
	var deniedErr error
	for _, n := range names {
		code, seen := errs[n]
		switch e := kafka.Error(code); {
		case !seen || e == kafka.UnknownTopicOrPartition:
			missing = append(missing, n)
		case authorizationResource(e) != "":
			denied, deniedErr = append(denied, n), e
		}
	}
	switch {
	case len(denied) > 0:
		slices.Sort(denied)
		return &AuthorizationError{Resource: "topic", Names: denied, Err: deniedErr}
	case len(missing) > 0:
		slices.Sort(missing)
		return &MissingTopicsError{Topics: missing}
	}
	return nil
}

// topicErrors asks the broker at addr for the metadata of names and
// returns each topic's error code. It speaks the request itself: kafka-go's
// Client answers metadata from a cache of the all-topics listing, in which
// a topic the client may not describe is simply absent (indistinguishable
// from a missing one), and its Conn asks the broker to auto-create what it
// names. Version 4 is the first that can say not to.
func topicErrors(ctx context.Context, addr string, names []string) (map[string]int16, error) {
	conn, err := dialSecure(ctx, addr, defaultDialTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 4
	req.AllowAutoTopicCreation = false
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	const correlation = 1
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("matriz-preflight")).AppendRequest(nil, req, correlation)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 16<<20 {
		return nil, fmt.Errorf("metadata response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != correlation {
		return nil, fmt.Errorf("metadata response to request %d, want %d", got, correlation)
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = req.Version
	if err := resp.ReadFrom(body[4:]); err != nil {
		return nil, fmt.Errorf("metadata response: %w", err)
	}
	out := make(map[string]int16, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic != nil {
			out[*t.Topic] = t.ErrorCode
		}
	}
	return out, nil
}

// SessionTimeoutRange reads the broker's allowed consumer-group session
// timeouts (group.min/max.session.timeout.ms) by DescribeConfigs on the
// controller's broker resource.
func SessionTimeoutRange(ctx context.Context, brokers []string) (lo, hi time.Duration, err error) {
	cl, done := preflightClient(brokers)
	defer done()
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return 0, 0, fmt.Errorf("read cluster metadata: %w", err)
	}
	node := md.Controller.ID
	if len(md.Brokers) > 0 && !slices.ContainsFunc(md.Brokers, func(b kafka.Broker) bool { return b.ID == node }) {
		node = md.Brokers[0].ID
	}
	resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeBroker, ResourceName: strconv.Itoa(node),
		ConfigNames: []string{ConfigMinSessionTimeout, ConfigMaxSessionTimeout},
	}}})
	if err != nil {
		return 0, 0, fmt.Errorf("describe broker %d configs: %w", node, err)
	}
	ms := map[string]time.Duration{}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return 0, 0, fmt.Errorf("describe broker %d configs: %w", node, r.Error)
		}
		for _, c := range r.ConfigEntries {
			if n, err := strconv.ParseInt(c.ConfigValue, 10, 64); err == nil && n > 0 {
				ms[c.ConfigName] = time.Duration(n) * time.Millisecond
			}
		}
	}
	lo, hi = ms[ConfigMinSessionTimeout], ms[ConfigMaxSessionTimeout]
	if lo == 0 || hi == 0 {
		return 0, 0, fmt.Errorf("broker %d does not report %s and %s", node, ConfigMinSessionTimeout, ConfigMaxSessionTimeout)
	}
	return lo, hi, nil
}

// checkSessionTimeout refuses a session timeout outside the broker's
// allowed range before the group joins; a range it cannot read lets the
// join find out (and Run reports it then).
func checkSessionTimeout(ctx context.Context, brokers []string, d time.Duration) error {
	lo, hi, err := SessionTimeoutRange(ctx, brokers)
	if err != nil || (d >= lo && d <= hi) {
		return nil
	}
	return &SessionTimeoutError{Requested: d, Min: lo, Max: hi, Err: kafka.InvalidSessionTimeout}
}

// sessionTimeoutError is the broker's refusal of d during a join, with the
// allowed range when it can be read.
func sessionTimeoutError(ctx context.Context, brokers []string, d time.Duration, joinErr error) *SessionTimeoutError {
	lo, hi, err := SessionTimeoutRange(ctx, brokers)
	if err != nil {
		return &SessionTimeoutError{Requested: d, Err: fmt.Errorf("%w; %w", joinErr, err)}
	}
	return &SessionTimeoutError{Requested: d, Min: lo, Max: hi, Err: joinErr}
}
