package topics

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNewGroupRefusesSessionTimeoutOutsideBrokerRange: the broker's allowed
// range is read by DescribeConfigs, and a timeout outside it is refused
// before the join with the range and the two broker settings named.
func TestNewGroupRefusesSessionTimeoutOutsideBrokerRange(t *testing.T) {
	b := newBroker(t)
	lo, hi, err := SessionTimeoutRange(context.Background(), b.Addrs())
	if err != nil || lo != 6*time.Second || hi != 5*time.Minute {
		t.Fatalf("range %v..%v, %v; want the embedded broker's 6s..5m0s", lo, hi, err)
	}
	ensureTopics(t, b.Addrs(), streamSpec("in", 2))
	for _, d := range []time.Duration{3 * time.Second, 6 * time.Minute} {
		_, err := NewGroup(context.Background(), b.Addrs(), "g", []string{"in"},
			GroupSessionTimeout(d), GroupHeartbeat(d/10))
		var se *SessionTimeoutError
		if !errors.As(err, &se) || se.Requested != d || se.Min != lo || se.Max != hi || !errors.Is(err, kafka.InvalidSessionTimeout) {
			t.Fatalf("session timeout %v: err %v, want a *SessionTimeoutError with the range", d, err)
		}
		want := "session timeout " + d.String() + " is outside the broker's allowed range 6s..5m0s (group.min.session.timeout.ms..group.max.session.timeout.ms); pick a value inside it"
		if err.Error() != want {
			t.Fatalf("message %q, want %q", err, want)
		}
	}
	g, err := NewGroup(context.Background(), b.Addrs(), "g", []string{"in"}, GroupSessionTimeout(6*time.Second))
	if err != nil {
		t.Fatalf("6s, inside the range: %v", err)
	}
	g.Close()
}

// TestGroupRunStopsOnJoinTheBrokerRefusesForGood: a join refused with an
// invalid session timeout, or an authorization failure, stops Run with a
// typed error instead of retrying; a transient refusal is retried.
func TestGroupRunStopsOnJoinTheBrokerRefusesForGood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  int16
		check func(t *testing.T, err error)
	}{
		{"invalid session timeout", int16(kafka.InvalidSessionTimeout), func(t *testing.T, err error) {
			var se *SessionTimeoutError
			if !errors.As(err, &se) || se.Min != 6*time.Second || se.Max != 5*time.Minute || se.Requested != 10*time.Second {
				t.Fatalf("err %v, want a *SessionTimeoutError with the broker's range", err)
			}
		}},
		{"group authorization", int16(kafka.GroupAuthorizationFailed), func(t *testing.T, err error) {
			var ae *AuthorizationError
			if !errors.As(err, &ae) || ae.Resource != "group" || !slices.Equal(ae.Names, []string{"g"}) ||
				!strings.Contains(err.Error(), "User:ANONYMOUS") || !errors.Is(err, kafka.GroupAuthorizationFailed) {
				t.Fatalf("err %v, want an *AuthorizationError naming group g and the principal", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t)
			ensureTopics(t, b.Addrs(), streamSpec("in", 2))
			b.cluster.ControlKey(int16(kmsg.JoinGroup), func(kr kmsg.Request) (kmsg.Response, error, bool) {
				b.cluster.KeepControl()
				resp := kr.(*kmsg.JoinGroupRequest).ResponseKind().(*kmsg.JoinGroupResponse)
				resp.ErrorCode = tc.code
				return resp, nil, true
			})
			var reported []error
			g, err := NewGroup(context.Background(), b.Addrs(), "g", []string{"in"},
				GroupOnError(func(e error) { reported = append(reported, e) }))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			err = g.Run(ctx, func(context.Context, Claim) { t.Error("a partition was handed out") })
			if ctx.Err() != nil {
				t.Fatal("Run retried until the deadline")
			}
			tc.check(t, err)
			if len(reported) != 0 {
				t.Fatalf("reported as recoverable first: %v", reported)
			}
		})
	}
}

// TestCheckTopicsNamesTheMissingOnes: CheckTopics passes when every topic
// exists and names exactly the missing ones otherwise.
func TestCheckTopicsNamesTheMissingOnes(t *testing.T) {
	b := newBroker(t)
	ensureTopics(t, b.Addrs(), streamSpec("a", 1))
	if err := CheckTopics(context.Background(), b.Addrs(), []string{"a"}); err != nil {
		t.Fatalf("existing topic: %v", err)
	}
	err := CheckTopics(context.Background(), b.Addrs(), []string{"a", "c", "b"})
	var me *MissingTopicsError
	if !errors.As(err, &me) || !slices.Equal(me.Topics, []string{"b", "c"}) || err.Error() != "topics b, c do not exist" {
		t.Fatalf("err %v, want *MissingTopicsError naming b, c", err)
	}
}

// TestCheckTopicsNamesTopicsItMayNotSee: a topic the broker refuses to
// describe to this client is an *AuthorizationError naming the topic and
// the principal the broker sees, not a missing topic.
func TestCheckTopicsNamesTopicsItMayNotSee(t *testing.T) {
	b := newBroker(t)
	ensureTopics(t, b.Addrs(), streamSpec("a", 1), streamSpec("secret", 1))
	b.cluster.ControlKey(int16(kmsg.Metadata), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		req := kr.(*kmsg.MetadataRequest)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		if len(req.Topics) != 1 || req.Topics[0].Topic == nil || *req.Topics[0].Topic != "secret" {
			return nil, nil, false // the broker answers
		}
		for _, rt := range req.Topics {
			st := kmsg.NewMetadataResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, int16(kafka.TopicAuthorizationFailed)
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	if err := CheckTopics(context.Background(), b.Addrs(), []string{"a"}); err != nil {
		t.Fatalf("visible topic: %v", err)
	}
	err := CheckTopics(context.Background(), b.Addrs(), []string{"secret"})
	var ae *AuthorizationError
	if !errors.As(err, &ae) || ae.Resource != "topic" || !slices.Equal(ae.Names, []string{"secret"}) || !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("err %v, want an *AuthorizationError naming topic secret", err)
	}
	want := "the broker refuses access to topic secret ("
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "User:ANONYMOUS") {
		t.Fatalf("message %q, want it to start %q and name the principal", err, want)
	}
}
