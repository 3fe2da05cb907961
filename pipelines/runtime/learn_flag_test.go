package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
	"github.com/matriz/pipelines/topics"
)

// TestLearningFlagThroughControlAppliesFromTheNextFrame: a prod lane with
// dispatch on answers ideas of a few glyphs with LEARNING_ENABLED off (no
// learned state, so the learn stage says nothing), then on, then off again,
// each switch written to matriz.control as `matriz flags set` does. Per
// partition, records are learned exactly from the frame the flag_change
// decision names onward and until the next one, each glyph's centroid_n
// counting one up per idea learned and frozen (injected, not learned)
// once the flag is off; every switch is on the lane's log; and a replay of
// the lane's log gives the live outputs, learn crumbs included.
func TestLearningFlagThroughControlAppliesFromTheNextFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	var logs syncBuffer
	changed := make(chan FlagChange, 4)
	counters := &observe.LaneCounters{}
	env := envMap(map[string]string{FlagDispatch: "true"})
	metrics, err := observe.NewMetrics(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	stop := runLane(t, e, Config{Lane: lane, Counters: counters, Getenv: env, Metrics: metrics,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnFlagChange: func(c FlagChange) { changed <- c }})

	ideas := newIdeaSource(lane, 4)
	var sent []schemas.MatrizMessage
	phase := func(n int) {
		batch := ideas.batch(n)
		e.Produce(t, lane, batch, nil)
		sent = append(sent, batch...)
		waitCounted(t, counters, int64(len(sent)), time.Minute)
	}
	flip := func(on bool) {
		writeControl(t, e, FlagLearning, fmt.Sprint(on))
		select {
		case c := <-changed:
			if c.Name != FlagLearning || c.New != on {
				t.Fatalf("flag change %v, want %s → %v", c, FlagLearning, on)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the runtime did not apply the control record within 30s")
		}
	}
	phase(150)
	flip(true)
	phase(150)
	flip(false)
	phase(150)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	for _, want := range []string{"flag=LEARNING_ENABLED from=false to=true", "flag=LEARNING_ENABLED from=true to=false"} {
		if !strings.Contains(logs.String(), "flag changed") || !strings.Contains(logs.String(), want) {
			t.Fatalf("the lane's log lacks \"flag changed\" with %q:\n%s", want, logs.String())
		}
	}

	schedule := learningSchedule(t, e, lane)
	byID := make(map[string]*schemas.MatrizMessage, len(sent))
	for i := range sent {
		byID[sent[i].MsgID] = &sent[i]
	}
	type row struct {
		off     int64
		msg     *schemas.MatrizMessage
		late    bool
		crumb   schemas.Payload
		learned bool // the flag in force by the decisions on the log
	}
	byPart := map[int32][]row{}
	for _, m := range e.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &res); err != nil {
			t.Fatal(err)
		}
		in := byID[res.MsgID]
		if in == nil || res.Node != adapters.NameCreative || !res.OK {
			t.Fatalf("result %s of node %q ok=%v %v: want the creative node's answer to an idea sent", res.MsgID, res.Node, res.OK, res.Reasons)
		}
		p := int32(pipetest.HeaderInt(t, m, HeaderSrcPartition))
		r := row{off: pipetest.HeaderInt(t, m, HeaderSrcOffset), msg: in, late: pipetest.Header(m, HeaderLate) != "", learned: schedule.at(p, in.TS)}
		for _, c := range res.Trace {
			if c.Stage == stages.StageLearn {
				r.crumb = c.Data
			}
		}
		byPart[p] = append(byPart[p], r)
	}
	if n := sumRows(byPart); n != len(sent) {
		t.Fatalf("%d results for %d ideas", n, len(sent))
	}
	learned, frozen, switched, late := 0, 0, 0, 0
	final := map[int32]map[string]int64{} // each partition's glyphs' centroid_n at the end
	for p, rows := range byPart {
		slices.SortFunc(rows, func(a, b row) int { return int(a.off - b.off) })
		if schedule.switches(p) > 0 {
			switched++
		}
		n := map[string]int64{} // each glyph's centroid_n so far
		final[p] = n
		everOn := false
		for _, r := range rows {
			g := r.msg.Glyph.ID
			if r.late {
				// A late record runs in a frame of its own with the flags of
				// the partition's last frame, which the log does not pin to
				// its event time: it is checked against the count only.
				late++
				if r.crumb["learned"] == true {
					n[g]++
				}
				if r.crumb != nil && r.crumb["centroid_n"] != n[g] {
					t.Fatalf("partition %d offset %d (late): learn crumb %v, want centroid_n %d", p, r.off, r.crumb, n[g])
				}
				continue
			}
			everOn = everOn || r.learned
			switch {
			case r.learned:
				n[g]++
				want := schemas.Payload{"injected": n[g] > 1, "learned": true, "centroid_n": n[g]}
				if !maps.Equal(r.crumb, want) {
					t.Fatalf("partition %d offset %d, in a frame with %s on: learn crumb %v, want %v", p, r.off, FlagLearning, r.crumb, want)
				}
				learned++
			case !everOn:
				if r.crumb != nil {
					t.Fatalf("partition %d offset %d, before %s was ever on: learn crumb %v, want none (nothing learned, nothing to inject)", p, r.off, FlagLearning, r.crumb)
				}
			case n[g] == 0:
				if r.crumb != nil {
					t.Fatalf("partition %d offset %d: glyph never learned, yet crumb %v", p, r.off, r.crumb)
				}
			default:
				want := schemas.Payload{"injected": true, "learned": false, "centroid_n": n[g]}
				if !maps.Equal(r.crumb, want) {
					t.Fatalf("partition %d offset %d, %s off again: learn crumb %v, want the frozen centroid %v", p, r.off, FlagLearning, r.crumb, want)
				}
				frozen++
			}
		}
	}
	if switched == 0 || learned == 0 || frozen == 0 {
		t.Fatalf("%d partitions switched, %d ideas learned, %d injected frozen: the scenario does not exercise the flag", switched, learned, frozen)
	}
	if got := testutil.ToFloat64(metrics.LearnedIdeas.WithLabelValues(string(lane))); got != float64(learned) {
		t.Errorf("lukhas_learned_ideas_total = %v, the results show %d ideas learned", got, learned)
	}
	if got := testutil.ToFloat64(metrics.LearnRefused.WithLabelValues(string(lane))); got != 0 {
		t.Errorf("lukhas_learn_refused_total = %v, want 0 (a few glyphs, far under max_glyphs)", got)
	}
	t.Logf("%d partitions followed the flag_change decisions: %d ideas learned while on, %d given the frozen centroid after (%d late records checked by count only)", switched, learned, frozen, late)

	// The partitions' last checkpoints hold the centroids the results
	// count: the changelog carries the learn stage like any stateful one.
	for p, n := range final {
		cp, _, err := loadState(context.Background(), clock.Real{}, testLogger(t), e.Brokers, topics.Name(string(lane), topics.KindState), p, 30*time.Second, newStateChunks(p))
		if err != nil || cp == nil {
			t.Fatalf("partition %d's cut: %v (%v)", p, err, cp)
		}
		var snap struct {
			State struct {
				Glyphs map[string]struct {
					N int64 `json:"n"`
				} `json:"glyphs"`
			} `json:"state"`
		}
		if err := json.Unmarshal(cp.State[stages.StageLearn], &snap); err != nil {
			t.Fatalf("partition %d's cut %s: learn state %q: %v", p, cp.ID(), cp.State[stages.StageLearn], err)
		}
		got := map[string]int64{}
		for g, c := range snap.State.Glyphs {
			got[g] = c.N
		}
		for g, k := range n {
			if k == 0 {
				delete(n, g)
			}
		}
		if !maps.Equal(got, n) {
			t.Fatalf("partition %d's cut %s holds centroid counts %v, the results say %v", p, cp.ID(), got, n)
		}
	}

	stats, err := Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL,
		Getenv: env, Name: "learn", Ranges: fullRanges(t, e, lane)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replayed %d records with %d decisions", sum(stats.Records), stats.Decisions)
	live := readOutputs(t, e, string(lane), "")
	compareOutputs(t, live, readOutputs(t, e, string(lane), "learn"))

	// Every learned change is a learned_state event (the replay made the
	// same ones, compared above): per glyph, the ideas they count add up to
	// the ideas its results say it learned, and the last version is that
	// count.
	learnedIdeas, last := map[string]int64{}, map[string]int64{}
	for _, v := range live[topics.KindEvents] {
		ev := v.(*schemas.Event)
		if ev.Kind != schemas.EventLearnedState {
			continue
		}
		k, _ := ev.Payload.Int("ideas")
		ver, _ := ev.Payload.Int("version")
		learnedIdeas[ev.GlyphID] += k
		last[ev.GlyphID] = max(last[ev.GlyphID], ver)
	}
	want := map[string]int64{}
	for _, n := range final {
		for g, k := range n {
			want[g] += k
		}
	}
	if len(want) == 0 || !maps.Equal(learnedIdeas, want) || !maps.Equal(last, want) {
		t.Fatalf("learned_state events count ideas %v with last versions %v; the results say %v", learnedIdeas, last, want)
	}
	t.Logf("learned_state events account for every idea learned: %v", want)
}

// ideaSource makes ideas for the creative node: synthetic messages on topic
// "idea" with a features vector, stamped with the wall clock as a live
// producer would.
type ideaSource struct {
	gen *devstack.Synthetic
	rng *rand.Rand
}

func newIdeaSource(lane schemas.Lane, glyphs int) *ideaSource {
	return &ideaSource{gen: devstack.NewSynthetic(lane, 17, glyphs), rng: rand.New(rand.NewPCG(17, 71))}
}

func (s *ideaSource) batch(n int) []schemas.MatrizMessage {
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		m := s.gen.Next(time.Now())
		m.Topic = "idea"
		f := make([]float64, 4)
		for j := range f {
			f[j] = 0.1 + s.rng.Float64()
		}
		m.Payload["features"] = f
		out[i] = m
	}
	return out
}

// flagSchedule is, per partition, the LEARNING_ENABLED values the
// flag_change decisions on the event log put in force, from each
// decision's frame start on.
type flagSchedule map[int32][]flagFrom

type flagFrom struct {
	start   int64 // the frame's start, Unix ns
	on      bool
	initial bool
}

func learningSchedule(t *testing.T, e *pipetest.Env, lane schemas.Lane) flagSchedule {
	t.Helper()
	s := flagSchedule{}
	for _, m := range e.ReadAll(t, topics.Name(string(lane), topics.KindEvents)) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind != schemas.EventFlagChange {
			continue
		}
		p, _ := ev.Payload.Int("partition")
		start, _ := ev.Payload.Int("start_ns")
		on, ok := ev.Payload[FlagLearning].(bool)
		if !ok {
			t.Fatalf("flag_change decision %s has no %s: %v", ev.ID, FlagLearning, ev.Payload)
		}
		s[int32(p)] = append(s[int32(p)], flagFrom{start: start, on: on, initial: ev.Payload["initial"] == true})
	}
	for p := range s {
		slices.SortFunc(s[p], func(a, b flagFrom) int { return int(a.start - b.start) })
	}
	return s
}

// at returns the LEARNING_ENABLED value in force on partition p for a
// record of event time ts, by the decisions on the log.
func (s flagSchedule) at(p int32, ts time.Time) bool {
	on := false
	for _, f := range s[p] {
		if f.start > ts.UnixNano() {
			break
		}
		on = f.on
	}
	return on
}

// switches counts p's decisions that turned LEARNING_ENABLED on or off.
func (s flagSchedule) switches(p int32) int {
	n, prev := 0, false
	for _, f := range s[p] {
		if !f.initial && f.on != prev {
			n++
		}
		prev = f.on
	}
	return n
}

func sumRows[T any](m map[int32][]T) int {
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	return n
}
