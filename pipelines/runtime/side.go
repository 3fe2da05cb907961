package runtime

// A blue/green side: a lane run a second time beside itself, under a
// namespace (`matriz run --namespace green`), so two spec versions work
// the same input side by side. A side reads the lane's messages in a
// consumer group of its own and writes every output, its decisions, its
// stage state and its checkpoints under matriz.<lane>.<namespace>.*; the
// lane's own topics are untouched. What must stay one across the two
// sides is shared: matriz.control, the approvals, and the executing
// records of external actions on matriz.<lane>.actions, so an action runs
// at most once whichever side gets to it first. A side runs no canary.

import (
	"fmt"
	"slices"

	"github.com/matriz/pipelines/topics"
)

// sideKinds are the topic kinds a side has of its own.
var sideKinds = append(topics.ReplayKinds(), topics.KindState, topics.KindCheckpoints)

// topic is the topic of kind k this run reads or writes: its side's when
// it runs as one and the kind is a side's own, else the lane's.
func (lr *laneRuntime) topic(k topics.Kind) string {
	if lr.side != "" && slices.Contains(sideKinds, k) {
		return topics.NamespaceName(string(lr.lane), lr.side, k)
	}
	return topics.Name(string(lr.lane), k)
}

// CheckNamespace refuses a namespace that cannot name a side: empty, with a
// character other than an ASCII letter, digit, '-' or '_', or one of the
// lane's own namespaces (canary, replay).
func CheckNamespace(ns string) error {
	if ns == topics.CanaryNamespace || ns == "replay" {
		return fmt.Errorf("namespace %q: the lane's %s topics use it; pick another name (blue, green, …)", ns, ns)
	}
	if ns == "" || len(ns) > 64 {
		return fmt.Errorf("namespace %q: want 1 to 64 letters, digits, '-' or '_'", ns)
	}
	for _, c := range ns {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("namespace %q: %q is not allowed; want letters, digits, '-' or '_'", ns, c)
		}
	}
	return nil
}

// sideTopics is every topic of a side a running side needs.
func sideTopics(lr *laneRuntime) []string {
	names := make([]string, len(sideKinds))
	for i, k := range sideKinds {
		names[i] = lr.topic(k)
	}
	return names
}
