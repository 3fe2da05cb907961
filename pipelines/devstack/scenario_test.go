package devstack

import (
	"context"
	"errors"
	"hash/fnv"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

// scenarioEpoch is the event time the unit tests start their scenarios at.
var scenarioEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// stepped is one record with the time of the step that made it.
type stepped struct {
	ScenarioRecord
	at time.Duration // since the scenario's start
}

// runScenario steps a scenario of lane every 1/rate of event time for d.
func runScenario(t *testing.T, lane schemas.Lane, d time.Duration, rate int, opts ...ScenarioOption) []stepped {
	t.Helper()
	sc, err := NewScenario(lane, opts...)
	if err != nil {
		t.Fatal(err)
	}
	every := time.Second / time.Duration(rate)
	var out []stepped
	for at := time.Duration(0); at < d; at += every {
		for _, r := range sc.Next(scenarioEpoch.Add(at)) {
			out = append(out, stepped{r, at})
		}
	}
	return out
}

// drift1 is 1 − cos(intent, action) of a message.
func drift1(t *testing.T, m *schemas.MatrizMessage) float64 {
	t.Helper()
	i, ok1 := m.Payload.Vector("intent")
	a, ok2 := m.Payload.Vector("action")
	if !ok1 || !ok2 || len(i) != len(a) {
		t.Fatalf("message %s has no intent/action pair: %v", m.MsgID, m.Payload)
	}
	var dot float64
	for k := range i {
		dot += i[k] * a[k]
	}
	return 1 - dot/(vecLen(i)*vecLen(a))
}

func TestScenarioEveryEpisodeInEveryCycle(t *testing.T) {
	const rate = 200
	cycle := 24 * time.Second
	recs := runScenario(t, schemas.LaneProd, 3*cycle, rate)
	for c := range 3 {
		from, to := time.Duration(c)*cycle, time.Duration(c+1)*cycle
		episodes := map[string]int{}
		corrupt := map[Corruption]int{}
		var stormTS []time.Time
		var driftMax float64
		background := 0
		for _, r := range recs {
			if r.at < from || r.at >= to {
				continue
			}
			phase := r.at - from
			episodes[r.Episode]++
			switch r.Episode {
			case EpisodeCorrupt:
				corrupt[r.Corrupt]++
			case EpisodeFoldStorm:
				stormTS = append(stormTS, r.Msg.TS)
			case EpisodeDrift:
				if phase < driftFrom || phase >= driftTo {
					t.Errorf("cycle %d: drift record at %v, outside the episode [%v, %v)", c, phase, driftFrom, driftTo)
				}
				driftMax = max(driftMax, drift1(t, &r.Msg))
			case EpisodeBaseline:
				background++
				if d := drift1(t, &r.Msg); d > 0.01 {
					t.Errorf("cycle %d: background message at %v drifts %.3f", c, phase, d)
				}
			}
			// Each scripted record comes with the step that reaches its beat.
			onBeat := slices.ContainsFunc(scenarioScript, func(b ScenarioBeat) bool {
				return b.Episode == r.Episode && b.Corrupt == r.Corrupt && phase >= b.At && phase < b.At+time.Second/rate
			})
			if r.Episode != EpisodeBaseline && r.Episode != EpisodeDrift && !onBeat {
				t.Errorf("cycle %d: %s record at %v is on no beat of the script", c, r.Episode, phase)
			}
		}
		t.Logf("cycle %d: %v corrupt %v, drift max %.2f", c, episodes, corrupt, driftMax)
		want := map[string]int{EpisodeNoConsent: 1, EpisodeRiskyAction: 1, EpisodeApproval: 1, EpisodeAction: 1, EpisodeBreakthrough: 2, EpisodeFoldStorm: stormWrites, EpisodeCorrupt: 4}
		for ep, n := range want {
			if episodes[ep] != n {
				t.Errorf("cycle %d: %d %s records, want %d", c, episodes[ep], ep, n)
			}
		}
		for _, k := range []Corruption{CorruptMagic, CorruptTruncated, CorruptSchemaID, CorruptContract} {
			if corrupt[k] != 1 {
				t.Errorf("cycle %d: %d records corrupted %q, want 1", c, corrupt[k], k)
			}
		}
		// One step per 1/rate: the background keeps the rate exactly.
		if got := background + episodes[EpisodeDrift]; got != rate*int(cycle/time.Second) {
			t.Errorf("cycle %d: %d background steps, want %d", c, got, rate*int(cycle/time.Second))
		}
		// Half the glyphs drift for 7s: about a sixth of the cycle's steps.
		if n := episodes[EpisodeDrift]; n < 500 || n > 900 {
			t.Errorf("cycle %d: %d drifting messages, want about %d", c, n, rate*7/2)
		}
		if driftMax < 1.0 || driftMax > 2 {
			t.Errorf("cycle %d: peak drift %.3f, want in [1.0, 2]", c, driftMax)
		}
		oneTime := len(stormTS) > 0 && !slices.ContainsFunc(stormTS, func(ts time.Time) bool { return !ts.Equal(stormTS[0]) })
		if len(stormTS) != stormWrites || !oneTime {
			t.Errorf("cycle %d: fold storm of %d writes at %v, want %d writes at one event time", c, len(stormTS), stormTS, stormWrites)
		}
	}
}

func TestScenarioDriftRampsUpAndRecovers(t *testing.T) {
	for _, tc := range []struct {
		phase time.Duration
		lo    float64
		hi    float64
	}{
		{0, 0, 0}, {driftFrom - time.Millisecond, 0, 0}, {driftFrom, 0, 0},
		{driftFrom + driftRamp/2, driftPeak/2 - 1e-9, driftPeak/2 + 1e-9},
		{driftFrom + driftRamp, driftPeak, driftPeak}, {6 * time.Second, driftPeak, driftPeak},
		{driftTo - driftRamp/2, driftPeak/2 - 1e-9, driftPeak/2 + 1e-9},
		{driftTo, 0, 0}, {20 * time.Second, 0, 0},
	} {
		if got := scenarioDriftAt(tc.phase); got < tc.lo || got > tc.hi {
			t.Errorf("drift at %v = %v, want in [%v, %v]", tc.phase, got, tc.lo, tc.hi)
		}
	}
	// The vectors carry the drift asked for.
	sc, err := NewScenario(schemas.LaneCandidate)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []float64{0.3, 1, 1.2, 1.9, 2} {
		p := sc.vitals(want)
		m := schemas.MatrizMessage{MsgID: "x", Payload: p}
		if got := drift1(t, &m); math.Abs(got-want) > 1e-9 {
			t.Errorf("vitals(%v): 1 − cos = %v", want, got)
		}
	}
}

func TestScenarioIsDeterministicForASeed(t *testing.T) {
	a := runScenario(t, schemas.LaneCandidate, 8*time.Second, 100, ScenarioSeed(7))
	b := runScenario(t, schemas.LaneCandidate, 8*time.Second, 100, ScenarioSeed(7))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two scenarios with seed 7 and the same step times made different records")
	}
	c := runScenario(t, schemas.LaneCandidate, 8*time.Second, 100, ScenarioSeed(8))
	if len(c) != len(a) {
		t.Fatalf("seed 8 made %d records, seed 7 %d: the script must not depend on the seed", len(c), len(a))
	}
	ids := map[string]bool{}
	for _, r := range a {
		ids[r.Msg.MsgID] = true
	}
	if len(ids) != len(a) {
		t.Errorf("%d records share %d msg_ids", len(a), len(ids))
	}
	same := 0
	scripted := func(rs []stepped) []string {
		var out []string
		for _, r := range rs {
			if r.Episode != EpisodeBaseline && r.Episode != EpisodeDrift {
				out = append(out, r.Episode+"@"+r.at.String())
			}
		}
		return out
	}
	for i := range a {
		if ids[c[i].Msg.MsgID] {
			same++
		}
	}
	if sa, sc := scripted(a), scripted(c); !slices.Equal(sa, sc) {
		t.Errorf("the script differs between seeds:\nseed 7 %v\nseed 8 %v", sa, sc)
	}
	if same > 0 {
		t.Errorf("seed 8 reused %d msg_ids of seed 7", same)
	}
	// Glyphs follow the lane, not the seed: a restarted dev keeps them.
	if a[0].Msg.Glyph.ID == "" || !slices.ContainsFunc(c, func(r stepped) bool { return r.Msg.Glyph.ID == a[0].Msg.Glyph.ID }) {
		t.Errorf("glyph %q of seed 7 is not in seed 8's traffic", a[0].Msg.Glyph.ID)
	}
	d := runScenario(t, schemas.LaneProd, 8*time.Second, 100, ScenarioSeed(7))
	if d[0].Msg.Glyph.ID == a[0].Msg.Glyph.ID || d[0].Msg.MsgID == a[0].Msg.MsgID {
		t.Error("two lanes share glyph or message ids")
	}
}

func TestScenarioTimeNeverRunsBack(t *testing.T) {
	sc, err := NewScenario(schemas.LaneExperimental)
	if err != nil {
		t.Fatal(err)
	}
	sc.Next(scenarioEpoch)
	got := sc.Next(scenarioEpoch.Add(1500 * time.Millisecond)) // magic and no consent are due
	if len(got) != 3 {
		t.Fatalf("step at 1.5s made %d records, want 3 (two beats and the background)", len(got))
	}
	// An earlier clock reading must not replay the beats.
	if got := sc.Next(scenarioEpoch.Add(time.Second)); len(got) != 1 {
		t.Fatalf("step back at 1s made %d records, want 1", len(got))
	}
	// A jump past a whole cycle starts the script over, without a flood of
	// the beats it skipped.
	if got := sc.Next(scenarioEpoch.Add(sc.Cycle() + 500*time.Millisecond)); len(got) != 1 {
		t.Fatalf("step at cycle 1 + 0.5s made %d records, want 1", len(got))
	}
	if got := sc.Next(scenarioEpoch.Add(sc.Cycle() + 1200*time.Millisecond)); len(got) != 2 || got[0].Corrupt != CorruptMagic {
		t.Fatalf("step at cycle 1 + 1.2s: %d records, want the wrong-magic beat and the background", len(got))
	}
}

func TestScenarioOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		lane schemas.Lane
		opts []ScenarioOption
		want string
	}{
		{"few glyphs", schemas.LaneProd, []ScenarioOption{ScenarioGlyphs(2)}, "2 glyphs"},
		{"short cycle", schemas.LaneProd, []ScenarioOption{ScenarioCycle(5 * time.Second)}, "cycle 5s"},
		{"bad lane", "staging", nil, `lane "staging"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewScenario(tc.lane, tc.opts...)
			if !errors.Is(err, ErrScenarioConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrScenarioConfig naming %s", err, tc.want)
			}
		})
	}
}

// scenarioLookup is a schema lookup that knows the message schema as id 1.
func scenarioLookup(t *testing.T) *schemas.SchemaLookup {
	t.Helper()
	text, err := schemas.Text(schemas.NameMessage)
	if err != nil {
		t.Fatal(err)
	}
	l, err := schemas.NewSchemaLookup(schemas.StaticFetcher(map[uint32]string{1: text}))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestScenarioRecordsOnTheWire(t *testing.T) {
	lookup := scenarioLookup(t)
	ctx := context.Background()
	reasons := map[Corruption]map[string]int{}
	for _, lane := range schemas.Lanes {
		for _, r := range runScenario(t, lane, 26*time.Second, 50) {
			b, err := r.Wire(1)
			if err != nil {
				t.Fatalf("%s record %s: %v", r.Episode, r.Msg.MsgID, err)
			}
			if !slices.Equal(r.Key(), []byte(r.Msg.Glyph.ID)) {
				t.Fatalf("key %q, want the glyph id %s", r.Key(), r.Msg.Glyph.ID)
			}
			var got schemas.MatrizMessage
			_, err = schemas.DecodeWire(ctx, lookup, b, &got)
			// What the lane worker would do with these bytes.
			reason := ""
			switch {
			case err != nil:
				reason = runtime.DecodeReason(err)
				if reason == "" {
					t.Fatalf("%s: decode error %v is taken as transient: the worker would retry it forever", r.Corrupt, err)
				}
			case got.Validate() != nil:
				reason = runtime.ReasonContract
			}
			if reasons[r.Corrupt] == nil {
				reasons[r.Corrupt] = map[string]int{}
			}
			reasons[r.Corrupt][reason]++
			if r.Corrupt == CorruptNone && !reflect.DeepEqual(got, r.Msg) {
				t.Fatalf("%s message %s does not survive the wire:\n got %+v\nwant %+v", r.Episode, r.Msg.MsgID, got, r.Msg)
			}
		}
	}
	want := map[Corruption]string{
		CorruptNone: "", CorruptMagic: runtime.ReasonUndecodable, CorruptTruncated: runtime.ReasonUndecodable,
		CorruptSchemaID: runtime.ReasonUnknownSchemaID, CorruptContract: runtime.ReasonContract,
	}
	for c, reason := range want {
		if len(reasons[c]) != 1 || reasons[c][reason] == 0 {
			t.Errorf("records corrupted %q got DLQ reasons %v, want only %q", c, reasons[c], reason)
		}
	}
	t.Logf("DLQ reasons by corruption: %v", reasons)
}

func TestScenarioBackgroundIsHealthyForEveryNode(t *testing.T) {
	nodes := map[string]stages.Node{}
	for _, n := range adapters.All() {
		nodes[n.Name()] = n
	}
	routes := adapters.DefaultRoutes()
	answered := map[string]int{}
	topicsSeen := map[string]bool{}
	ctx := context.Background()
	for _, r := range runScenario(t, schemas.LaneCandidate, 3*time.Second, 200) {
		m := &r.Msg
		if r.Episode == EpisodeCorrupt {
			continue
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("%s message %s: %v", r.Episode, m.MsgID, err)
		}
		node := nodes[routes[m.Topic]]
		if node == nil {
			t.Fatalf("%s message on topic %q, which no node answers", r.Episode, m.Topic)
		}
		res, err := node.Handle(ctx, m)
		if err != nil || !res.OK {
			t.Fatalf("%s message on %s: node %s: ok=%v err=%v reasons=%v", r.Episode, m.Topic, node.Name(), res.OK, err, res.Reasons)
		}
		answered[node.Name()]++
		if r.Episode != EpisodeBaseline {
			continue
		}
		topicsSeen[m.Topic] = true
		if m.Glyph.Tags["consent"] != "granted" || m.Glyph.Tags["purpose"] == "" {
			t.Fatalf("background glyph %s tags %v: want consent granted and a purpose", m.Glyph.ID, m.Glyph.Tags)
		}
		if risk, _ := m.Payload.Float("risk"); risk > 0.3 {
			t.Fatalf("background risk %v", risk)
		}
		if node.Name() == adapters.NameCreative {
			// The creative node's novelty replaces the input's with
			// dispatch on: it must stay in the background's band.
			if nov, _ := res.Payload.Float("novelty"); nov < 0.2 || nov > 0.5 {
				t.Errorf("creative novelty %v for a background idea, want 0.2..0.5", nov)
			}
		}
	}
	if len(answered) != len(nodes) {
		t.Errorf("nodes answered: %v; want all %d", answered, len(nodes))
	}
	if len(topicsSeen) != len(routes) {
		t.Errorf("background used %d of the %d routed topics", len(topicsSeen), len(routes))
	}
}

// chainRun is what the lane chain made of a scenario.
type chainRun struct {
	records   map[string]*stages.Record // by msg_id
	episode   map[string]string         // msg_id → episode
	events    map[schemas.EventKind][]schemas.Event
	actions   []schemas.Event
	emaBefore float64 // the largest lane drift EMA in [1s, driftFrom)
	emaDuring float64 // ... in [driftFrom, driftTo)
	emaAfter  float64 // ... in [12s, end)
}

// runChain feeds a scenario of lane through the lane's chain built from
// the embedded spec, as the worker does: keys hashed to 6 partitions, one
// frame per partition per 1/30 s of event time, the lane drift EMA read
// after every frame as the runtime's gauge reads it.
func runChain(t *testing.T, lane schemas.Lane, flags stages.Flags, d time.Duration) *chainRun {
	t.Helper()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	lc, err := sp.Lanes[lane].Chain(lane, spec.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chains := map[int32]*stages.Chain{}    // one per partition, as the runtime makes them
	drift := map[int32]stages.DriftStats{} // each partition's last figures, pooled for the gauge
	const parts, fps = 6, 30
	type key struct {
		seq  int64
		part int32
	}
	frames := map[key]*stages.Frame{}
	offsets := map[int32]int64{}
	run := &chainRun{records: map[string]*stages.Record{}, episode: map[string]string{}, events: map[schemas.EventKind][]schemas.Event{}}
	for _, r := range runScenario(t, lane, d, 200) {
		if r.Corrupt != CorruptNone {
			continue // the worker sends these to the DLQ before any frame
		}
		h := fnv.New32a()
		h.Write(r.Key())
		part := int32(h.Sum32() % parts)
		seq := r.Msg.TS.UnixNano() * fps / int64(time.Second)
		k := key{seq, part}
		f := frames[k]
		if f == nil {
			f = &stages.Frame{Lane: lane, Partition: part, Seq: seq, FPS: fps, Flags: flags,
				Start: time.Unix(0, seq*int64(time.Second)/fps).UTC(), End: time.Unix(0, (seq+1)*int64(time.Second)/fps).UTC()}
			frames[k] = f
		}
		msg := r.Msg
		f.Records = append(f.Records, stages.Record{Partition: part, Offset: offsets[part], Msg: &msg})
		offsets[part]++
		run.episode[msg.MsgID] = r.Episode
	}
	keys := make([]key, 0, len(frames))
	for k := range frames {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].seq != keys[j].seq {
			return keys[i].seq < keys[j].seq
		}
		return keys[i].part < keys[j].part
	})
	start := scenarioEpoch.UnixNano() * fps / int64(time.Second)
	for _, k := range keys {
		f := frames[k]
		chain := chains[k.part]
		if chain == nil {
			if chain, err = lc.Factory.New(); err != nil {
				t.Fatal(err)
			}
			chains[k.part] = chain
		}
		if err := chain.Run(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		for i := range f.Records {
			r := &f.Records[i]
			if r.Failure != nil {
				t.Fatalf("%s message %s failed in %s: %s", run.episode[r.Msg.MsgID], r.Msg.MsgID, r.Failure.Stage, r.Failure.Reason)
			}
			run.records[r.Msg.MsgID] = r
		}
		for _, ev := range f.Events {
			run.events[ev.Kind] = append(run.events[ev.Kind], ev)
		}
		run.actions = append(run.actions, f.Actions...)
		d, _ := stages.As[*stages.Drift](chain)
		drift[k.part] = d.Stats()
		ema := stages.PoolDriftStats(lane, slices.Collect(maps.Values(drift))).EMA
		switch at := time.Duration(k.seq-start) * time.Second / fps; {
		case at >= time.Second && at < driftFrom:
			run.emaBefore = max(run.emaBefore, ema)
		case at >= driftFrom && at < driftTo:
			run.emaDuring = max(run.emaDuring, ema)
		case at >= 12*time.Second:
			run.emaAfter = max(run.emaAfter, ema)
		}
	}
	return run
}

func TestScenarioExercisesEveryStage(t *testing.T) {
	for _, tc := range []struct {
		lane     schemas.Lane
		flags    stages.Flags
		approval stages.Outcome // the P0 action's outcome
		action   stages.Outcome // the P2 action's outcome
	}{
		{schemas.LaneExperimental, stages.Flags{Dispatch: true, ExtActions: true}, stages.OutcomeDryRun, stages.OutcomeDryRun},
		{schemas.LaneCandidate, stages.Flags{Dispatch: true, ExtActions: true}, stages.OutcomeDryRun, stages.OutcomeDryRun},
		{schemas.LaneProd, stages.Flags{Dispatch: true, ExtActions: true}, stages.OutcomePending, stages.OutcomeExecuted},
		{schemas.LaneProd, stages.Flags{}, stages.OutcomeDryRun, stages.OutcomeDryRun}, // the spec's defaults: log-only, no external actions
	} {
		t.Run(string(tc.lane)+map[bool]string{true: "/dispatch", false: "/log-only"}[tc.flags.Dispatch], func(t *testing.T) {
			run := runChain(t, tc.lane, tc.flags, 16*time.Second)
			byEpisode := map[string][]*stages.Record{}
			outcomes := map[string]map[stages.Outcome]int{}
			for id, r := range run.records {
				ep := run.episode[id]
				byEpisode[ep] = append(byEpisode[ep], r)
				if outcomes[ep] == nil {
					outcomes[ep] = map[stages.Outcome]int{}
				}
				outcomes[ep][r.Verdict.Outcome]++
			}
			t.Logf("outcomes by episode: %v", outcomes)
			t.Logf("lane drift EMA: before %.3f, during %.3f, after %.3f; events: %d circuit_break, %d breakthrough, %d drift_alert",
				run.emaBefore, run.emaDuring, run.emaAfter, len(run.events[schemas.EventCircuitBreak]), len(run.events[schemas.EventBreakthrough]), len(run.events[schemas.EventDriftAlert]))

			// Dispatch: every result is a node's, not the router's.
			for id, r := range run.records {
				if tc.flags.Dispatch == (r.Result.Node == stages.RouterNode) {
					t.Fatalf("%s message %s answered by %q with dispatch %v", run.episode[id], id, r.Result.Node, tc.flags.Dispatch)
				}
			}
			// Drift: the lane EMA the gauge shows passes warn during the
			// episode only.
			if run.emaBefore >= 0.05 || run.emaDuring <= 0.20 || run.emaAfter >= 0.20 {
				t.Errorf("lane drift EMA before %.3f (want < 0.05), during %.3f (want > 0.20), after %.3f (want < 0.20)", run.emaBefore, run.emaDuring, run.emaAfter)
			}
			if len(run.events[schemas.EventDriftAlert]) == 0 {
				t.Error("no drift_alert during the drift episode")
			}
			// Fold storm: the breaker trips, in the storm's frame.
			breaks := run.events[schemas.EventCircuitBreak]
			if len(breaks) != 1 || run.episode[breaks[0].MsgID] != EpisodeFoldStorm {
				t.Errorf("circuit breaks %v, want one, tripped by the fold storm", breaks)
			}
			// Breakthrough: both spikes flag, and nothing else does.
			flagged := map[string]bool{}
			for _, ev := range run.events[schemas.EventBreakthrough] {
				flagged[ev.MsgID] = true
				if run.episode[ev.MsgID] != EpisodeBreakthrough {
					t.Errorf("a %s message flagged as a breakthrough: %v", run.episode[ev.MsgID], ev.Payload)
				}
			}
			for _, r := range byEpisode[EpisodeBreakthrough] {
				if !flagged[r.Msg.MsgID] {
					t.Errorf("breakthrough spike %s not flagged (z %v)", r.Msg.MsgID, r.Scores[stages.ScoreBreakthroughZ])
				}
			}
			// Guardian.
			expect := func(ep string, want stages.Outcome, reason string) {
				t.Helper()
				rs := byEpisode[ep]
				if len(rs) != 1 {
					t.Fatalf("%d %s records, want 1", len(rs), ep)
				}
				v := rs[0].Verdict
				if v.Outcome != want || !slices.ContainsFunc(v.Reasons, func(s string) bool { return strings.Contains(s, reason) }) {
					t.Errorf("%s: %s %v, want %s with a reason containing %q", ep, v.Outcome, v.Reasons, want, reason)
				}
			}
			expect(EpisodeNoConsent, stages.OutcomeDeny, "consent tag missing")
			expect(EpisodeRiskyAction, stages.OutcomeDeny, "exceeds max_risk 0.5")
			approvalWhy := map[stages.Outcome]string{stages.OutcomePending: "P0 action awaits a human approval", stages.OutcomeDryRun: ""}[tc.approval]
			expect(EpisodeApproval, tc.approval, approvalWhy)
			if tc.action == stages.OutcomeExecuted {
				if v := byEpisode[EpisodeAction][0].Verdict; v.Outcome != stages.OutcomeExecuted {
					t.Errorf("P2 action: %s %v, want executed", v.Outcome, v.Reasons)
				}
			} else {
				expect(EpisodeAction, tc.action, "")
			}
			if tc.approval == stages.OutcomePending {
				previews := 0
				for _, a := range run.actions {
					if a.MsgID == byEpisode[EpisodeApproval][0].Msg.MsgID && a.Payload["status"] == stages.ActionPreview {
						previews++
					}
				}
				if previews != 1 {
					t.Errorf("%d previews of the waiting P0 action on the actions topic, want 1", previews)
				}
			}
			// The fold storm's writes past the budget are refused.
			refused := 0
			for _, r := range byEpisode[EpisodeFoldStorm] {
				if !r.Result.OK {
					refused++
				}
			}
			if want := stormWrites - 256/stormFanout; refused < want {
				t.Errorf("%d storm writes refused, want at least %d", refused, want)
			}
			// Healthy background before the episodes: every message allowed.
			for id, r := range run.records {
				if run.episode[id] == EpisodeBaseline && r.Msg.TS.Before(scenarioEpoch.Add(driftFrom)) && r.Verdict.Outcome != stages.OutcomeAllow {
					t.Errorf("background message %s on %s at %v: %s %v", id, r.Msg.Topic, r.Msg.TS.Sub(scenarioEpoch), r.Verdict.Outcome, r.Verdict.Reasons)
				}
			}
		})
	}
}

func TestTurnVectorKeepsLengthAndAngle(t *testing.T) {
	v := []float64{3, 0, 4, 0}
	for _, r := range [][]float64{{0, 1, 0, 0}, {6, 0, 8, 0}, {0, 0, 0, 0}} { // generic, parallel, zero
		for _, cos := range []float64{1, 0.5, 0, -0.3, -1} {
			w := turnVector(v, r, cos)
			var dot float64
			for i := range v {
				dot += v[i] * w[i]
			}
			if got := dot / (vecLen(v) * vecLen(w)); math.Abs(got-cos) > 1e-12 || math.Abs(vecLen(w)-5) > 1e-12 {
				t.Errorf("turnVector(%v, %v, %v) = %v: cos %v, length %v", v, r, cos, w, got, vecLen(w))
			}
		}
	}
}

func TestWireRefusesAnUnknownCorruption(t *testing.T) {
	r := ScenarioRecord{Corrupt: "gremlins"}
	if _, err := r.Wire(1); !errors.Is(err, ErrScenarioConfig) || !strings.Contains(err.Error(), "gremlins") {
		t.Fatalf("err = %v, want ErrScenarioConfig naming the corruption", err)
	}
}

// BenchmarkScenarioNext measures one step of the scenario: the generator
// alone, and with the wire encoding the producer does per message.
func BenchmarkScenarioNext(b *testing.B) {
	for _, wire := range []bool{false, true} {
		b.Run(map[bool]string{false: "generate", true: "generate+wire"}[wire], func(b *testing.B) {
			sc, err := NewScenario(schemas.LaneProd)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			at := scenarioEpoch
			for b.Loop() {
				at = at.Add(5 * time.Millisecond)
				recs := sc.Next(at)
				for _, r := range recs {
					if !wire {
						break
					}
					if _, err := r.Wire(1); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
