package runtime

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunReportsSpecPartitionsItDoesNotApply: a spec whose partitions for
// the lane differ from the messages topic's is not silently ignored: run
// says, at the default level, that it does not apply them and what does.
func TestRunReportsSpecPartitionsItDoesNotApply(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	for _, tc := range []struct {
		partitions int
		warn       bool
	}{{12, true}, {6, false}} {
		sp, err := spec.Default()
		if err != nil {
			t.Fatal(err)
		}
		sp.Lanes[lane].Partitions = tc.partitions
		var log syncBuffer
		stop := runLane(t, e, Config{Lane: lane, Spec: sp, Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		want := "the spec's partitions (12) are not applied by run: matriz.prod.messages has 6 partitions"
		if got := strings.Contains(log.String(), "are not applied by run"); got != tc.warn || (tc.warn && !strings.Contains(log.String(), want)) {
			t.Errorf("partitions %d: log %q, want the warning %v", tc.partitions, log.String(), tc.warn)
		}
	}
}
