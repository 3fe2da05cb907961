package inspect

import (
	"context"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/schemas"
)

// steppingClock moves event time on by step at every reading, as a paced
// producer's clock would between two steps.
type steppingClock struct {
	*clock.Fake
	step time.Duration
}

func (c steppingClock) Now() time.Time {
	c.Fake.Advance(c.step)
	return c.Fake.Now()
}

// TestScenarioStepsCarryTheScript: --scenario --count 400 over 8s of event
// time sends the background steps plus the script's beats up to 7s: the
// P0 action, the four corrupt records; a run started a nanosecond later
// (the seed is the clock's) sends fresh msg ids.
func TestScenarioStepsCarryTheScript(t *testing.T) {
	run := func(start time.Time) []devstack.ScenarioRecord {
		var got []devstack.ScenarioRecord
		cl := steppingClock{Fake: clock.NewFake(start), step: 20 * time.Millisecond}
		err := produceScenario(context.Background(), ProduceConfig{Lane: schemas.LaneProd, Count: 400, Clock: cl, Scenario: true}, func(r *devstack.ScenarioRecord) error {
			got = append(got, *r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := run(time.Unix(1e9, 0))
	episodes := map[string]int{}
	corrupt := map[devstack.Corruption]int{}
	p0 := 0
	for _, r := range first {
		episodes[r.Episode]++
		if r.Corrupt != devstack.CorruptNone {
			corrupt[r.Corrupt]++
		}
		if r.Episode == devstack.EpisodeApproval && r.Msg.Payload["priority"] == "P0" {
			p0++
		}
	}
	if len(first) < 400 || p0 != 1 || len(corrupt) != 4 || episodes[devstack.EpisodeFoldStorm] == 0 {
		t.Fatalf("%d records, %d P0 actions, corruptions %v, episodes %v: want 400 steps and one cycle's script to 7s", len(first), p0, corrupt, episodes)
	}
	if again := run(time.Unix(1e9, 1)); again[0].Msg.MsgID == first[0].Msg.MsgID {
		t.Fatalf("a second run repeats msg id %s", first[0].Msg.MsgID)
	}
	if err := produceScenario(context.Background(), ProduceConfig{Lane: schemas.LaneProd, Clock: clock.NewFake(time.Unix(1e9, 0))}, nil); err == nil {
		t.Fatal("a scenario of 0 steps was accepted")
	}
	if CheckScenarioVersion(schemas.Version(1)) == nil || CheckScenarioVersion(schemas.Latest) != nil {
		t.Fatal("CheckScenarioVersion: want v1 refused and latest accepted")
	}
}
