package pipelines

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/topics"
)

// logStart returns the first offset clients can read of partition 0.
func logStart(t *testing.T, broker, topic string) int64 {
	t.Helper()
	conn, err := kafka.DialLeader(context.Background(), "tcp", broker, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first, _, err := conn.ReadOffsets()
	if err != nil {
		t.Fatal(err)
	}
	return first
}

// dev --retention bounds the stream topics, the event log included (kept
// forever by its own config); the status line ends with disk and rss.
func TestDevRetentionDeletesOldRecordsOfEveryStream(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	run := startDev(t, DevConfig{DataDir: t.TempDir(), Rate: 200, Retention: 2 * time.Second, StatusEvery: 200 * time.Millisecond})
	defer run.stop(t)
	broker := run.info.Brokers[0]
	streams := []string{
		topics.Name(topics.LaneProd, topics.KindMessages),
		topics.Name(topics.LaneProd, topics.KindResults),
		topics.Name(topics.LaneProd, topics.KindEvents), // forever by its own config
	}
	clocktest.WaitFor(t, 20*time.Second, "the log start of every stream past 0", func() bool {
		for _, s := range streams {
			if logStart(t, broker, s) == 0 {
				return false
			}
		}
		return true
	}, func() string { return run.out.String() })
	if got := regexp.MustCompile(`\| disk \d+(\.\d)?[kMG]B rss \d+(\.\d)?[kMG]B\n`).FindString(run.out.String()); got == "" {
		t.Fatalf("no disk and rss at the end of the status lines:\n%s", lastLines(run.out.String(), 3))
	}
}

func TestDevCleaningFollowsTheWindow(t *testing.T) {
	for _, c := range []struct {
		window time.Duration
		every  time.Duration
		seg    int
	}{
		{2 * time.Second, time.Second, 1 << 20},
		{2 * time.Minute, 12 * time.Second, 1 << 20},
		{DefaultDevRetention, 30 * time.Second, 15 << 20},
		{48 * time.Hour, 30 * time.Second, 64 << 20},
	} {
		if every, seg := devCleanEvery(c.window), devSegmentBytes(c.window); every != c.every || seg != c.seg {
			t.Errorf("window %v: clean every %v, segments %d; want %v, %d", c.window, every, seg, c.every, c.seg)
		}
	}
}
