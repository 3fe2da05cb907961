package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestReadinessReasons: a new lane is not ready; each reason shows while it
// is set and goes when cleared; a lane stopped by an error stays not ready
// with the error; a nil Readiness (a replay's) records nothing.
func TestReadinessReasons(t *testing.T) {
	r := NewReadiness()
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "not started yet") {
		t.Fatalf("new: %v", err)
	}
	r.set(reasonJoin, "")
	if err := r.Err(); err != nil {
		t.Fatalf("joined: %v", err)
	}
	lr := &laneRuntime{lane: schemas.LaneProd, ready: r}
	w := &partitionWorker{lane: lr, partition: 4}
	w.restoreFailing(3, errors.New("state topic timeout"))
	w.registryDown(errors.New("connection refused"))
	got := r.Reasons()
	want := []string{
		"lane prod partition 4: restoring its state failed 3 times, retrying: state topic timeout",
		"lane prod partition 4: the schema registry does not answer, decode retrying: connection refused",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("reasons %q, want %q", got, want)
	}
	w.restoreFailing(0, nil)
	w.registryDown(nil)
	if err := r.Err(); err != nil {
		t.Fatalf("recovered: %v", err)
	}
	lr.stopped(errors.New("writing outputs failed"))
	if err := r.Err(); err == nil || err.Error() != "lane prod stopped: writing outputs failed" {
		t.Fatalf("stopped: %v", err)
	}
	var none *Readiness
	none.set(reasonJoin, "x")
	(&laneRuntime{}).stopped(nil) // no readiness: nothing to record, no panic
}
