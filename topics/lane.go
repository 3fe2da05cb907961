package topics

import (
	"fmt"
	"slices"
)

// The three lanes. A lane is a plain string here because topics must not
// import schemas; ValidateLane keeps the two in step.
const (
	LaneExperimental = "experimental"
	LaneCandidate    = "candidate"
	LaneProd         = "prod"
)

// Lanes lists every lane in promotion order.
func Lanes() []string { return []string{LaneExperimental, LaneCandidate, LaneProd} }

// ValidateLane reports whether lane is one of the three lane names, with an
// error that lists them.
func ValidateLane(lane string) error {
	if slices.Contains(Lanes(), lane) {
		return nil
	}
	return fmt.Errorf("%w: %q (want experimental, candidate or prod)", ErrUnknownLane, lane)
}

// Kind is what a lane topic carries. A stream kind is an append-only log
// with time retention; KindState is a compacted table (latest value per
// key), so the two are never interchangeable.
type Kind string

// The lane topic kinds, one topic per lane each.
const (
	KindMessages  Kind = "messages"  // input MatrizMessages
	KindResults   Kind = "results"   // MatrizResults, one per answered message
	KindEvents    Kind = "events"    // the event log: the replay source
	KindTraces    Kind = "traces"    // explainability traces
	KindActions   Kind = "actions"   // guardian previews and executions
	KindApprovals Kind = "approvals" // human approvals of actions
	KindDLQ       Kind = "dlq"       // bad input, reason in headers
	KindState     Kind = "state"     // stage state changelog (compacted)
	// KindCheckpoints holds each partition's stage state with its offsets
	// every few seconds of event time, retained (not compacted) so a
	// replay can start at any of them.
	KindCheckpoints Kind = "checkpoints"
)

// Kinds lists every lane topic kind.
func Kinds() []Kind {
	return []Kind{KindMessages, KindResults, KindEvents, KindTraces, KindActions, KindApprovals, KindDLQ, KindState, KindCheckpoints}
}

// Compacted reports whether topics of this kind keep the latest value per
// key (cleanup.policy=compact) instead of a time window.
func (k Kind) Compacted() bool { return k == KindState }

// Valid reports whether k is one of the lane topic kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Name returns the topic of kind in lane: matriz.<lane>.<kind>. It does not
// validate; LaneSpecs and Spec.Validate do.
func Name(lane string, kind Kind) string { return "matriz." + lane + "." + string(kind) }

// ReplayKinds are the kinds a replay writes, each into its own namespace.
func ReplayKinds() []Kind {
	return []Kind{KindResults, KindEvents, KindTraces, KindActions, KindDLQ}
}

// ReplayName returns the topic of kind in lane's replay namespace name:
// matriz.<lane>.replay.<name>.<kind>. A replay writes only there, never to
// the live topics.
func ReplayName(lane, name string, kind Kind) string {
	return "matriz." + lane + ".replay." + name + "." + string(kind)
}

// ReplayPrefix is the prefix every topic of a replay namespace shares.
func ReplayPrefix(lane, name string) string { return "matriz." + lane + ".replay." + name + "." }

// Shared topics, one per cluster.
const (
	// ControlTopic carries feature flags and kill switches, read live;
	// compacted so a restarted worker sees the latest value of each flag.
	ControlTopic = "matriz.control"
	// SchemasTopic is the schema registry's storage, named as Confluent's.
	SchemasTopic = "_schemas"
)

// ReplaySpecs returns the topics of lane's replay namespace name, each with
// partitions partitions (the live lane's count, so one glyph's outputs land
// on the same partition number as live) and a week's retention.
func ReplaySpecs(lane, name string, partitions int) ([]Spec, error) {
	var specs []Spec
	for _, k := range ReplayKinds() {
		s := Spec{Name: ReplayName(lane, name, k), Partitions: partitions, ReplicationFactor: ReplicationByCluster,
			Configs: map[string]string{ConfigCleanupPolicy: CleanupDelete, ConfigRetentionMs: RetentionWeek}}
		if err := s.Validate(); err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// CanaryNamespace is the namespace a lane's canary writes its shadow
// chain's outputs to.
const CanaryNamespace = "canary"

// NamespaceName returns the topic of kind in lane's output namespace ns:
// matriz.<lane>.<ns>.<kind>. A lane run in a namespace (a canary's shadow,
// a blue/green side) writes there instead of its own outputs.
func NamespaceName(lane, ns string, kind Kind) string {
	return "matriz." + lane + "." + ns + "." + string(kind)
}

// CanaryName returns the topic of kind in lane's canary namespace:
// matriz.<lane>.canary.<kind>.
func CanaryName(lane string, kind Kind) string { return NamespaceName(lane, CanaryNamespace, kind) }

// NamespaceSpecs returns the output topics of lane's namespace ns (the
// kinds a replay writes), with partitions partitions and the retention of
// the lane's own topics of each kind.
func NamespaceSpecs(lane, ns string, partitions int) ([]Spec, error) {
	if err := ValidateLane(lane); err != nil {
		return nil, err
	}
	var specs []Spec
	for _, k := range ReplayKinds() {
		s := Spec{Name: NamespaceName(lane, ns, k), Partitions: partitions, ReplicationFactor: ReplicationByCluster,
			Configs: map[string]string{ConfigCleanupPolicy: CleanupDelete, ConfigRetentionMs: streamRetention[k]}}
		if err := s.Validate(); err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// SideSpecs returns the topics of a blue/green side ns of lane: its output
// namespace (NamespaceSpecs) and its own state changelog and checkpoints,
// so the side's stage state never mixes with the lane's.
func SideSpecs(lane, ns string, partitions int) ([]Spec, error) {
	specs, err := NamespaceSpecs(lane, ns, partitions)
	if err != nil {
		return nil, err
	}
	state := Spec{Name: NamespaceName(lane, ns, KindState), Partitions: partitions, ReplicationFactor: ReplicationByCluster,
		Compacted: true, Configs: map[string]string{ConfigCleanupPolicy: CleanupCompact}}
	cps := Spec{Name: NamespaceName(lane, ns, KindCheckpoints), Partitions: partitions, ReplicationFactor: ReplicationByCluster,
		Configs: map[string]string{ConfigCleanupPolicy: CleanupDelete, ConfigRetentionMs: streamRetention[KindCheckpoints]}}
	for _, s := range []Spec{state, cps} {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	return append(specs, state, cps), nil
}
