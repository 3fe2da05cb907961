package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// SessionTimeoutError is the broker refusing the lane's session timeout:
// the requested value and the broker's allowed range, when it could be
// read.
type SessionTimeoutError = topics.SessionTimeoutError

// AuthorizationError is the broker refusing the lane access to a topic,
// its group or the cluster.
type AuthorizationError = topics.AuthorizationError

// NotDeployedError is a lane whose topics do not exist on the cluster.
type NotDeployedError struct {
	Lane    schemas.Lane
	Missing []string
	// Pipeline: the topics come from the lane's spec (a canary's), so
	// deploy needs it.
	Pipeline bool
	// Side: the topics are a blue/green side's, deployed with --namespace.
	Side string
}

func (e *NotDeployedError) Error() string {
	missing := strings.Join(e.Missing, ", ")
	if len(e.Missing) > 3 {
		missing = fmt.Sprintf("%s and %d more", strings.Join(e.Missing[:3], ", "), len(e.Missing)-3)
	}
	deploy := "matriz deploy --lanes " + string(e.Lane)
	if e.Pipeline {
		deploy += " --pipeline FILE"
	}
	if e.Side != "" {
		deploy += " --namespace " + e.Side
	}
	return fmt.Sprintf("lane %s is not deployed: topics %s are missing on the brokers; run `%s` first",
		e.Lane, missing, deploy)
}

// checkCanaryDeployed refuses to start a lane with a canary whose canary
// topics are missing: they come from deploying with the lane's spec.
func checkCanaryDeployed(ctx context.Context, brokers []string, lane schemas.Lane) error {
	var names []string
	for _, k := range topics.ReplayKinds() {
		names = append(names, topics.CanaryName(string(lane), k))
	}
	err := joinErr(lane, topics.CheckTopics(ctx, brokers, names), true)
	if nd, ok := err.(*NotDeployedError); ok {
		nd.Pipeline = true
	}
	return err
}

// laneTopics is every topic a running lane needs before it joins, but its
// state changelog: a changelog that cannot be read is a restore failing,
// which each partition retries and /readyz names (the same as when the
// topic goes away under a running lane), not a reason to refuse to start.
func laneTopics(lane schemas.Lane) []string {
	names := []string{topics.ControlTopic}
	for _, k := range topics.Kinds() {
		if k != topics.KindState {
			names = append(names, topics.Name(string(lane), k))
		}
	}
	return names
}

// checkDeployed refuses to start a lane whose topics are missing or that
// the broker does not let this client see, before it registers anything
// or joins its group. A check it cannot make is left to the join.
func checkDeployed(ctx context.Context, brokers []string, lane schemas.Lane) error {
	return joinErr(lane, topics.CheckTopics(ctx, brokers, laneTopics(lane)), true)
}

// joinErr names a lane's join failure for its operator: missing topics as
// a lane to deploy. With onlyFatal, an error that is neither missing topics
// nor an authorization failure is dropped.
func joinErr(lane schemas.Lane, err error, onlyFatal bool) error {
	var missing *topics.MissingTopicsError
	var denied *topics.AuthorizationError
	switch {
	case errors.As(err, &missing):
		return &NotDeployedError{Lane: lane, Missing: missing.Topics}
	case errors.As(err, &denied):
		return denied
	case onlyFatal:
		return nil
	}
	return err
}
