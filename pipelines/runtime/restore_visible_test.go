package runtime

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestRestoreThatKeepsFailingIsVisible: a partition whose state cannot be
// restored (its changelog holds state for a stage the chain does not have)
// does not stall silently: the lane retries, logs each attempt at warning
// level and is not ready with the partition and the error named, and once
// the changelog is fixed the restore goes through and the lane is ready.
func TestRestoreThatKeepsFailingIsVisible(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	stateTopic := topics.Name(string(lane), topics.KindState)
	bad := StateKey(0) + "/nosuchstage"
	e.Write(t, stateTopic, []topics.Message{{Key: []byte(bad), Value: []byte("x")}})

	var log syncBuffer
	ready := NewReadiness()
	stop := runLane(t, e, Config{Lane: lane, Readiness: ready, Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	wantReason := "lane prod partition 0: restoring its state failed "
	clocktest.WaitFor(t, 30*time.Second, "not ready, naming partition 0's failing restore, after two attempts", func() bool {
		err := ready.Err()
		return err != nil && strings.Contains(err.Error(), wantReason) && strings.Count(log.String(), "partition not ready; retrying") >= 2
	}, func() string { return "readiness: " + errString(ready.Err()) + "\nlog:\n" + log.String() })
	if err := ready.Err().Error(); !strings.Contains(err, "stage \"nosuchstage\"") || !strings.Contains(err, "retrying") || strings.Contains(err, "partition 1:") {
		t.Fatalf("reason %q: want partition 0 only, retrying, naming the stage it cannot restore", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if strings.Contains(line, "partition not ready; retrying") && (!strings.Contains(line, "level=WARN") || !strings.Contains(line, "partition=0")) {
			t.Fatalf("retry logged as %q, want a warning naming partition 0", line)
		}
	}

	e.Write(t, stateTopic, []topics.Message{{Key: []byte(bad)}}) // a tombstone: the changelog fixed
	clocktest.WaitFor(t, 30*time.Second, "ready once the restore goes through", func() bool { return ready.Err() == nil },
		func() string { return "readiness: " + errString(ready.Err()) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
