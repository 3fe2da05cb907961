package ops_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// as makes the process's Kafka security the SCRAM user name.
func as(t *testing.T, name, password string) {
	t.Helper()
	if err := topics.UseSecurity(topics.Security{Mechanism: topics.SASLScramSHA256, User: name, Password: password}); err != nil {
		t.Fatal(err)
	}
}

// write writes one record to topic and returns what the broker answered.
func write(t *testing.T, brokers []string, topic string) error {
	t.Helper()
	return writeAll(t, brokers, []string{topic})[topic]
}

// writeAll writes one record to each topic through one sink and returns
// what the broker answered for each.
func writeAll(t *testing.T, brokers []string, names []string) map[string]error {
	t.Helper()
	sink, err := topics.NewSink(t.Context(), brokers, topics.SinkRetryFor(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]*topics.Ack, len(names))
	for i, n := range names {
		acks[i] = topics.NewAck()
		sink.In() <- topics.Message{Topic: n, Key: []byte("k"), Value: []byte("v"), Ack: acks[i]}
	}
	close(sink.In())
	sink.AwaitCompletion()
	out := make(map[string]error, len(names))
	for i, n := range names {
		out[n] = acks[i].Err()
	}
	return out
}

// aclBroker starts a broker that enforces SASL and ACLs for users (the
// first a superuser, as whom the process then connects), creates lanes'
// topics with the given partitions and grants LaneACLs for them. The
// process's security is put back when the test ends.
func aclBroker(t *testing.T, users []topics.BrokerUser, lanes []schemas.Lane, partitions int) ([]string, *topics.Admin, []topics.ACL) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: a broker with SASL and ACLs (skipped with -short)")
	}
	t.Cleanup(func() { topics.UseSecurity(topics.Security{}) })
	as(t, users[0].Name, users[0].Password)
	b, err := topics.StartBroker(topics.BrokerUsers(users))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	admin, err := topics.NewAdmin(b.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	specs := topics.SharedSpecs()
	for _, l := range lanes {
		ls, err := topics.LaneSpecs(string(l), partitions)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, ls...)
	}
	if _, err := admin.Ensure(t.Context(), specs, false); err != nil {
		t.Fatal(err)
	}
	plan := ops.LaneACLs(lanes, nil, nil)
	outs, err := admin.EnsureACLs(t.Context(), plan, false)
	if err != nil || len(outs) != len(plan) {
		t.Fatalf("deploy --acls: %d outcomes for %d bindings, %v", len(outs), len(plan), err)
	}
	for _, o := range outs {
		if o.Status != topics.StatusCreated {
			t.Fatalf("deploy --acls: %+v", o)
		}
	}
	return b.Addrs(), admin, plan
}

// TestLaneACLsIsolateTheLanes: on a broker that enforces SASL and ACLs,
// deploy's bindings let prod's principal write its outputs and nothing of
// candidate's, keep matriz.control to the operator and approvals to the
// approver; a second deploy finds them all, and a grant beyond the plan
// is reported.
func TestLaneACLsIsolateTheLanes(t *testing.T) {
	users := []topics.BrokerUser{
		{Mechanism: topics.SASLScramSHA256, Name: "admin", Password: "pw-admin", Super: true},
		{Mechanism: topics.SASLScramSHA256, Name: "matriz-prod", Password: "pw-prod"},
		{Mechanism: topics.SASLScramSHA256, Name: "approver", Password: "pw-appr"},
		{Mechanism: topics.SASLScramSHA256, Name: "operator", Password: "pw-op"},
	}
	brokers, admin, plan := aclBroker(t, users, []schemas.Lane{schemas.LaneCandidate, schemas.LaneProd}, 2)

	as(t, "matriz-prod", "pw-prod")
	if err := write(t, brokers, "matriz.prod.results"); err != nil {
		t.Fatalf("prod's principal writing its results: %v", err)
	}
	for _, topic := range []string{topics.ControlTopic, "matriz.prod.approvals"} {
		if err := write(t, brokers, topic); err == nil || !strings.Contains(err.Error(), "Authorization") {
			t.Errorf("prod's principal writing %s: %v, want refused", topic, err)
		}
	}
	// Another lane's topics are not even visible to it: the write finds
	// no such topic.
	if err := write(t, brokers, "matriz.candidate.results"); err == nil {
		t.Error("prod's principal wrote candidate's results")
	}
	var denied *topics.AuthorizationError
	if err := topics.CheckTopics(t.Context(), brokers, []string{"matriz.candidate.messages"}); !errors.As(err, &denied) || !strings.Contains(err.Error(), "User:matriz-prod") {
		t.Errorf("prod's principal describing candidate's messages: %v, want refused naming User:matriz-prod", err)
	}
	if err := ops.SetFlag(t.Context(), brokers, schemas.LaneProd, "DISPATCH_ENABLED", true); err == nil {
		t.Error("prod's principal set a flag on matriz.control")
	}

	as(t, "operator", "pw-op")
	if err := ops.SetFlag(t.Context(), brokers, schemas.LaneProd, "DISPATCH_ENABLED", true); err != nil {
		t.Errorf("the operator setting a flag: %v", err)
	}
	if err := write(t, brokers, "matriz.prod.approvals"); err == nil {
		t.Error("the operator wrote an approval")
	}
	as(t, "approver", "pw-appr")
	if err := write(t, brokers, "matriz.prod.approvals"); err != nil {
		t.Errorf("the approver writing an approval: %v", err)
	}

	// A second deploy finds every binding; a grant beyond the plan differs.
	as(t, "admin", "pw-admin")
	extra := topics.ACL{Principal: ops.LanePrincipal(schemas.LaneProd), Resource: topics.ResourceTopic, Name: topics.ControlTopic, Operation: topics.OpWrite}
	if _, err := admin.EnsureACLs(t.Context(), []topics.ACL{extra}, false); err != nil {
		t.Fatal(err)
	}
	outs, err := admin.EnsureACLs(t.Context(), plan, false)
	if err != nil {
		t.Fatal(err)
	}
	var exists, differs []string
	for _, o := range outs {
		switch o.Status {
		case topics.StatusExists:
			exists = append(exists, o.Topic)
		case topics.StatusDiffers:
			differs = append(differs, o.Topic)
		default:
			t.Errorf("second deploy: %+v", o)
		}
	}
	if len(exists) != len(plan) || len(differs) != 1 || differs[0] != "acl "+extra.String() {
		t.Fatalf("second deploy: %d exist of %d, differs %v; want the stray grant %s", len(exists), len(plan), differs, extra)
	}
	t.Logf("%d bindings for 2 lanes; prod's principal refused on control, approvals and candidate; the stray grant reported", len(plan))
}

// TestEveryLanePrincipalIsDeniedEveryOtherLanesTopics: with all three
// lanes' bindings, each lane's principal writes its own outputs, and every
// write to another lane's topics (each kind), to its own approvals and
// messages, and to matriz.control is refused.
func TestEveryLanePrincipalIsDeniedEveryOtherLanesTopics(t *testing.T) {
	users := []topics.BrokerUser{{Mechanism: topics.SASLScramSHA256, Name: "admin", Password: "pw-admin", Super: true}}
	for _, l := range schemas.Lanes {
		users = append(users, topics.BrokerUser{Mechanism: topics.SASLScramSHA256, Name: "matriz-" + string(l), Password: "pw-" + string(l)})
	}
	brokers, _, _ := aclBroker(t, users, schemas.Lanes, 1)
	own := map[topics.Kind]bool{topics.KindResults: true, topics.KindEvents: true, topics.KindTraces: true, topics.KindActions: true,
		topics.KindDLQ: true, topics.KindState: true, topics.KindCheckpoints: true}
	denied, allowed := 0, 0
	for _, l := range schemas.Lanes {
		as(t, "matriz-"+string(l), "pw-"+string(l))
		names := []string{topics.ControlTopic}
		for _, m := range schemas.Lanes {
			for _, k := range topics.Kinds() {
				names = append(names, topics.Name(string(m), k))
			}
		}
		for n, err := range writeAll(t, brokers, names) {
			mayWrite := false
			for k := range own {
				mayWrite = mayWrite || n == topics.Name(string(l), k)
			}
			switch {
			case mayWrite && err != nil:
				t.Errorf("%s writing its own %s: %v", l, n, err)
			case !mayWrite && err == nil:
				t.Errorf("%s wrote %s", l, n)
			case mayWrite:
				allowed++
			default:
				denied++
			}
		}
	}
	if want := len(schemas.Lanes) * (1 + len(schemas.Lanes)*len(topics.Kinds()) - len(own)); denied != want {
		t.Fatalf("%d writes denied, want %d", denied, want)
	}
	t.Logf("%d lane × topic writes denied (every other lane's topics, its own messages and approvals, matriz.control), %d allowed (each lane's own outputs)", denied, allowed)
}
