package replay

// A replay namespace is where one replay of a lane writes:
// matriz.<lane>.replay.<name>.{results,events,traces,actions,dlq}, apart
// from the live topics, so a replay never touches what the running lane
// reads or writes. CreateNamespace makes its topics, ListNamespaces finds
// the replays of a lane, RemoveNamespace deletes one (`matriz replay rm`).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/matriz/pipelines/topics"
)

// Errors of namespaces; every error below wraps one, for errors.Is.
var (
	// ErrBadNamespace: a replay name that is empty, has characters other
	// than letters, digits, '-' and '_', or makes topic names too long.
	ErrBadNamespace = errors.New("bad replay name")
	// ErrNoNamespace: no topic of the replay namespace exists.
	ErrNoNamespace = errors.New("no such replay")
	// ErrNamespaceDiffers: the namespace's topics exist with other
	// partitions or configs than a new replay asks for.
	ErrNamespaceDiffers = errors.New("replay exists with other settings")
)

// NamespaceError is a replay name (or lane, or partition count) that
// cannot make a namespace.
type NamespaceError struct {
	Lane, Name string
	Reason     string
}

func (e *NamespaceError) Error() string {
	return fmt.Sprintf("replay name %q on lane %s: %s", e.Name, e.Lane, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBadNamespace) hold.
func (e *NamespaceError) Unwrap() error { return ErrBadNamespace }

// NamespaceNotFoundError: RemoveNamespace found no topic of the replay.
type NamespaceNotFoundError struct {
	Lane, Name string
	Existing   []string // the lane's replays, for the error line
}

func (e *NamespaceNotFoundError) Error() string {
	msg := fmt.Sprintf("no replay %s on lane %s", e.Name, e.Lane)
	if len(e.Existing) == 0 {
		return msg + " (the lane has no replays)"
	}
	return msg + " (its replays: " + strings.Join(e.Existing, ", ") + ")"
}

// Unwrap makes errors.Is(err, ErrNoNamespace) hold.
func (e *NamespaceNotFoundError) Unwrap() error { return ErrNoNamespace }

// NamespaceDiffersError: a topic of the namespace exists and is not what
// CreateNamespace would make, so a replay into it would mix with an
// earlier one laid out differently.
type NamespaceDiffersError struct {
	Lane, Name string
	Topic      string
	Detail     string // what differs, as topics.Admin reports it
}

func (e *NamespaceDiffersError) Error() string {
	return fmt.Sprintf("replay %s on lane %s exists with other settings (%s: %s): remove it with `matriz replay rm %s --lane %s`, or pick another name",
		e.Name, e.Lane, e.Topic, e.Detail, e.Name, e.Lane)
}

// Unwrap makes errors.Is(err, ErrNamespaceDiffers) hold.
func (e *NamespaceDiffersError) Unwrap() error { return ErrNamespaceDiffers }

// ValidateNamespace reports whether name can name a replay of lane: not
// empty, only ASCII letters, digits, '-' and '_' (no '.', which separates
// the name from the lane and the kind in topic names), and short enough
// that every topic name of the namespace stays within Kafka's 249
// characters. It does no I/O.
func ValidateNamespace(lane, name string) error {
	if err := topics.ValidateLane(lane); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return &NamespaceError{Lane: lane, Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	if name == "" {
		return bad("empty; name the replay with letters, digits, '-' and '_'")
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return !namespaceRune(r) }); i >= 0 {
		return bad("character %q at %d; only ASCII letters, digits, '-' and '_'", name[i], i)
	}
	longest := 0
	for _, k := range topics.ReplayKinds() {
		longest = max(longest, len(topics.ReplayName(lane, name, k)))
	}
	if longest > maxTopicName {
		return bad("%d characters make topic names of %d, Kafka allows %d: at most %d characters on this lane",
			len(name), longest, maxTopicName, len(name)-(longest-maxTopicName))
	}
	return nil
}

// maxTopicName is Kafka's limit on a topic name.
const maxTopicName = 249

func namespaceRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// namespaceRetention keeps a replay's outputs a week: long enough to diff
// and inspect them, and a forgotten replay cleans itself up.
const namespaceRetention = topics.RetentionWeek

// NamespaceSpecs returns the topics of lane's replay namespace name, with
// partitions partitions each (give the lane's, so a replay keys outputs to
// the partitions the live run did): streams, delete policy, 7 days.
func NamespaceSpecs(lane, name string, partitions int) ([]topics.Spec, error) {
	if err := ValidateNamespace(lane, name); err != nil {
		return nil, err
	}
	if partitions < 1 || partitions > topics.MaxLanePartitions {
		return nil, &NamespaceError{Lane: lane, Name: name, Reason: fmt.Sprintf("%d partitions, want 1..%d", partitions, topics.MaxLanePartitions)}
	}
	specs := make([]topics.Spec, 0, len(topics.ReplayKinds()))
	for _, k := range topics.ReplayKinds() {
		specs = append(specs, topics.Spec{
			Name: topics.ReplayName(lane, name, k), Partitions: partitions, ReplicationFactor: topics.ReplicationByCluster,
			Configs: map[string]string{topics.ConfigCleanupPolicy: topics.CleanupDelete, topics.ConfigRetentionMs: namespaceRetention},
		})
	}
	return specs, nil
}

// CreateNamespace creates the topics of lane's replay namespace name
// (NamespaceSpecs). Topics that exist as the specs say are kept, so a
// replay can be resumed into its namespace; one that exists otherwise is a
// *NamespaceDiffersError and changes nothing.
func CreateNamespace(ctx context.Context, brokers []string, lane, name string, partitions int) error {
	specs, err := NamespaceSpecs(lane, name, partitions)
	if err != nil {
		return err
	}
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return err
	}
	// A dry run first, so a namespace laid out differently is refused
	// before any of its missing topics is created.
	plan, err := admin.Ensure(ctx, specs, true)
	if err != nil {
		return err
	}
	for _, o := range plan {
		if o.Status == topics.StatusDiffers {
			return &NamespaceDiffersError{Lane: lane, Name: name, Topic: o.Topic, Detail: o.Detail}
		}
	}
	if _, err := admin.Ensure(ctx, specs, false); err != nil {
		return fmt.Errorf("creating replay %s on lane %s: %w", name, lane, err)
	}
	return nil
}

// RemoveNamespace deletes every topic whose name starts with lane's
// replay prefix for name (what CreateNamespace made, and anything else a
// tool put there) and returns their names, sorted. No such topic is a
// *NamespaceNotFoundError listing the lane's replays. Live topics never
// match: the prefix has ".replay.<name>." in it and a name has no dot.
func RemoveNamespace(ctx context.Context, brokers []string, lane, name string) ([]string, error) {
	if err := ValidateNamespace(lane, name); err != nil {
		return nil, err
	}
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return nil, err
	}
	all, err := admin.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	prefix := topics.ReplayPrefix(lane, name)
	var removed []string
	for t := range all {
		if strings.HasPrefix(t, prefix) {
			removed = append(removed, t)
		}
	}
	if len(removed) == 0 {
		return nil, &NamespaceNotFoundError{Lane: lane, Name: name, Existing: namespacesIn(all, lane)}
	}
	slices.Sort(removed)
	if err := admin.DeleteTopics(ctx, removed); err != nil {
		return nil, fmt.Errorf("removing replay %s on lane %s: %w", name, lane, err)
	}
	return removed, nil
}

// ListNamespaces returns the names of lane's replays (every name with at
// least one topic under its prefix), sorted.
func ListNamespaces(ctx context.Context, brokers []string, lane string) ([]string, error) {
	if err := topics.ValidateLane(lane); err != nil {
		return nil, err
	}
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return nil, err
	}
	all, err := admin.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return namespacesIn(all, lane), nil
}

// namespacesIn returns the replay names of lane among the topics in all.
func namespacesIn(all map[string]int, lane string) []string {
	// ReplayPrefix(lane, "") is "matriz.<lane>.replay.." : cut at the
	// name's place instead.
	prefix := strings.TrimSuffix(topics.ReplayPrefix(lane, ""), ".")
	var names []string
	for t := range all {
		rest, ok := strings.CutPrefix(t, prefix)
		if !ok {
			continue
		}
		if name, _, ok := strings.Cut(rest, "."); ok && name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
