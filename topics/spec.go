package topics

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Topic config keys and values this package sets, spelled as Kafka does.
const (
	ConfigCleanupPolicy = "cleanup.policy"
	ConfigRetentionMs   = "retention.ms"
	// ConfigMinInsyncReplicas is how many replicas must have a record
	// before an acks=all write is acknowledged; Kafka's default is 1.
	ConfigMinInsyncReplicas = "min.insync.replicas"
	CleanupDelete           = "delete"
	CleanupCompact          = "compact"
	RetentionForever        = "-1"
	ReplicationByCluster    = -1 // ReplicationFactor: the cluster's default.replication.factor
)

// Retention per stream kind, in milliseconds as Kafka takes it. The choices:
//
//   - messages, results: 7 days, Kafka's default; they are inputs and
//     derived outputs that the event log and a replay can regenerate.
//   - events: forever (-1). The event log is the replay source: any run
//     can be replayed from any offset or timestamp, so nothing may age out
//     under it. Operators who must bound disk set retention.bytes on the
//     cluster and accept that replays start at the log start offset.
//   - traces, actions, approvals: 30 days, the audit window for
//     explainability (EU AI Act markers) and human approvals.
//   - dlq: 14 days, time for a person to inspect and re-drive bad input.
//
// state (a table) and the shared topics are compacted: the latest value per
// key is kept forever.
const (
	RetentionWeek     = "604800000"  // 7 days
	RetentionTwoWeeks = "1209600000" // 14 days
	RetentionMonth    = "2592000000" // 30 days
)

var streamRetention = map[Kind]string{
	KindMessages:  RetentionWeek,
	KindResults:   RetentionWeek,
	KindEvents:    RetentionForever,
	KindTraces:    RetentionMonth,
	KindActions:   RetentionMonth,
	KindApprovals: RetentionMonth,
	KindDLQ:       RetentionTwoWeeks,
	// Checkpoints are kept as long as the event log they index.
	KindCheckpoints: RetentionForever,
}

// Spec is one topic as data: what Admin.Ensure creates or compares.
type Spec struct {
	Name       string
	Partitions int
	// ReplicationFactor is the replica count, or ReplicationByCluster (-1)
	// to take the cluster's default (what lets the same specs run on the
	// one-broker dev cluster and on a three-broker production cluster).
	ReplicationFactor int
	// Configs are topic-level configs; only these keys are compared when
	// the topic exists, the cluster's defaults apply to the rest.
	Configs map[string]string
	// Compacted marks a table (cleanup.policy contains compact) rather than
	// a stream; Validate keeps it and Configs in agreement.
	Compacted bool
}

// maxTopicNameLen is Kafka's limit (249), minus nothing: Kafka itself
// reserves no suffix for topic names.
const maxTopicNameLen = 249

// Validate reports the first thing Kafka would refuse, or that breaks the
// stream/table distinction, as a *SpecError.
func (s Spec) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &SpecError{Topic: s.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if reason := topicNameProblem(s.Name); reason != "" {
		return bad("name", "%s", reason)
	}
	if s.Partitions < 1 {
		return bad("partitions", "%d, at least 1", s.Partitions)
	}
	if s.ReplicationFactor != ReplicationByCluster && (s.ReplicationFactor < 1 || s.ReplicationFactor > 32767) {
		return bad("replication factor", "%d, want -1 (cluster default) or 1..32767", s.ReplicationFactor)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
		if k == "" || strings.TrimSpace(k) != k {
			return bad("configs", "key %q", k)
		}
	}
	if v, ok := s.Configs[ConfigRetentionMs]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < -1 {
			return bad("configs", "retention.ms %q, want -1 (forever) or a number of milliseconds", v)
		}
	}
	policy := s.Configs[ConfigCleanupPolicy]
	compact := slices.Contains(strings.Split(policy, ","), CleanupCompact)
	switch {
	case s.Compacted && !compact:
		return bad("cleanup.policy", "%q on a compacted topic, want %q", policy, CleanupCompact)
	case !s.Compacted && compact:
		return bad("cleanup.policy", "%q on a stream; set Compacted to make it a table", policy)
	}
	return nil
}

// topicNameProblem says why Kafka would refuse name as a topic name, or
// returns "" when it would take it.
func topicNameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case name == "." || name == "..":
		return fmt.Sprintf("%q is reserved", name)
	case len(name) > maxTopicNameLen:
		return fmt.Sprintf("%d characters, at most %d", len(name), maxTopicNameLen)
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return !legalTopicRune(r) }); i >= 0 {
		return fmt.Sprintf("character %q at %d; only ASCII letters, digits, '.', '_' and '-'", name[i], i)
	}
	return ""
}

func legalTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// MaxLanePartitions bounds a lane's partitions: each assigned partition
// runs its own worker and chain, so a typo of a zero too many would start
// thousands of them.
const MaxLanePartitions = 1024

// LaneSpecs returns the eight topics of lane with partitions partitions
// each. Every lane topic has the same partition count so a consumer group
// reading several of them (messages and control of one lane, say) gets
// co-partitioned assignments: the key hash picks the same partition number
// on each topic.
func LaneSpecs(lane string, partitions int) ([]Spec, error) {
	if err := ValidateLane(lane); err != nil {
		return nil, err
	}
	if partitions < 1 || partitions > MaxLanePartitions {
		return nil, &SpecError{Topic: Name(lane, KindMessages), Field: "partitions", Reason: fmt.Sprintf("%d, want 1..%d", partitions, MaxLanePartitions)}
	}
	specs := make([]Spec, 0, len(Kinds()))
	for _, k := range Kinds() {
		s := Spec{Name: Name(lane, k), Partitions: partitions, ReplicationFactor: ReplicationByCluster}
		if k.Compacted() {
			s.Compacted = true
			s.Configs = map[string]string{ConfigCleanupPolicy: CleanupCompact}
		} else {
			s.Configs = map[string]string{ConfigCleanupPolicy: CleanupDelete, ConfigRetentionMs: streamRetention[k]}
		}
		if err := s.Validate(); err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// SharedSpecs returns the cluster-wide topics: matriz.control and _schemas,
// both compacted with one partition (a total order of flag changes and of
// schema registrations). The schema registry creates _schemas too if it
// starts first; creating an existing topic is harmless for Ensure.
func SharedSpecs() []Spec {
	mk := func(name string) Spec {
		return Spec{
			Name: name, Partitions: 1, ReplicationFactor: ReplicationByCluster,
			Configs: map[string]string{ConfigCleanupPolicy: CleanupCompact}, Compacted: true,
		}
	}
	return []Spec{mk(ControlTopic), mk(SchemasTopic)}
}
