package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestSinkErrorsStopTheLaneOnlyForWritesGivenUp: an output write the sink
// gave up on stops the lane (its records never commit; a restart redoes
// them); any other sink error is reported and the lane goes on.
func TestSinkErrorsStopTheLaneOnlyForWritesGivenUp(t *testing.T) {
	var logs syncBuffer
	var fatal error
	lr := &laneRuntime{lane: schemas.LaneProd, log: slog.New(slog.NewTextHandler(&logs, nil)), fatal: func(err error) { fatal = err }}
	lr.sinkErr(errors.New("metadata refresh failed"))
	if fatal != nil || !strings.Contains(logs.String(), "metadata refresh failed") {
		t.Fatalf("a transient sink error: fatal %v, logged %q; want reported only", fatal, logs.String())
	}
	we := &topics.WriteError{Topic: "matriz.prod.results", Records: 3, Attempts: 5, Err: errors.New("NOT_LEADER")}
	lr.sinkErr(we)
	if !errors.Is(fatal, we) || !strings.HasPrefix(fatal.Error(), "writing outputs failed, stopping so a restart reprocesses from the last commit: ") {
		t.Fatalf("a write given up: fatal %v, want the lane stopped with it", fatal)
	}
}

// TestNothingWritesWithoutReachableBrokers: the lane's sink pool and the
// action guard are not made when no broker answers, so a lane never starts
// half-wired; an abort's control write says it failed and what to run.
func TestNothingWritesWithoutReachableBrokers(t *testing.T) {
	ctx := context.Background()
	if p, err := newSinkPool(ctx, 3, []string{unreachable}); err == nil || p != nil || !strings.Contains(err.Error(), "cannot reach Kafka") {
		t.Fatalf("newSinkPool = %v, %v; want no pool and the brokers' error", p, err)
	}
	s := memRegistry(t, schemas.LaneProd)
	if o, err := NewActionOnce(ctx, ActionOnceConfig{Lane: schemas.LaneProd, Brokers: []string{unreachable}, Serde: s}); err == nil || o != nil || !strings.Contains(err.Error(), "cannot reach Kafka") {
		t.Fatalf("NewActionOnce = %v, %v; want no guard and the brokers' error", o, err)
	}

	var logs syncBuffer
	lr := &laneRuntime{lane: schemas.LaneProd, log: slog.New(slog.NewTextHandler(&logs, nil)), cfg: Config{Brokers: []string{unreachable}}}
	lr.writeCanaryOff()
	clocktest.WaitFor(t, 10*time.Second, "the failed control write reported", func() bool {
		return strings.Contains(logs.String(), "matriz flags set "+FlagCanary+" false --lane prod")
	}, logs.String)
	if got := logs.String(); !strings.Contains(got, "cannot reach Kafka") {
		t.Errorf("logged %q, want the brokers' error", got)
	}
}
