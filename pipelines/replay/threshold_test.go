package replay_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// The threshold test: a live run on prod with the default spec (S1,
// guardian max_drift 0.35), a replay of the whole log into "t2" with S2 =
// S1 but max_drift 0.25, and replay.Diff live vs t2. What should change is
// computed independently, from the messages the test produced: each
// glyph's drift EMA recomputed from the intent/action vectors with the
// drift stage's rule, and each message's guardian outcome under both
// thresholds.
//
// Prod, because its decimation ring applies backpressure (the candidate and
// experimental rings drop the oldest frames under load, and a dropped
// record would not fold into its glyph's EMA); the guardian decides the
// same there as in candidate for messages that ask for no external action,
// which these do not.
//
// What changes: the result and guardian_decision event of every message
// whose EMA is above the lower threshold (a flip allow → deny in the band,
// and above both a deny whose reason names the other max_drift), and every
// guardian trace, since a trace lists the policies in force, max_drift among
// them; outside that set a trace differs in nothing else.

const (
	thrLane      = schemas.LaneProd
	thrReplay    = "t2"
	thrGroup     = "threshold-prod"
	thrTopic     = "trend" // a topic with a registered node: the router's result is ok
	thrGlyphs    = 12
	thrSteps     = 40
	thrMaxDrift1 = 0.35 // the spec's default
	thrMaxDrift2 = 0.25
	// The drift stage's defaults in the spec (drift.alpha): the EMA starts
	// at a glyph's first drift and then folds each drift in with weight
	// alpha (stages.emaStep).
	thrAlpha = 0.2
	// thrMargin is how far from either threshold every recomputed EMA must
	// be, so rounding (the stage scales vectors before the dot product)
	// cannot put the pipeline on the other side of a threshold than this
	// computation.
	thrMargin = 1e-6
)

var thrNS = uuid.MustParse("5a4e2f0c-0d7b-4a53-9f61-3c2b8e7d1a44")

// thrMsg is one produced message and what the independent computation
// says about it.
type thrMsg struct {
	m       schemas.MatrizMessage
	hasEMA  bool    // the glyph has had a valid intent/action pair by now
	ema     float64 // its drift EMA after this message
	other   bool    // a policy other than max_drift denies it (consent, max_risk)
	allowS1 bool
	allowS2 bool
}

// thrGlyph is how one glyph's messages are made.
type thrGlyph struct {
	id      string
	level   float64 // mean drift
	period  int     // of the drift's oscillation, in messages
	noVecs  func(k int) bool
	consent bool
	risky   func(k int) bool // risk 0.8 > max_risk 0.5
}

// thrDrift is the designed drift of glyph g's k-th message: an oscillation
// of amplitude 0.25 around the glyph's level, so its EMA swings about
// ±0.15 around it and the glyphs' levels (0.12 to 0.48) put EMAs below,
// between and above the two thresholds.
func thrDrift(g *thrGlyph, gi, k int) float64 {
	d := g.level + 0.25*math.Sin(2*math.Pi*float64(k)/float64(g.period)+float64(gi))
	return min(max(d, 0.005), 1.9)
}

// thrVectors returns intent and action vectors with 1 − cos(intent,
// action) = drift (up to rounding): action is intent's direction turned by
// acos(1 − drift) towards an orthogonal direction, and scaled.
func thrVectors(gi, k int, drift float64) (intent, action []float64) {
	// Two orthonormal directions in 4-space, varying by glyph and message.
	phi := 0.3*float64(gi) + 0.07*float64(k)
	e1 := []float64{math.Cos(phi), math.Sin(phi), 0, 0}
	e2 := []float64{0, 0, math.Cos(2 * phi), math.Sin(2 * phi)}
	theta := math.Acos(1 - drift)
	scaleI, scaleA := 1+0.1*float64(gi), 2.5-0.03*float64(k)
	intent = make([]float64, 4)
	action = make([]float64, 4)
	for i := range 4 {
		intent[i] = scaleI * e1[i]
		action[i] = scaleA * (math.Cos(theta)*e1[i] + math.Sin(theta)*e2[i])
	}
	return intent, action
}

// thrCos is cos(a, b), written out here rather than taken from the stage.
func thrCos(a, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

// thrMessages makes the messages, in production order (event time), and
// computes for each the glyph's drift EMA and the guardian outcome under
// both thresholds.
//
// Assumptions the computation rests on, each checked by the test:
//   - a glyph's messages reach the drift stage in event-time order: they are
//     keyed by glyph (one partition), produced in event-time order (offset
//     order = event-time order), 100 ms of event time apart, so each is in
//     a later frame than the one before (a frame is at most 1/15 s), and no
//     record is late or dropped (prod's ring applies backpressure);
//   - the drift state is per glyph within a partition and carries across
//     frames, never reset during the run (the glyph idle TTL is 24 h, the
//     run spans 4 s of event time);
//   - a message without vectors leaves its glyph's EMA as it was but is
//     still judged on it; a glyph that never had a valid pair has no EMA
//     and no max_drift check;
//   - the guardian denies when the EMA is strictly above max_drift.
func thrMessages(base time.Time) []*thrMsg {
	gs := make([]thrGlyph, thrGlyphs)
	for gi := range gs {
		gs[gi] = thrGlyph{
			id:      uuid.NewSHA1(thrNS, fmt.Appendf(nil, "glyph/%d", gi)).String(),
			level:   0.12 + 0.04*float64(gi%10),
			period:  12 + gi,
			noVecs:  func(k int) bool { return gi%2 == 0 && k%9 == 4 || gi == 3 && k < 2 },
			consent: gi != 10,
			risky:   func(k int) bool { return gi == 11 && k%3 == 1 },
		}
	}
	type emaState struct {
		ema float64
		n   int
	}
	state := make([]emaState, thrGlyphs)
	var out []*thrMsg
	for k := range thrSteps {
		for gi := range gs {
			g := &gs[gi]
			m := schemas.MatrizMessage{
				MsgID: uuid.NewSHA1(thrNS, fmt.Appendf(nil, "msg/%d/%d", gi, k)).String(),
				TS:    base.Add(time.Duration(k)*100*time.Millisecond + time.Duration(gi)*3*time.Millisecond),
				Lane:  thrLane,
				Glyph: schemas.Glyph{ID: g.id, Kind: "intent", Version: "1", Tags: map[string]string{"purpose": "research"}},
				Payload: schemas.Payload{
					"constraint_satisfaction": 1.0,
					"risk":                    0.1,
				},
				Topic: thrTopic,
			}
			if g.consent {
				m.Glyph.Tags["consent"] = "granted"
			}
			if g.risky(k) {
				m.Payload["risk"] = 0.8
			}
			if !g.noVecs(k) {
				intent, action := thrVectors(gi, k, thrDrift(g, gi, k))
				m.Payload["intent"], m.Payload["action"] = intent, action
			}

			tm := &thrMsg{m: m, other: !g.consent || g.risky(k)}
			st := &state[gi]
			if iv, ok := m.Payload["intent"].([]float64); ok {
				x := 1 - thrCos(iv, m.Payload["action"].([]float64))
				if st.n == 0 {
					st.ema = x
				} else {
					st.ema = thrAlpha*x + (1-thrAlpha)*st.ema
				}
				st.n++
			}
			tm.hasEMA, tm.ema = st.n > 0, st.ema
			tm.allowS1 = !tm.other && !(tm.hasEMA && tm.ema > thrMaxDrift1)
			tm.allowS2 = !tm.other && !(tm.hasEMA && tm.ema > thrMaxDrift2)
			out = append(out, tm)
		}
	}
	return out
}

func TestReplayThresholdChangeDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a live run, a replay with another max_drift, and a diff (skipped with -short)")
	}
	ctx := context.Background()
	s1, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.Lanes[thrLane].Guardian.MaxDrift; got != thrMaxDrift1 {
		t.Fatalf("the default spec's %s guardian max_drift is %v, the test assumes %v", thrLane, got, thrMaxDrift1)
	}
	if got := s1.Lanes[thrLane].Drift.Alpha; got != thrAlpha {
		t.Fatalf("the default spec's %s drift alpha is %v, the test assumes %v", thrLane, got, thrAlpha)
	}
	s2.Lanes[thrLane].Guardian.MaxDrift = thrMaxDrift2

	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	msgs := thrMessages(base)
	byID := make(map[string]*thrMsg, len(msgs))
	var changed, flipped, denyBoth []string // msg ids
	var inBand, above, noEMA int
	for _, tm := range msgs {
		byID[tm.m.MsgID] = tm
		if tm.hasEMA {
			for _, thr := range []float64{thrMaxDrift1, thrMaxDrift2} {
				if math.Abs(tm.ema-thr) < thrMargin {
					t.Fatalf("message %s: EMA %v is within %v of threshold %v; change the design", tm.m.MsgID, tm.ema, thrMargin, thr)
				}
			}
		} else {
			noEMA++
		}
		switch {
		case tm.hasEMA && tm.ema > thrMaxDrift1:
			above++
		case tm.hasEMA && tm.ema > thrMaxDrift2:
			inBand++
		}
		// A result changes wherever S2 adds its drift reason: its text
		// names max_drift, so one above both thresholds changes too (deny
		// under both, the reason reads 0.35 on one side, 0.25 on the other).
		if tm.hasEMA && tm.ema > thrMaxDrift2 {
			changed = append(changed, tm.m.MsgID)
			if tm.allowS1 != tm.allowS2 {
				flipped = append(flipped, tm.m.MsgID)
			} else {
				denyBoth = append(denyBoth, tm.m.MsgID)
			}
		}
	}
	otherInBand := 0
	for _, id := range denyBoth {
		if tm := byID[id]; tm.ema <= thrMaxDrift1 && tm.other {
			otherInBand++
		}
	}
	t.Logf("%d messages: EMA in (%v, %v] for %d, above %v for %d, none for %d; expected: %d results changed, %d allow→deny, %d deny→deny (%d of them in the band, denied by another policy)",
		len(msgs), thrMaxDrift2, thrMaxDrift1, inBand, thrMaxDrift1, above, noEMA, len(changed), len(flipped), len(denyBoth), otherInBand)
	if len(flipped) < 20 || len(denyBoth)-otherInBand < 20 || otherInBand < 3 || len(msgs)-len(changed) < 100 {
		t.Fatalf("the design does not exercise every case: %d flips, %d above both, %d in band but denied otherwise, %d unchanged",
			len(flipped), len(denyBoth)-otherInBand, otherInBand, len(msgs)-len(changed))
	}

	// Live run with S1.
	env := pipetest.Start(t, thrLane)
	plain := make([]schemas.MatrizMessage, len(msgs))
	for i, tm := range msgs {
		plain[i] = tm.m
	}
	env.Produce(t, thrLane, plain, nil)
	getenv := func(string) string { return "" }
	stop := pipetest.Run(t, func(ctx context.Context, ready func()) error {
		return runtime.Run(ctx, runtime.Config{Lane: thrLane, Spec: s1, Group: thrGroup, Getenv: getenv, Brokers: env.Brokers, RegistryURL: env.RegistryURL,
			IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond, Ready: ready})
	})
	env.WaitCommitted(t, topics.Name(string(thrLane), topics.KindMessages), thrGroup, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Replay the whole log with S2.
	rr, err := replay.Run(ctx, replay.RunConfig{Lane: thrLane, Brokers: env.Brokers, RegistryURL: env.RegistryURL,
		From: "start", Spec: s2, Getenv: getenv, Name: thrReplay})
	if err != nil {
		t.Fatal(err)
	}
	var replayed int64
	for _, n := range rr.Stats.Records {
		replayed += n
	}
	if replayed != int64(len(msgs)) {
		t.Fatalf("replay read %d records, want %d", replayed, len(msgs))
	}

	// The pipeline agrees with the model on every message: the same EMA
	// (so the ordering assumptions held) and the outcome under each spec.
	liveRes := thrResults(t, env, "")
	t2Res := thrResults(t, env, thrReplay)
	var maxDelta float64
	for _, tm := range msgs {
		id := tm.m.MsgID
		for side, res := range map[string]map[string]*schemas.MatrizResult{"live": liveRes, thrReplay: t2Res} {
			r := res[id]
			if r == nil {
				t.Fatalf("%s: no result for message %s", side, id)
			}
			if r.ID != stages.ResultID(id, stages.RouterNode) {
				t.Fatalf("%s: result of %s has id %s, want ResultID(msg, router) %s", side, id, r.ID, stages.ResultID(id, stages.RouterNode))
			}
			ema, ok := thrCrumb(r, stages.StageDrift).Float("drift_ema")
			if ok != tm.hasEMA {
				t.Fatalf("%s: message %s has drift_ema %v, the model says %v", side, id, ok, tm.hasEMA)
			}
			if ok {
				d := math.Abs(ema - tm.ema)
				maxDelta = max(maxDelta, d)
				if d > 1e-9 {
					t.Fatalf("%s: message %s: the drift stage's EMA is %v, the model's %v", side, id, ema, tm.ema)
				}
			}
			want := tm.allowS1
			if side == thrReplay {
				want = tm.allowS2
			}
			got, _ := thrCrumb(r, stages.StageGuardian).String("outcome")
			if (got == string(stages.OutcomeAllow)) != want || (got != string(stages.OutcomeAllow) && got != string(stages.OutcomeDeny)) {
				t.Fatalf("%s: message %s (EMA %v, other policy denies %v): guardian outcome %q, the model says allow=%v", side, id, tm.ema, tm.other, got, want)
			}
		}
	}
	t.Logf("the drift stage's EMA matches the model on all %d messages on both sides (largest difference %.3g)", len(msgs), maxDelta)

	// The diff.
	rep, err := replay.Diff(ctx, replay.DiffConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: thrLane, Right: thrReplay, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kinds {
		t.Logf("diff %s: %d identical, %d changed, %d only live, %d only t2; errors %d/%d",
			k.Kind, k.Identical, k.Changed, k.OnlyLeft, k.OnlyRight, k.Left.Errors(), k.Right.Errors())
		if k.OnlyLeft+k.OnlyRight+k.Left.Errors()+k.Right.Errors() > 0 {
			t.Errorf("%s: outputs on one side only or not comparable: %+v", k.Kind, k)
		}
	}
	t.Logf("guardian outcomes of changed results: %+v", rep.Outcomes)
	byKind := map[topics.Kind][]replay.RecordDiff{}
	for _, d := range rep.Records {
		byKind[d.Kind] = append(byKind[d.Kind], d)
	}
	if n, total := len(rep.Records), rep.Totals().Differ(); n != total {
		t.Fatalf("the report kept %d of %d differing records with Limit -1", n, total)
	}

	// Results: exactly the model's changed set, each with the model's
	// outcome change.
	wantResults := map[string]string{} // result id → msg id
	for _, id := range changed {
		wantResults[stages.ResultID(id, stages.RouterNode)] = id
	}
	var gotResults []string
	for _, d := range byKind[topics.KindResults] {
		gotResults = append(gotResults, d.ID)
		msgID, ok := wantResults[d.ID]
		if !ok {
			t.Errorf("result %s changed [%s] %s: %v → %v; the model expects no change", d.ID, d.Stage, d.Field, d.Left, d.Right)
			continue
		}
		if d.Status != replay.StatusChanged || d.Stage != stages.RouterNode {
			t.Errorf("result %s of %s: status %s stage %q, want changed on router", d.ID, msgID, d.Status, d.Stage)
		}
		tm := byID[msgID]
		// The first differing field: ok for a flip (true → false), a
		// reason for a message denied under both.
		if tm.allowS1 != tm.allowS2 {
			if d.Field != "ok" || d.Left != true || d.Right != false {
				t.Errorf("result of %s (EMA %v): first difference %s %v → %v, want ok true → false", msgID, tm.ema, d.Field, d.Left, d.Right)
			}
		} else if !strings.HasPrefix(d.Field, "reasons[") {
			t.Errorf("result of %s (EMA %v, denied under both): first difference %s %v → %v, want a reason", msgID, tm.ema, d.Field, d.Left, d.Right)
		}
	}
	thrSameSet(t, "changed results", gotResults, slices.Collect(maps.Keys(wantResults)))
	wantOutcomes := []replay.OutcomeChange{
		{Left: string(stages.OutcomeAllow), Right: string(stages.OutcomeDeny), Count: len(flipped)},
		{Left: string(stages.OutcomeDeny), Right: string(stages.OutcomeDeny), Count: len(denyBoth)},
	}
	gotOutcomes := slices.Clone(rep.Outcomes)
	slices.SortFunc(gotOutcomes, func(a, b replay.OutcomeChange) int { return strings.Compare(a.Left+a.Right, b.Left+b.Right) })
	if !reflect.DeepEqual(gotOutcomes, wantOutcomes) {
		t.Errorf("guardian outcome changes %+v, the model says %+v", gotOutcomes, wantOutcomes)
	}

	// Events: the guardian_decision of each changed message and nothing
	// else; a flip's decision says allow → deny.
	wantEvents := map[string]string{}
	for _, id := range changed {
		wantEvents[stages.EventID(id, stages.StageGuardian, schemas.EventGuardianDecision)] = id
	}
	var gotEvents []string
	for _, d := range byKind[topics.KindEvents] {
		gotEvents = append(gotEvents, d.ID)
		msgID, ok := wantEvents[d.ID]
		if !ok {
			t.Errorf("event %s [%s] changed %s: %v → %v; not a changed message's guardian decision", d.ID, d.Stage, d.Field, d.Left, d.Right)
			continue
		}
		if tm := byID[msgID]; tm.allowS1 != tm.allowS2 &&
			(d.Field != "payload.outcome" || d.Left != string(stages.OutcomeAllow) || d.Right != string(stages.OutcomeDeny)) {
			t.Errorf("guardian decision of %s: first difference %s %v → %v, want payload.outcome allow → deny", msgID, d.Field, d.Left, d.Right)
		}
	}
	thrSameSet(t, "changed events", gotEvents, slices.Collect(maps.Keys(wantEvents)))

	// Traces: every guardian trace lists the policies in force, max_drift
	// among them, so every one changes. Outside the changed set that must
	// be the only difference; inside it the decision (flips) or the
	// guardian crumb's reasons change too.
	liveTr := thrTraces(t, env, "")
	t2Tr := thrTraces(t, env, thrReplay)
	if len(liveTr) != len(msgs) || len(t2Tr) != len(msgs) {
		t.Fatalf("guardian traces: %d live, %d in t2, want one per message (%d)", len(liveTr), len(t2Tr), len(msgs))
	}
	traceDiffs := map[string]replay.RecordDiff{}
	for _, d := range byKind[topics.KindTraces] {
		traceDiffs[d.ID] = d
	}
	if len(traceDiffs) != len(msgs) {
		t.Errorf("%d traces changed, want all %d (each names max_drift)", len(traceDiffs), len(msgs))
	}
	isChanged := map[string]bool{}
	for _, id := range changed {
		isChanged[id] = true
	}
	onlyConstraints := 0
	for msgID, lt := range liveTr {
		rt := t2Tr[msgID]
		if rt == nil {
			t.Fatalf("no t2 trace for %s", msgID)
		}
		if !slices.Contains(lt.Constraints, fmt.Sprintf("max_drift=%v", thrMaxDrift1)) || !slices.Contains(rt.Constraints, fmt.Sprintf("max_drift=%v", thrMaxDrift2)) {
			t.Fatalf("trace of %s: constraints %v live, %v t2", msgID, lt.Constraints, rt.Constraints)
		}
		l, r := *lt, *rt
		l.Constraints, r.Constraints = nil, nil
		path, lv, rv, differ := replay.FirstDifference(l, r)
		switch tm := byID[msgID]; {
		case !isChanged[msgID]:
			if differ {
				t.Errorf("trace of %s (outside the changed set) differs at %s besides constraints: %v → %v", msgID, path, lv, rv)
			}
			onlyConstraints++
			if d := traceDiffs[lt.ID]; d.Field != "constraints[1]" {
				t.Errorf("trace of %s: the diff's first difference is %s, want constraints[1]", msgID, d.Field)
			}
		case tm.allowS1 != tm.allowS2:
			if path != "decision" || lv != string(stages.OutcomeAllow) || rv != string(stages.OutcomeDeny) {
				t.Errorf("trace of %s (a flip): first difference %s %v → %v, want decision allow → deny", msgID, path, lv, rv)
			}
		default:
			if !differ || !strings.Contains(path, ".reasons[") {
				t.Errorf("trace of %s (denied under both): first difference %q %v → %v, want the guardian's reasons", msgID, path, lv, rv)
			}
		}
	}
	t.Logf("traces: %d changed only in constraints (max_drift), %d changed in the decision or its reasons", onlyConstraints, len(liveTr)-onlyConstraints)

	for _, k := range []topics.Kind{topics.KindActions, topics.KindDLQ} {
		if n := len(byKind[k]); n > 0 {
			t.Errorf("%d %s records differ, want none", n, k)
		}
	}
}

// thrCrumb returns the data of r's last crumb of stage (nil when none).
func thrCrumb(r *schemas.MatrizResult, stage string) schemas.Payload {
	for i := len(r.Trace) - 1; i >= 0; i-- {
		if r.Trace[i].Stage == stage {
			return r.Trace[i].Data
		}
	}
	return nil
}

// thrSameSet fails t unless got and want hold the same ids, once each.
func thrSameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if len(slices.Compact(slices.Clone(g))) != len(g) {
		t.Errorf("%s: an id is reported twice", what)
	}
	if !slices.Equal(g, w) {
		var extra, missing []string
		for _, id := range g {
			if !slices.Contains(w, id) {
				extra = append(extra, id)
			}
		}
		for _, id := range w {
			if !slices.Contains(g, id) {
				missing = append(missing, id)
			}
		}
		t.Errorf("%s: %d reported, %d expected; not expected %v; missing %v", what, len(g), len(w), extra, missing)
		return
	}
	t.Logf("%s: exactly the %d expected", what, len(g))
}

// thrResults reads a side's results by msg id (last copy wins).
func thrResults(t *testing.T, env *pipetest.Env, name string) map[string]*schemas.MatrizResult {
	t.Helper()
	out := map[string]*schemas.MatrizResult{}
	for _, m := range env.ReadAll(t, thrTopicOf(name, topics.KindResults)) {
		r := &schemas.MatrizResult{}
		if _, err := schemas.DecodeWire(context.Background(), env.Serde.Lookup(), m.Value, r); err != nil {
			t.Fatal(err)
		}
		if h := pipetest.Header(m, runtime.HeaderMsgID); h != "" && h != r.MsgID {
			t.Fatalf("result %s: header %s=%s, msg_id %s", r.ID, runtime.HeaderMsgID, h, r.MsgID)
		}
		out[r.MsgID] = r
	}
	return out
}

// thrTraces reads a side's guardian traces by msg id (last copy wins).
func thrTraces(t *testing.T, env *pipetest.Env, name string) map[string]*schemas.Trace {
	t.Helper()
	out := map[string]*schemas.Trace{}
	for _, m := range env.ReadAll(t, thrTopicOf(name, topics.KindTraces)) {
		r := &schemas.Trace{}
		if _, err := schemas.DecodeWire(context.Background(), env.Serde.Lookup(), m.Value, r); err != nil {
			t.Fatal(err)
		}
		if r.Stage == stages.StageGuardian {
			out[r.MsgID] = r
		}
	}
	return out
}

func thrTopicOf(name string, k topics.Kind) string {
	if name == "" {
		return topics.Name(string(thrLane), k)
	}
	return topics.ReplayName(string(thrLane), name, k)
}
