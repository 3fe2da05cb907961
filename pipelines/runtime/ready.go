package runtime

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Readiness is whether a lane does its work, with the reasons it does not:
// what /readyz reports. A lane is not ready until it has read matriz.control
// to its end and joined its consumer group, and stops being ready while a
// partition's state restore keeps failing, while the schema registry does
// not answer (its periodic probe, or decode waiting for it), and for good
// once the lane stopped with a fatal error.
// Each reason is said in one line a person can act on; the log says the
// same at warning level as it happens.
//
// Give every lane of a process its own (Config.Readiness) and serve Err on
// /readyz.
type Readiness struct {
	mu      sync.Mutex
	reasons map[string]string // by what it is about (see the reason* keys)
}

// Keys of the reasons a lane is not ready for; one per partition where a
// partition is named.
const (
	reasonJoin     = "join"
	reasonControl  = "control"
	reasonFatal    = "fatal"
	reasonRestore  = "restore/"  // + partition
	reasonRegistry = "registry/" // + partition
	// reasonRegistryProbe: the lane's periodic probe finds the registry
	// does not answer (registry_probe.go).
	reasonRegistryProbe = "registry"
)

// NewReadiness returns a lane's readiness: not ready, not started yet.
func NewReadiness() *Readiness {
	return &Readiness{reasons: map[string]string{reasonJoin: "not started yet"}}
}

// set records why the lane is not ready about key; "" clears it. A nil
// Readiness (a replay's) records nothing.
func (r *Readiness) set(key, reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if reason == "" {
		delete(r.reasons, key)
	} else {
		r.reasons[key] = reason
	}
}

// Reasons returns why the lane is not ready, sorted; none when it is.
func (r *Readiness) Reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Collect(maps.Values(r.reasons))
	slices.Sort(out)
	return out
}

// Err returns nil when the lane is ready, else an error listing the reasons
// it is not, separated by "; ".
func (r *Readiness) Err() error {
	if rs := r.Reasons(); len(rs) > 0 {
		return errors.New(strings.Join(rs, "; "))
	}
	return nil
}

// restoreFailing says partition p's restore failed attempt times; nil
// clears it (restored, or the partition released).
func (w *partitionWorker) restoreFailing(attempt int, err error) {
	key := reasonRestore + fmt.Sprint(w.partition)
	if err == nil {
		w.lane.ready.set(key, "")
		return
	}
	w.lane.ready.set(key, fmt.Sprintf("lane %s partition %d: restoring its state failed %d times, retrying: %v", w.lane.lane, w.partition, attempt, err))
}

// registryDown says partition p's decode waits for the schema registry;
// nil clears it.
func (w *partitionWorker) registryDown(err error) {
	key := reasonRegistry + fmt.Sprint(w.partition)
	if err == nil {
		w.lane.ready.set(key, "")
		return
	}
	w.lane.ready.set(key, fmt.Sprintf("lane %s partition %d: the schema registry does not answer, decode retrying: %v", w.lane.lane, w.partition, err))
}
