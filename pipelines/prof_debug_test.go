package pipelines

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

func TestProfDebug(t *testing.T) {
	lane := schemas.LaneProd
	e := newTestEnv(t, lane)
	msgs := laneMessages(lane, 100000, 1, time.Second)
	e.produce(t, lane, msgs, nil)
	counters := &LaneCounters{}
	start := time.Now()
	stop := e.runLane(t, RunConfig{Lane: lane, Counters: counters, Group: "g"})
	waitCounted(t, counters, 100000, 3*time.Minute)
	t.Logf("took %v", time.Since(start))
	stop()
}
