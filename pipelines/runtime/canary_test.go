package runtime

import (
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// canaryEnv starts the embedded broker with prod and its canary's topics.
func canaryEnv(t *testing.T) *pipetest.Env {
	t.Helper()
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	if _, err := ops.Deploy(t.Context(), ops.DeployConfig{Brokers: e.Brokers, RegistryURL: e.RegistryURL, Lanes: []schemas.Lane{lane},
		Namespaces: map[schemas.Lane][]string{lane: {topics.CanaryNamespace}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// canaryInputs makes gen's next n prod messages, every fifth an external
// action within policy, which prod executes. Over 10,000 glyphs the keys'
// share in the canary is the fraction's.
func canaryInputs(gen *devstack.Synthetic, n int) []schemas.MatrizMessage {
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		out[i] = gen.Next(time.Now())
		if i%5 == 0 {
			out[i].Payload["action_kind"], out[i].Payload["priority"], out[i].Payload["risk"] = "notify", "P2", 0.05
		}
	}
	return out
}

// canaryRun is what one run of prod with a canary left on the log.
type canaryRun struct {
	prodResults map[string]int // msg id → results on matriz.prod.results
	prodMarked  int            // records on prod's own topics carrying the canary header
	prodDupIDs  int            // output ids written twice on one of prod's topics
	canaryMsgs  map[string]bool
	canaryRecs  int
	unmarked    int            // canary records without the canary header
	statuses    map[string]int // canary action statuses
	prodExec    int            // actions prod executed
	aborts      []schemas.Event
}

func readCanaryRun(t *testing.T, e *pipetest.Env) canaryRun {
	t.Helper()
	lane := string(schemas.LaneProd)
	r := canaryRun{prodResults: map[string]int{}, canaryMsgs: map[string]bool{}, statuses: map[string]int{}}
	for _, k := range topics.ReplayKinds() {
		seen := map[string]bool{}
		for _, m := range e.ReadAll(t, topics.Name(lane, k)) {
			if pipetest.Header(m, HeaderCanary) != "" {
				r.prodMarked++
			}
			id := pipetest.Header(m, HeaderOutputID)
			if id != "" && seen[id] {
				r.prodDupIDs++
			}
			seen[id] = true
			switch k {
			case topics.KindResults:
				r.prodResults[pipetest.Header(m, HeaderMsgID)]++
			case topics.KindEvents:
				var ev schemas.Event
				if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Kind == schemas.EventCanaryAbort {
					r.aborts = append(r.aborts, ev)
				}
			case topics.KindActions:
				var ev schemas.Event
				if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &ev); err != nil {
					t.Fatal(err)
				}
				if s, _ := ev.Payload.String("status"); s == stages.ActionExecuted {
					r.prodExec++
				}
			}
		}
		for _, m := range e.ReadAll(t, topics.CanaryName(lane, k)) {
			r.canaryRecs++
			if pipetest.Header(m, HeaderCanary) == "" {
				r.unmarked++
			}
			if id := pipetest.Header(m, HeaderIDMsg); id != "" {
				r.canaryMsgs[id] = true
			}
			if k == topics.KindActions {
				var ev schemas.Event
				if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &ev); err != nil {
					t.Fatal(err)
				}
				s, _ := ev.Payload.String("status")
				r.statuses[s]++
			}
		}
	}
	return r
}

// TestCanaryShadowsOnePercentAndNeverReachesProd: 10,000 prod inputs with
// a canary of prod's own config at 1%: about 1% (± 0.3%) of them are
// answered on matriz.prod.canary.*, every one of them also on prod; prod's
// topics hold exactly one result per input and no output of the canary;
// the canary executes nothing (would_execute, never executed), while prod
// executes its actions; the chains agree, so nothing aborts.
func TestCanaryShadowsOnePercentAndNeverReachesProd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: 10,000 messages on the embedded broker (skipped with -short)")
	}
	const n = 10000
	lane := schemas.LaneProd
	e := canaryEnv(t)
	sp, err := spec.Parse("canary.yaml", []byte("lanes:\n  prod:\n    canary: {lane: prod, fraction: 0.01, min_agreement: 0.9, min_samples: 20}\n"))
	if err != nil {
		t.Fatal(err)
	}
	counters := &observe.LaneCounters{}
	var logs syncBuffer
	stop := runLane(t, e, Config{Lane: lane, Spec: sp, Counters: counters, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Getenv: envMap(map[string]string{FlagDispatch: "true", FlagExtActions: "true"})})
	in := canaryInputs(devstack.NewSynthetic(lane, 1, 10000), n)
	start := time.Now()
	e.Produce(t, lane, in, nil)
	waitCounted(t, counters, n, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d inputs answered in %v", n, time.Since(start).Round(time.Millisecond))

	r := readCanaryRun(t, e)
	sampler, err := stages.NewCanarySampler(0.01)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, m := range in {
		if sampler.Sampled([]byte(m.Glyph.ID)) {
			want++
			if !r.canaryMsgs[m.MsgID] {
				t.Errorf("sampled input %s (glyph %s) has no canary output", m.MsgID, m.Glyph.ID)
			}
		}
		if r.prodResults[m.MsgID] != 1 {
			t.Errorf("input %s has %d results on matriz.prod.results, want 1", m.MsgID, r.prodResults[m.MsgID])
		}
	}
	share := float64(len(r.canaryMsgs)) / n
	t.Logf("canary: %d of %d inputs (%.2f%%), %d records on matriz.prod.canary.*, action statuses %v; prod executed %d actions",
		len(r.canaryMsgs), n, share*100, r.canaryRecs, r.statuses, r.prodExec)
	if len(r.canaryMsgs) != want || math.Abs(share-0.01) > 0.003 {
		t.Errorf("the canary answered %d inputs (%.2f%%), want the %d sampled, 1%% ± 0.3%%", len(r.canaryMsgs), share*100, want)
	}
	if len(r.prodResults) != n || r.prodMarked != 0 || r.prodDupIDs != 0 {
		t.Errorf("prod's topics: %d inputs answered, %d canary records, %d repeated output ids; want %d, 0, 0", len(r.prodResults), r.prodMarked, r.prodDupIDs, n)
	}
	if r.unmarked != 0 {
		t.Errorf("%d records on the canary's topics without the %s header", r.unmarked, HeaderCanary)
	}
	if r.statuses[stages.ActionExecuted] != 0 || r.statuses["executing"] != 0 || r.statuses[stages.ActionWouldExecute] == 0 || r.prodExec == 0 {
		t.Errorf("canary action statuses %v, prod executed %d: want would_execute and no executed or executing in the canary, executions in prod", r.statuses, r.prodExec)
	}
	if len(r.aborts) != 0 || strings.Contains(logs.String(), "canary aborted") {
		t.Errorf("a canary of prod's own config aborted: %v", r.aborts)
	}
}

// TestCanaryWithAnotherThresholdAborts: a canary whose guardian allows
// less risk (max_risk 0.02 against prod's 0.5) denies what prod allows;
// once a partition compared 50 inputs its agreement is below 0.9 and the
// canary aborts: a canary_abort event on matriz.prod.events, prod's
// CANARY_ENABLED off on matriz.control, a log line, and no canary output
// of the inputs sent after.
func TestCanaryWithAnotherThresholdAborts(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := canaryEnv(t)
	sp, err := spec.Parse("canary.yaml", []byte("lanes:\n  prod:\n    canary:\n      lane: prod\n      fraction: 0.2\n      min_agreement: 0.9\n      min_samples: 50\n      spec: {guardian: {max_risk: 0.02}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	counters := &observe.LaneCounters{}
	var logs syncBuffer
	changed := make(chan FlagChange, 8)
	stop := runLane(t, e, Config{Lane: lane, Spec: sp, Counters: counters, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Getenv: envMap(map[string]string{FlagDispatch: "true"}), OnFlagChange: func(c FlagChange) { changed <- c }})
	gen := devstack.NewSynthetic(lane, 2, 10000)
	before := canaryInputs(gen, 3000)
	e.Produce(t, lane, before, nil)
	waitCounted(t, counters, int64(len(before)), time.Minute)
	select {
	case c := <-changed:
		if c.Name != FlagCanary || c.New {
			t.Fatalf("flag change %v, want %s off", c, FlagCanary)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not go off within 30s; log:\n%s", FlagCanary, logs.String())
	}
	after := canaryInputs(gen, 1000)
	e.Produce(t, lane, after, nil)
	waitCounted(t, counters, int64(len(before)+len(after)), time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	r := readCanaryRun(t, e)
	if len(r.aborts) != 1 {
		t.Fatalf("%d canary_abort events on matriz.prod.events, want 1", len(r.aborts))
	}
	p := r.aborts[0].Payload
	agreement, _ := p["agreement"].(float64)
	samples, _ := p["samples"].(int64)
	t.Logf("abort: agreement %.3f over %d samples (floor %v); %d inputs of the first batch in the canary", agreement, samples, p["min_agreement"], len(r.canaryMsgs))
	if agreement >= 0.9 || samples < 50 || p["min_agreement"] != 0.9 {
		t.Errorf("abort payload %v: want an agreement under 0.9 over at least 50 samples", p)
	}
	for _, m := range after {
		if r.canaryMsgs[m.MsgID] {
			t.Errorf("input %s, sent after the abort, has canary outputs", m.MsgID)
		}
	}
	flags, err := ops.ReadFlags(t.Context(), e.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	key := stages.ControlKey(lane, FlagCanary)
	off := false
	for _, rec := range flags.Records {
		off = off || (rec.Key == key && !rec.On)
	}
	if !off {
		t.Errorf("matriz.control has no %s=false record: %+v", key, flags.Records)
	}
	clocktest.WaitFor(t, time.Second, "the abort's log line", func() bool { return strings.Contains(logs.String(), "canary aborted") })
	if r.prodMarked != 0 || r.prodDupIDs != 0 {
		t.Errorf("prod's topics: %d canary records, %d repeated output ids", r.prodMarked, r.prodDupIDs)
	}
}
