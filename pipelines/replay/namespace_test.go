package replay_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func TestValidateNamespaceRefusesWhatKafkaOrTheLayoutWould(t *testing.T) {
	for _, ok := range []string{"run-1", "Nightly_2026", "x"} {
		if err := replay.ValidateNamespace("prod", ok); err != nil {
			t.Errorf("ValidateNamespace(prod, %q): %v", ok, err)
		}
	}
	// matriz.experimental.replay.<name>.results stays within 249 for a
	// name of 249-35 = 214 characters.
	longest := strings.Repeat("n", 249-len("matriz.experimental.replay..results"))
	if err := replay.ValidateNamespace("experimental", longest); err != nil {
		t.Errorf("a name of %d characters: %v", len(longest), err)
	}
	for name, reason := range map[string]string{
		"":            "empty",
		"a.b":         `'.' at 1`,
		"a b":         `' ' at 1`,
		"ü":           "at 0",
		"a/b":         `'/' at 1`,
		longest + "n": "at most 214 characters",
	} {
		err := replay.ValidateNamespace("experimental", name)
		var ne *replay.NamespaceError
		if !errors.As(err, &ne) || !errors.Is(err, replay.ErrBadNamespace) || !strings.Contains(err.Error(), reason) {
			t.Errorf("ValidateNamespace(%q): err = %v, want a NamespaceError with %q", name, err, reason)
		}
	}
	if err := replay.ValidateNamespace("staging", "x"); !errors.Is(err, topics.ErrUnknownLane) {
		t.Errorf("lane staging: err = %v", err)
	}
	if _, err := replay.NamespaceSpecs("prod", "x", 0); !errors.Is(err, replay.ErrBadNamespace) {
		t.Errorf("0 partitions: err = %v", err)
	}
}

func TestNamespaceCreateListRemove(t *testing.T) {
	lane := schemas.LaneExperimental
	l := string(lane)
	env := pipetest.Start(t, lane)
	ctx := context.Background()
	admin, err := topics.NewAdmin(env.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	before, err := admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if err := replay.CreateNamespace(ctx, env.Brokers, l, "run-1", 3); err != nil {
		t.Fatal(err)
	}
	// Again: the namespace is as asked, so it is kept (a replay resumes).
	if err := replay.CreateNamespace(ctx, env.Brokers, l, "run-1", 3); err != nil {
		t.Fatalf("second create: %v", err)
	}
	if err := replay.CreateNamespace(ctx, env.Brokers, l, "run_2", 2); err != nil {
		t.Fatal(err)
	}
	all, err := admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range []string{"actions", "dlq", "events", "results", "traces"} {
		name := "matriz.experimental.replay.run-1." + k
		want = append(want, name)
		if all[name] != 3 {
			t.Errorf("%s: %d partitions, want 3", name, all[name])
		}
	}
	cl := &kafka.Client{Addr: kafka.TCP(env.Brokers...), Timeout: 10 * time.Second}
	dc, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: "matriz.experimental.replay.run-1.events"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{}
	for _, e := range dc.Resources[0].ConfigEntries {
		cfg[e.ConfigName] = e.ConfigValue
	}
	if cfg["retention.ms"] != "604800000" || cfg["cleanup.policy"] != "delete" {
		t.Errorf("replay events topic configs: retention.ms %q cleanup.policy %q, want 604800000 and delete", cfg["retention.ms"], cfg["cleanup.policy"])
	}

	names, err := replay.ListNamespaces(ctx, env.Brokers, l)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"run-1", "run_2"}) {
		t.Fatalf("ListNamespaces = %v, want [run-1 run_2]", names)
	}
	if other, err := replay.ListNamespaces(ctx, env.Brokers, "prod"); err != nil || len(other) != 0 {
		t.Fatalf("ListNamespaces(prod) = %v, %v; want none", other, err)
	}

	removed, err := replay.RemoveNamespace(ctx, env.Brokers, l, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	after, err := admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name := range before { // every live topic is still there
		if _, ok := after[name]; !ok {
			t.Errorf("live topic %s was removed", name)
		}
	}
	for _, name := range want {
		if _, ok := after[name]; ok {
			t.Errorf("%s still exists", name)
		}
	}
	if names, _ := replay.ListNamespaces(ctx, env.Brokers, l); !slices.Equal(names, []string{"run_2"}) {
		t.Errorf("after rm: ListNamespaces = %v, want [run_2]", names)
	}

	_, err = replay.RemoveNamespace(ctx, env.Brokers, l, "run-1")
	var nf *replay.NamespaceNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, replay.ErrNoNamespace) ||
		!strings.Contains(err.Error(), "no replay run-1 on lane experimental") || !strings.Contains(err.Error(), "run_2") {
		t.Fatalf("second rm: err = %v", err)
	}
	if _, err := replay.RemoveNamespace(ctx, env.Brokers, l, "a.b"); !errors.Is(err, replay.ErrBadNamespace) {
		t.Fatalf("rm a.b: err = %v", err)
	}
}

func TestCreateNamespaceRefusesOneLaidOutOtherwise(t *testing.T) {
	lane := schemas.LaneCandidate
	env := pipetest.Start(t)
	ctx := context.Background()
	admin, err := topics.NewAdmin(env.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	events := topics.ReplayName(string(lane), "old", topics.KindEvents)
	if _, err := admin.Ensure(ctx, []topics.Spec{{Name: events, Partitions: 1, ReplicationFactor: topics.ReplicationByCluster}}, false); err != nil {
		t.Fatal(err)
	}
	err = replay.CreateNamespace(ctx, env.Brokers, string(lane), "old", 3)
	var de *replay.NamespaceDiffersError
	if !errors.As(err, &de) || de.Topic != events || !strings.Contains(de.Detail, "partitions 1 want 3") ||
		!strings.Contains(err.Error(), "matriz replay rm old --lane candidate") {
		t.Fatalf("err = %v, want a NamespaceDiffersError on %s", err, events)
	}
	// Refused before anything was created.
	all, err := admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all[topics.ReplayName(string(lane), "old", topics.KindResults)]; ok {
		t.Fatal("the refused create made the results topic")
	}
}
