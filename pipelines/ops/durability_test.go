package ops

import (
	"errors"
	"strings"
	"testing"

	"github.com/matriz/pipelines/topics"
)

func TestResolveDurability(t *testing.T) {
	for _, c := range []struct {
		brokers, rf, minISR int
		wantRF, wantMin     int
		note                string
	}{
		{3, 0, 0, 3, 2, "acks=all writes go on through the loss of 1 broker(s)"},
		{5, 0, 0, 3, 2, "5 broker(s): replication factor 3, min.insync.replicas 2"},
		{1, 0, 0, 1, 1, "fewer than 3 brokers: fine for development, not for production"},
		{2, 0, 0, 2, 1, "through the loss of 1 broker(s) (fewer than 3"},
		{3, 2, 0, 2, 1, "replication factor 2, min.insync.replicas 1"},
		{3, 3, 3, 3, 3, "through the loss of 0 broker(s)"},
	} {
		d, err := ResolveDurability(c.brokers, c.rf, c.minISR)
		if err != nil || d.ReplicationFactor != c.wantRF || d.MinInsyncReplicas != c.wantMin || !strings.Contains(d.Note, c.note) {
			t.Errorf("ResolveDurability(%d, %d, %d) = %+v, %v; want %d and %d, a note with %q", c.brokers, c.rf, c.minISR, d, err, c.wantRF, c.wantMin, c.note)
		}
	}
	for _, c := range []struct {
		brokers, rf, minISR int
		flag, reason        string
	}{
		{1, 3, 0, "--replication-factor", "3 replicas need 3 brokers; the cluster has 1"},
		{3, 2, 3, "--min-insync-replicas", "3 is more than the 2 replicas"},
		{3, -1, 0, "--replication-factor", "want 1 or more"},
		{3, 0, -2, "--min-insync-replicas", "want 1 or more"},
		{0, 0, 0, "--brokers", "no broker"},
	} {
		_, err := ResolveDurability(c.brokers, c.rf, c.minISR)
		var de *DurabilityError
		if !errors.As(err, &de) || de.Flag != c.flag || !strings.Contains(de.Reason, c.reason) {
			t.Errorf("ResolveDurability(%d, %d, %d): %v; want %s: …%s…", c.brokers, c.rf, c.minISR, err, c.flag, c.reason)
		}
	}
}

func TestDurabilityApplyCopiesConfigs(t *testing.T) {
	shared := map[string]string{topics.ConfigRetentionMs: "1"}
	specs := []topics.Spec{{Name: "a", Configs: shared}, {Name: "b", Configs: shared}, {Name: "c"}}
	Durability{ReplicationFactor: 3, MinInsyncReplicas: 2}.apply(specs)
	for _, s := range specs {
		if s.ReplicationFactor != 3 || s.Configs[topics.ConfigMinInsyncReplicas] != "2" {
			t.Fatalf("spec %+v: want replication 3 and min.insync.replicas 2", s)
		}
	}
	if _, ok := shared[topics.ConfigMinInsyncReplicas]; ok {
		t.Fatal("apply wrote into a configs map the specs share with their source")
	}
}
