package ops

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	"github.com/matriz/pipelines/topics"
)

// The durability a production deploy asks for when the cluster can give
// it: three replicas, two of which must have a record before acks=all is
// answered, so one broker can fail without losing an acknowledged write
// or stopping writes.
const (
	ProductionReplicas   = 3
	ProductionMinInsync  = 2
	productionBrokersMin = ProductionReplicas
)

// Durability is what a deploy asks of every topic: replicas and
// min.insync.replicas, and what that means on this cluster.
type Durability struct {
	Brokers           int
	ReplicationFactor int
	MinInsyncReplicas int
	// Note says what acks=all survives with these settings, and why they
	// are what they are.
	Note string
}

// DurabilityError is a replication setting the cluster cannot give.
type DurabilityError struct{ Flag, Reason string }

func (e *DurabilityError) Error() string { return e.Flag + ": " + e.Reason }

// ResolveDurability picks the replication factor and min.insync.replicas:
// the ones asked for (0: automatic), checked against the cluster's
// brokers. Automatic is 3 and 2 on three or more brokers; on fewer, every
// broker and 1, which the note says survives no broker loss.
func ResolveDurability(brokers, replicas, minInsync int) (Durability, error) {
	d := Durability{Brokers: brokers, ReplicationFactor: replicas, MinInsyncReplicas: minInsync}
	switch {
	case replicas < 0:
		return d, &DurabilityError{"--replication-factor", fmt.Sprintf("%d, want 1 or more (0: automatic)", replicas)}
	case minInsync < 0:
		return d, &DurabilityError{"--min-insync-replicas", fmt.Sprintf("%d, want 1 or more (0: automatic)", minInsync)}
	case brokers < 1:
		return d, &DurabilityError{"--brokers", "the cluster lists no broker"}
	}
	if d.ReplicationFactor == 0 {
		d.ReplicationFactor = min(brokers, ProductionReplicas)
	}
	if d.MinInsyncReplicas == 0 {
		d.MinInsyncReplicas = min(d.ReplicationFactor-1, ProductionMinInsync)
		d.MinInsyncReplicas = max(d.MinInsyncReplicas, 1)
	}
	switch {
	case d.ReplicationFactor > brokers:
		return d, &DurabilityError{"--replication-factor", fmt.Sprintf("%d replicas need %d brokers; the cluster has %d", d.ReplicationFactor, d.ReplicationFactor, brokers)}
	case d.MinInsyncReplicas > d.ReplicationFactor:
		return d, &DurabilityError{"--min-insync-replicas", fmt.Sprintf("%d is more than the %d replicas: every acks=all write would be refused", d.MinInsyncReplicas, d.ReplicationFactor)}
	}
	survives := d.ReplicationFactor - d.MinInsyncReplicas
	d.Note = fmt.Sprintf("%d broker(s): replication factor %d, min.insync.replicas %d; acks=all writes go on through the loss of %d broker(s)",
		brokers, d.ReplicationFactor, d.MinInsyncReplicas, survives)
	if brokers < productionBrokersMin {
		d.Note += fmt.Sprintf(" (fewer than %d brokers: fine for development, not for production, which wants replication %d and min.insync.replicas %d)",
			productionBrokersMin, ProductionReplicas, ProductionMinInsync)
	}
	return d, nil
}

// apply sets d on every spec: its replication factor and its
// min.insync.replicas config (on a copy of the spec's configs).
func (d Durability) apply(specs []topics.Spec) {
	for i := range specs {
		specs[i].ReplicationFactor = d.ReplicationFactor
		c := maps.Clone(specs[i].Configs)
		if c == nil {
			c = map[string]string{}
		}
		c[topics.ConfigMinInsyncReplicas] = strconv.Itoa(d.MinInsyncReplicas)
		specs[i].Configs = c
	}
}

// resolveDurability counts the cluster's brokers and resolves cfg's
// replication settings against them.
func resolveDurability(ctx context.Context, admin *topics.Admin, cfg DeployConfig) (Durability, error) {
	n, err := admin.BrokerCount(ctx)
	if err != nil {
		return Durability{}, err
	}
	return ResolveDurability(n, cfg.ReplicationFactor, cfg.MinInsyncReplicas)
}
