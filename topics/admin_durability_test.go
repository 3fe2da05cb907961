package topics

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestEnsureReportsOnlyWeakerDurabilityAsDiffering: on a three-broker
// cluster, a topic with fewer replicas or a lower min.insync.replicas than
// the spec differs (acks=all promises less); one with more is stronger and
// exists.
func TestEnsureReportsOnlyWeakerDurabilityAsDiffering(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := NewAdmin(c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := a.BrokerCount(ctx); err != nil || n != 3 {
		t.Fatalf("BrokerCount = %d, %v; want 3", n, err)
	}
	spec := func(name string, rf int, minISR string) Spec {
		return Spec{Name: name, Partitions: 2, ReplicationFactor: rf, Configs: map[string]string{ConfigMinInsyncReplicas: minISR}}
	}
	outs, err := a.Ensure(ctx, []Spec{spec("weak", 1, "1"), spec("strong", 3, "2")}, false)
	if err != nil || outs[0].Status != StatusCreated || outs[1].Status != StatusCreated {
		t.Fatalf("create: %v %+v", err, outs)
	}
	outs, err = a.Ensure(ctx, []Spec{spec("weak", 3, "2"), spec("strong", 1, "1")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Status != StatusDiffers || !strings.Contains(outs[0].Detail, "replication 1 want 3") || !strings.Contains(outs[0].Detail, "min.insync.replicas 1 want 2") {
		t.Fatalf("weaker topic: %+v, want differs on replication and min.insync.replicas", outs[0])
	}
	if outs[1].Status != StatusExists {
		t.Fatalf("stronger topic: %+v, want exists", outs[1])
	}
}

func TestFewerInsync(t *testing.T) {
	for _, c := range []struct {
		got    string
		set    bool
		want   string
		weaker bool
		have   string
	}{
		{"", false, "1", false, "1"}, // unset is Kafka's default, 1
		{"", false, "2", true, "1"},
		{"2", true, "2", false, "2"},
		{"3", true, "2", false, "3"},
		{"1", true, "2", true, "1"},
		{"x", true, "2", true, "x"},
	} {
		w, h := fewerInsync(c.got, c.set, c.want)
		if w != c.weaker || h != c.have {
			t.Errorf("fewerInsync(%q, %v, %q) = %v, %q; want %v, %q", c.got, c.set, c.want, w, h, c.weaker, c.have)
		}
	}
}
