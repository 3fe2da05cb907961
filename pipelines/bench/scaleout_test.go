package bench

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNextScaleOutBacklogCoversTwiceTheFirstRun: two processes at twice
// one's rate, through twice one's start-up (never less than
// scaleOutStartup) and the window.
func TestNextScaleOutBacklogCoversTwiceTheFirstRun(t *testing.T) {
	for _, c := range []struct {
		joined, working time.Duration
		want            int64
	}{
		{time.Second, time.Second, int64(2 * 10_000 * (scaleOutStartup + 4*time.Second).Seconds())}, // a quick start: scaleOutStartup
		{3 * time.Second, 4 * time.Second, 2 * 10_000 * (14 + 4)},                                   // a slow one: twice its 7 s
	} {
		one := scaleOutRun{Procs: 1, Joined: c.joined, Working: c.working, Answered: 40_000, Window: 4 * time.Second}
		if got := nextScaleOutBacklog(one, 4*time.Second); got != c.want {
			t.Errorf("joined %v, working %v at %.0f msgs/s: backlog %d, want %d", c.joined, c.working, one.Rate(), got, c.want)
		}
	}
}

// TestScaleOutMeasuredDoublesADryBacklog: a run whose backlog ran dry is
// run again on twice the backlog, under a try number of its own, and says
// so; one that lasts is the figure; after scaleOutTries dry runs, or on
// any other error, the error stands.
func TestScaleOutMeasuredDoublesADryBacklog(t *testing.T) {
	dry := &backlogRanOutError{Partition: 1, Committed: 500, End: 500}
	var out strings.Builder
	env := PhaseEnv{Say: func(f string, a ...any) { fmt.Fprintf(&out, f+"\n", a...) }}

	var asked []string
	run := func(lasts int64, err error) func(int64, int) (scaleOutRun, error) {
		return func(backlog int64, try int) (scaleOutRun, error) {
			asked = append(asked, fmt.Sprintf("%d@%d", backlog, try))
			if err != nil {
				return scaleOutRun{}, err
			}
			if backlog < lasts {
				return scaleOutRun{Backlog: backlog}, errors.Join(dry, nil) // wrapped, as scaleOutOnce does
			}
			return scaleOutRun{Backlog: backlog, Answered: 7}, nil
		}
	}

	r, err := scaleOutMeasured(env, 2, 1000, run(3000, nil))
	if err != nil || r.Backlog != 4000 || r.Answered != 7 {
		t.Fatalf("got %+v, %v; want the run on 4000 messages", r, err)
	}
	if got := strings.Join(asked, " "); got != "1000@1 2000@2 4000@3" {
		t.Fatalf("runs %s, want 1000@1 2000@2 4000@3", got)
	}
	if n := strings.Count(out.String(), "partition 1's backlog ran out inside the window"); n != 2 || !strings.Contains(out.String(), "again with 4000 messages") {
		t.Fatalf("progress named %d dry runs, want 2:\n%s", n, out.String())
	}

	asked = nil
	if _, err := scaleOutMeasured(env, 2, 1000, run(1<<40, nil)); !errors.As(err, new(*backlogRanOutError)) || len(asked) != scaleOutTries {
		t.Fatalf("after %d runs: %v; want the dry error after %d", len(asked), err, scaleOutTries)
	}

	asked = nil
	broken := errors.New("lane exited")
	if _, err := scaleOutMeasured(env, 2, 1000, run(0, broken)); !errors.Is(err, broken) || len(asked) != 1 {
		t.Fatalf("after %d runs: %v; want the lane's error after 1", len(asked), err)
	}
}
