package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// goalPlan is a plan for glyph's goal launch (steps build and test) moving
// its steps from status to next, as a producer sends the orchestration
// node; a glyph without consent is denied by the guardian.
func goalPlan(lane schemas.Lane, phase, glyph int, consent bool, status, next []string) schemas.MatrizMessage {
	tags := map[string]string{}
	if consent {
		tags = map[string]string{"consent": "granted", "purpose": "planning"}
	}
	return schemas.MatrizMessage{
		MsgID: stages.DerivedID("goals test", fmt.Sprint(phase), fmt.Sprint(glyph)),
		TS:    time.Now().UTC().Truncate(time.Microsecond),
		Lane:  lane,
		Glyph: schemas.Glyph{ID: stages.DerivedID("goals test glyph", fmt.Sprint(glyph)), Kind: "intent", Version: "1", Tags: tags},
		Payload: schemas.Payload{"goal": "launch", "subgoals": []string{"build", "test"}, "values": []float64{1, 2}, "risks": []float64{0.1, 0.1},
			"status": status, "next_status": next, "priority": fmt.Sprintf("P%d", glyph%4)},
		Topic: "goal",
	}
}

// TestGoalEventsSurviveARestartAndReplay: a prod lane with dispatch on
// gets three rounds of plans for twelve glyphs' goals (two without
// consent), with the lane stopped and started again between the first two
// rounds. The goal events land on matriz.prod.events, those after the
// restart move goals from the statuses the first run left (restored from
// the changelog, not made anew), every consented goal ends done and the
// denied ones blocked, the partitions' checkpoints hold the goals, and a
// replay of the log makes the same goal events and outputs.
func TestGoalEventsSurviveARestartAndReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	const glyphs, denied = 12, 2
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	env := envMap(map[string]string{FlagDispatch: "true"})
	rounds := [][2][]string{
		{{"pending", "pending"}, {"active", "pending"}},
		{{"active", "pending"}, {"done", "active"}},
		{{"done", "active"}, {"done", "done"}},
	}
	phaseOf := map[string]int{}
	round := func(counters *observe.LaneCounters, r int, answered int64) {
		var batch []schemas.MatrizMessage
		for g := range glyphs {
			m := goalPlan(lane, r, g, g >= denied, rounds[r][0], rounds[r][1])
			phaseOf[m.MsgID] = r
			batch = append(batch, m)
		}
		e.Produce(t, lane, batch, nil)
		waitCounted(t, counters, answered, time.Minute)
	}
	metrics, err := observe.NewMetrics(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	first := &observe.LaneCounters{}
	stop := runLane(t, e, Config{Lane: lane, Counters: first, Getenv: env, Metrics: metrics})
	round(first, 0, glyphs)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	second := &observe.LaneCounters{}
	stop = runLane(t, e, Config{Lane: lane, Counters: second, Getenv: env, Metrics: metrics})
	round(second, 1, glyphs)
	round(second, 2, 2*glyphs)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	goalEvents := func(name string) []schemas.Event {
		topic := topics.Name(string(lane), topics.KindEvents)
		if name != "" {
			topic = topics.ReplayName(string(lane), name, topics.KindEvents)
		}
		var out []schemas.Event
		for _, m := range e.ReadAll(t, topic) {
			var ev schemas.Event
			if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Kind == schemas.EventGoal {
				out = append(out, ev)
			}
		}
		return out
	}
	live := goalEvents("")
	// Allowed: launch, build active and test proposed; build done and test
	// active; test and launch done. Denied: launch blocked, build and test
	// proposed, then nothing.
	if want := (glyphs-denied)*7 + denied*3; len(live) != want {
		t.Fatalf("%d goal events on the log, want %d", len(live), want)
	}
	if got := testutil.ToFloat64(metrics.GoalChanges.WithLabelValues(string(lane))); got != float64(len(live)) {
		t.Errorf("lukhas_goal_changes_total = %v, the log holds %d goal events", got, len(live))
	}
	final := map[string]string{} // glyph/goal → status
	restored := 0
	for _, ev := range live {
		from, _ := ev.Payload.String("from")
		to, _ := ev.Payload.String("to")
		goal, _ := ev.Payload.String("goal")
		if phaseOf[ev.MsgID] > 0 {
			if from == "" {
				t.Fatalf("after the restart, event %s made goal %s of glyph %s anew (to %s): the state was not restored", ev.ID, goal, ev.GlyphID, to)
			}
			restored++
		}
		if ev.Stage != stages.StageGoals || ev.Lane != lane {
			t.Fatalf("goal event %+v: want stage goals on lane prod", ev)
		}
		final[ev.GlyphID+"/"+goal] = to
	}
	for g := range glyphs {
		want := "done"
		if g < denied {
			want = "blocked"
		}
		if got := final[stages.DerivedID("goals test glyph", fmt.Sprint(g))+"/launch"]; got != want {
			t.Fatalf("glyph %d's launch ends %q, want %q", g, got, want)
		}
	}

	// The partitions' last checkpoints hold the goals.
	held := 0
	for p := range int32(6) {
		cp, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), e.Brokers, topics.Name(string(lane), topics.KindState), p, 30*time.Second, newStateChunks(p))
		if err != nil {
			t.Fatalf("partition %d's cut: %v", p, err)
		}
		if cp == nil || cp.State[stages.StageGoals] == nil {
			continue
		}
		g, err := stages.NewGoals()
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Restore(cp.State[stages.StageGoals]); err != nil {
			t.Fatalf("partition %d's goals state: %v", p, err)
		}
		held += g.Stats().Goals
	}
	if held != glyphs*3 {
		t.Fatalf("the checkpoints hold %d goals, want %d (launch, build and test of every glyph)", held, glyphs*3)
	}

	var stats ReplayStats
	stats, err = Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL,
		Getenv: env, Name: "goals", Ranges: fullRanges(t, e, lane)})
	if err != nil {
		t.Fatal(err)
	}
	if replayed := goalEvents("goals"); len(replayed) != len(live) {
		t.Fatalf("the replay made %d goal events, live %d", len(replayed), len(live))
	}
	compareOutputs(t, readOutputs(t, e, string(lane), ""), readOutputs(t, e, string(lane), "goals"))
	t.Logf("%d goal events (%d after the restart, from restored state), %d goals checkpointed; a replay of %d records made the same events and outputs",
		len(live), restored, held, sum(stats.Records))
}
