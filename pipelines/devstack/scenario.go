package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

// Scenario is the built-in traffic of `matriz dev`: healthy background
// messages for every node, with scripted episodes that make each stage of
// the chain act, repeated every cycle of event time so a newcomer watching
// the status line or /metrics sees each of them within the first seconds
// and again later.
//
// Background: one message per step, on the topics of
// adapters.DefaultRoutes in turn (so with DISPATCH_ENABLED every node
// answers), from a pool of glyphs with consent, purpose and a matching
// subject_sid. Every message carries the keys the stages read: intent and
// action (actions follow intents: 1 − cos < 0.002), constraint_satisfaction
// in [0.6, 1], novelty in [0.2, 0.5] and value in [0.38, 0.42] (a narrow
// breakthrough baseline no background message can leave by 3σ), risk in
// [0, 0.3] and priority P3, plus the payload its node needs.
//
// The script, by offset into each cycle (see ScenarioScript):
//
//	1.0s  corrupt: JSON bytes where Avro was expected (wrong magic byte)  → DLQ undecodable
//	1.5s  a message whose glyph has no consent tag                      → guardian deny
//	2.0s  a risky action (risk 0.85 > max_risk 0.5)                      → guardian deny
//	2.5s  a P0 action request                                           → prod: pending approval
//	3.0s  a low-risk P2 action request                                  → dry_run, or executed in prod
//	3.0s–10.0s  drift episode: half the glyphs' actions turn away from
//	      their intents (1 − cos about 1.2, ramped over 1.5s at both ends),
//	      so the lane drift EMA passes warn (0.20) and their glyphs block
//	3.5s  corrupt: a truncated Avro body                                → DLQ undecodable
//	4.0s  breakthrough spike: an idea far from its centroid, value 0.95 → breakthrough
//	5.0s  corrupt: a schema id the registry does not know               → DLQ unknown_schema_id
//	6.0s  fold storm: 40 memory writes of fanout 8 in one frame (320 >
//	      the budget 256)                                               → circuit_break
//	6.5s  a second breakthrough spike on another glyph
//	7.0s  corrupt: a message with an empty topic                        → DLQ contract_violation
//
// Where the guardian's answer depends on the lane and flags, the scenario
// sends the same request everywhere and the lane decides: the P0 action
// waits for `matriz approve` only in prod with EXT_ACTIONS_ENABLED on
// (elsewhere it runs dry).
//
// Time is the caller's: Next takes the event time of each step (the
// producer passes its clock), the first call starts cycle 0, and the
// script fires when a step's time reaches a beat. A scripted record that
// belongs to a beat comes out with the step that reaches it, so the same
// seed and the same times give the same records (msg_ids included). The
// fold storm is a burst of 40 records with one event time: the frame
// budget is per tick, and only a burst can exceed it at sane rates. The
// scripted records ride on top of the background's one message per step
// (about 50 per cycle).
//
// The episodes show on a lane that keeps up: a record the tick marks late
// is run in a frame of its own, so a storm that arrives late is no storm.
type Scenario struct {
	cfg    scenarioConfig
	lane   schemas.Lane
	rng    *rand.Rand
	glyphs []scenarioGlyph
	topics []string          // DefaultRoutes topics, sorted
	routes map[string]string // topic → node
	script []ScenarioBeat

	special map[string]scenarioGlyph // dedicated glyphs of the script, by role

	started bool
	start   time.Time
	last    time.Duration // furthest offset from start seen: time never runs back
	cycle   int64
	fired   int // beats of the current cycle already emitted
	spikes  int // breakthrough beats so far: they alternate between two glyphs
	step    uint64
	seq     uint64 // records made: the msg_id counter
}

// scenarioGlyph is one glyph of the pool, with its tags.
type scenarioGlyph struct {
	id   string
	tags map[string]string
	// drifts: in the cohort whose actions stray during the drift episode.
	drifts bool
}

// Corruption is how a scenario record is deliberately broken on the wire.
type Corruption string

// The corruptions the scenario sends, each named after the DLQ reason it
// should earn (wrong magic and truncation are both "undecodable").
const (
	CorruptNone      Corruption = ""
	CorruptMagic     Corruption = "wrong_magic"        // JSON where the Confluent wire format was expected
	CorruptTruncated Corruption = "truncated"          // the Avro body cut in half
	CorruptSchemaID  Corruption = "unknown_schema_id"  // a schema id no registry holds
	CorruptContract  Corruption = "contract_violation" // valid Avro, but an empty topic
)

// Episode names say which part of the scenario made a record.
const (
	EpisodeBaseline     = "baseline"
	EpisodeDrift        = "drift"
	EpisodeFoldStorm    = "fold_storm"
	EpisodeBreakthrough = "breakthrough"
	EpisodeRiskyAction  = "risky_action"
	EpisodeNoConsent    = "no_consent"
	EpisodeApproval     = "p0_action"
	EpisodeAction       = "action"
	EpisodeCorrupt      = "corrupt"
)

// ScenarioRecord is one record for the lane's messages topic: a message,
// possibly to be corrupted on the wire, and the episode it belongs to.
type ScenarioRecord struct {
	Msg     schemas.MatrizMessage
	Corrupt Corruption
	Episode string
}

// ScenarioBeat is one scripted moment of a cycle.
type ScenarioBeat struct {
	At      time.Duration // offset into the cycle
	Episode string
	Corrupt Corruption // for EpisodeCorrupt
	What    string     // what it shows, for people
}

// Timing of the script and of the drift episode.
const (
	scenarioDefaultCycle = 24 * time.Second
	scenarioMinCycle     = 12 * time.Second // the script and the drift recovery fit
	driftFrom            = 3 * time.Second
	driftTo              = 10 * time.Second
	driftRamp            = 1500 * time.Millisecond
	driftPeak            = 1.2 // 1 − cos at the height of the episode (≈ 101°)
	stormWrites          = 40
	stormFanout          = 8
	scenarioDim          = 8 // length of intent and action
	// scenarioBadSchemaID is a schema id no registry of ours hands out.
	scenarioBadSchemaID uint32 = 999_999_999
)

var scenarioScript = []ScenarioBeat{
	{At: 1000 * time.Millisecond, Episode: EpisodeCorrupt, Corrupt: CorruptMagic, What: "JSON bytes where Avro was expected → DLQ undecodable"},
	{At: 1500 * time.Millisecond, Episode: EpisodeNoConsent, What: "a glyph without a consent tag → guardian deny"},
	{At: 2000 * time.Millisecond, Episode: EpisodeRiskyAction, What: "an action with risk 0.85 → guardian deny (max_risk 0.5)"},
	{At: 2500 * time.Millisecond, Episode: EpisodeApproval, What: "a P0 action → pending approval in prod"},
	{At: 3000 * time.Millisecond, Episode: EpisodeAction, What: "a P2 action within policy → dry_run, executed in prod"},
	{At: driftFrom, Episode: EpisodeDrift, What: "half the glyphs drift until 10s → drift EMA above warn"},
	{At: 3500 * time.Millisecond, Episode: EpisodeCorrupt, Corrupt: CorruptTruncated, What: "a truncated Avro body → DLQ undecodable"},
	{At: 4000 * time.Millisecond, Episode: EpisodeBreakthrough, What: "an idea far from its centroid, value 0.95 → breakthrough"},
	{At: 5000 * time.Millisecond, Episode: EpisodeCorrupt, Corrupt: CorruptSchemaID, What: "an unknown schema id → DLQ unknown_schema_id"},
	{At: 6000 * time.Millisecond, Episode: EpisodeFoldStorm, What: "40 memory writes of fanout 8 in one frame → circuit break"},
	{At: 6500 * time.Millisecond, Episode: EpisodeBreakthrough, What: "a second breakthrough spike"},
	{At: 7000 * time.Millisecond, Episode: EpisodeCorrupt, Corrupt: CorruptContract, What: "an empty topic → DLQ contract_violation"},
}

// ScenarioScript returns the beats of one cycle in time order.
func ScenarioScript() []ScenarioBeat { return slices.Clone(scenarioScript) }

// ErrScenarioConfig is wrapped by NewScenario's errors.
var ErrScenarioConfig = errors.New("scenario")

type scenarioConfig struct {
	seed   uint64
	glyphs int
	cycle  time.Duration
}

func (c *scenarioConfig) validate() error {
	if c.glyphs < 4 || c.glyphs > 100_000 {
		return fmt.Errorf("%w: %d glyphs: want 4..100000 (half of them drift in the episode)", ErrScenarioConfig, c.glyphs)
	}
	if c.cycle < scenarioMinCycle {
		return fmt.Errorf("%w: cycle %v: want at least %v, so the script and the drift recovery fit in one cycle", ErrScenarioConfig, c.cycle, scenarioMinCycle)
	}
	return nil
}

// ScenarioOption configures NewScenario.
type ScenarioOption func(*scenarioConfig)

// ScenarioSeed sets the seed (default 1): the same seed and the same step
// times give the same records, msg_ids included; another seed gives other
// msg_ids, so runs that share a broker do not collide.
func ScenarioSeed(seed uint64) ScenarioOption { return func(c *scenarioConfig) { c.seed = seed } }

// ScenarioGlyphs sets the size of the background glyph pool (default 64,
// 4..100000): glyphs are keys, so they spread the traffic over partitions.
func ScenarioGlyphs(n int) ScenarioOption { return func(c *scenarioConfig) { c.glyphs = n } }

// ScenarioCycle sets how often the script repeats in event time (default
// 24s, at least 12s).
func ScenarioCycle(d time.Duration) ScenarioOption { return func(c *scenarioConfig) { c.cycle = d } }

// scenarioNS is the UUID namespace of the scenario's glyph and message ids.
var scenarioNS = uuid.MustParse("5c3b1e0e-8f57-4c3e-9d55-2b7a61d0c4e1")

// NewScenario returns the scenario for lane.
func NewScenario(lane schemas.Lane, opts ...ScenarioOption) (*Scenario, error) {
	cfg := scenarioConfig{seed: 1, glyphs: 64, cycle: scenarioDefaultCycle}
	for _, o := range opts {
		o(&cfg)
	}
	if !lane.Valid() {
		return nil, fmt.Errorf("%w: lane %q: want experimental, candidate or prod", ErrScenarioConfig, lane)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(lane))
	s := &Scenario{
		cfg: cfg, lane: lane,
		rng:     rand.New(rand.NewPCG(cfg.seed, h.Sum64())),
		routes:  adapters.DefaultRoutes(),
		script:  ScenarioScript(),
		special: map[string]scenarioGlyph{},
	}
	for t := range s.routes {
		s.topics = append(s.topics, t)
	}
	slices.Sort(s.topics)
	// Glyph ids depend on the lane only: a restarted dev keeps its glyphs
	// (and their drift state), while msg_ids follow the seed.
	for i := range cfg.glyphs {
		g := s.newGlyph(fmt.Sprintf("pool/%d", i), true)
		g.drifts = i%2 == 0
		s.glyphs = append(s.glyphs, g)
	}
	for _, role := range []string{"guest", "ops", "muse/0", "muse/1", "storm", "noise"} {
		s.special[role] = s.newGlyph(role, role != "guest")
	}
	return s, nil
}

// newGlyph makes the glyph named name of this lane; consent false leaves
// the consent tag out (the guardian's default is deny).
func (s *Scenario) newGlyph(name string, consent bool) scenarioGlyph {
	id := uuid.NewSHA1(scenarioNS, fmt.Appendf(nil, "glyph/%s/%s", s.lane, name)).String()
	tags := map[string]string{
		"purpose":     "research",
		"subject_sid": adapters.SubjectSID("", "glyph:"+id),
		"provenance":  "matriz-dev-scenario",
	}
	if consent {
		tags["consent"] = "granted"
	}
	return scenarioGlyph{id: id, tags: tags}
}

// Cycle returns how often the script repeats.
func (s *Scenario) Cycle() time.Duration { return s.cfg.cycle }

// Next returns the records of one step at event time ts: one background
// message (of a drifting glyph during the drift episode), preceded by every
// scripted record whose beat ts has reached in the current cycle. A time
// earlier than one seen before counts as that one: the cycle never runs
// back.
func (s *Scenario) Next(ts time.Time) []ScenarioRecord {
	ts = ts.UTC().Truncate(time.Microsecond)
	if !s.started {
		s.started, s.start = true, ts
	}
	el := max(ts.Sub(s.start), s.last)
	s.last = el
	if c := int64(el / s.cfg.cycle); c != s.cycle {
		// A new cycle: beats the old one had not reached are skipped (the
		// producer fell a whole cycle behind), the script starts over.
		s.cycle, s.fired = c, 0
	}
	phase := el % s.cfg.cycle
	var out []ScenarioRecord
	for s.fired < len(s.script) && s.script[s.fired].At <= phase {
		out = s.beat(out, s.script[s.fired], ts)
		s.fired++
	}
	return append(out, s.background(ts, phase))
}

// scenarioDriftAt is the target 1 − cos of a drifting glyph at phase: 0 outside the
// episode, ramped up and down at its ends.
func scenarioDriftAt(phase time.Duration) float64 {
	if phase < driftFrom || phase >= driftTo {
		return 0
	}
	env := min(float64(phase-driftFrom), float64(driftTo-phase), float64(driftRamp)) / float64(driftRamp)
	return driftPeak * env
}

// background is the step's ordinary message.
func (s *Scenario) background(ts time.Time, phase time.Duration) ScenarioRecord {
	topic := s.topics[s.step%uint64(len(s.topics))]
	s.step++
	g := s.glyphs[s.rng.IntN(len(s.glyphs))]
	episode, drift := EpisodeBaseline, 0.0
	if d := scenarioDriftAt(phase); g.drifts && d > 0 {
		// A little spread, so the drift is a distribution, not one number.
		episode, drift = EpisodeDrift, min(2, d*(0.9+0.2*s.rng.Float64()))
	}
	p := s.vitals(drift)
	s.nodePayload(p, s.routes[topic])
	return ScenarioRecord{Msg: s.message(ts, g, topic, p), Episode: episode}
}

// beat appends the records of one scripted beat.
func (s *Scenario) beat(out []ScenarioRecord, b ScenarioBeat, ts time.Time) []ScenarioRecord {
	switch b.Episode {
	case EpisodeCorrupt:
		p := s.vitals(0)
		s.nodePayload(p, adapters.NameConsciousness)
		m := s.message(ts, s.special["noise"], "trend", p)
		if b.Corrupt == CorruptContract {
			m.Topic = ""
		}
		return append(out, ScenarioRecord{Msg: m, Corrupt: b.Corrupt, Episode: EpisodeCorrupt})
	case EpisodeNoConsent:
		p := s.vitals(0)
		s.nodePayload(p, adapters.NameEmotion)
		return append(out, ScenarioRecord{Msg: s.message(ts, s.special["guest"], "affect", p), Episode: EpisodeNoConsent})
	case EpisodeRiskyAction:
		return append(out, s.action(ts, EpisodeRiskyAction, "delete_subject_data", "P1", 0.85, []float64{0.6, 0.5}))
	case EpisodeApproval:
		return append(out, s.action(ts, EpisodeApproval, "rollback_release", "P0", 0.1, []float64{0.05, 0.05}))
	case EpisodeAction:
		return append(out, s.action(ts, EpisodeAction, "send_digest", "P2", 0.05, []float64{0.02, 0.02}))
	case EpisodeBreakthrough:
		muse := s.special[fmt.Sprintf("muse/%d", s.spikes%2)]
		s.spikes++
		return append(out, ScenarioRecord{Msg: s.message(ts, muse, "idea", s.spike()), Episode: EpisodeBreakthrough})
	case EpisodeFoldStorm:
		storm := s.special["storm"]
		for w := range stormWrites {
			p := s.vitals(0)
			links := make([]string, stormFanout)
			for i := range links {
				links[i] = uuid.NewSHA1(scenarioNS, fmt.Appendf(nil, "fold/%s/%d/%d", s.lane, w, i)).String()
			}
			p["links"], p["fanout"], p["depth"] = links, int64(stormFanout), int64(1)
			out = append(out, ScenarioRecord{Msg: s.message(ts, storm, "memory", p), Episode: EpisodeFoldStorm})
		}
		return out
	}
	return out // EpisodeDrift is a stretch of background, not a record
}

// action is an action request on the goal topic (the orchestration node
// plans it; the guardian takes the larger of its plan risk and risk).
func (s *Scenario) action(ts time.Time, episode, kind, priority string, risk float64, stepRisks []float64) ScenarioRecord {
	p := s.vitals(0)
	p["action_kind"], p["priority"], p["risk"] = kind, priority, risk
	p["goal"] = kind
	p["subgoals"] = []string{"prepare " + kind, "perform " + kind}
	p["values"] = []float64{0.6, 0.9}
	p["risks"] = stepRisks
	return ScenarioRecord{Msg: s.message(ts, s.special["ops"], "goal", p), Episode: episode}
}

// spike is a breakthrough: an idea pointing away from its centroid (the
// creative node scores novelty ≈ 1) with value 0.95; novelty is on the
// input too, for when no node is called.
func (s *Scenario) spike() schemas.Payload {
	p := s.vitals(0)
	f := s.vector(4, 1)
	cen := make([]float64, len(f))
	for i := range f {
		cen[i] = -f[i]
	}
	p["features"], p["centroid"], p["centroid_n"] = f, cen, int64(100)
	p["novelty"], p["value"] = 0.97, 0.95
	return p
}

// vitals are the keys every message carries. drift > 0 turns the action
// away from the intent so that 1 − cos(intent, action) = drift.
func (s *Scenario) vitals(drift float64) schemas.Payload {
	intent := s.vector(scenarioDim, 1)
	var action []float64
	if drift > 0 {
		action = turnVector(intent, s.vector(scenarioDim, 1), 1-drift)
	} else {
		// Noise of at most 5% of the intent's length: 1 − cos < 0.0013.
		noise := 0.1 * vecLen(intent) / math.Sqrt(scenarioDim)
		action = make([]float64, scenarioDim)
		for i := range intent {
			action[i] = intent[i] + (s.rng.Float64()-0.5)*noise
		}
	}
	return schemas.Payload{
		"intent":                  intent,
		"action":                  action,
		"constraint_satisfaction": roundCents(0.6 + 0.4*s.rng.Float64()),
		// The breakthrough score 0.5·novelty + 0.5·value is then close to
		// uniform, whose farthest point is 1.73σ from its mean: no
		// background message reaches z = 3, even against a baseline of 30.
		"novelty":  0.2 + 0.3*s.rng.Float64(),
		"value":    0.38 + 0.04*s.rng.Float64(),
		"risk":     0.3 * s.rng.Float64(),
		"priority": "P3",
	}
}

// nodePayload adds the payload node needs to answer ok.
func (s *Scenario) nodePayload(p schemas.Payload, node string) {
	r := s.rng
	switch node {
	case adapters.NameBio:
		p["load"], p["energy"] = 0.2+0.35*r.Float64(), 0.6+0.35*r.Float64()
		p["temperature"], p["stress"] = 36.6+0.8*r.Float64(), 0.2*r.Float64()
	case adapters.NameBridge:
		p["latency_ms"] = float64(20 + r.IntN(180)) // an alias the bridge renames
	case adapters.NameCompliance:
		p["data_categories"] = []string{"telemetry", "anonymous"}
	case adapters.NameConsciousness:
		p["salience"] = s.vector(4, 1)
		p["labels"] = []string{"inbox", "deploy", "chat", "metrics"}
	case adapters.NameContradiction:
		better := []string{"speed", "productivity", "power", "adaptability"}
		worse := []string{"reliability", "device_complexity", "loss_of_energy", "stability"}
		p["improve"] = []string{better[r.IntN(len(better))]}
		p["worsen"] = []string{worse[r.IntN(len(worse))]}
	case adapters.NameCreative:
		// A familiar idea: 60° from its centroid, novelty ≈ 0.25 before
		// the node's variants, inside the background's band.
		f := s.vector(4, 1)
		p["features"] = f
		p["centroid"] = turnVector(f, s.vector(4, 1), 0.5)
		p["centroid_n"] = int64(50)
	case adapters.NameEmotion:
		p["valence"], p["arousal"] = 0.2+0.6*r.Float64(), -0.5+r.Float64()
	case adapters.NameGovernance:
		// The payload's own risk, priority and constraint_satisfaction are
		// what the default rules check; all within them.
	case adapters.NameIdentity:
		// The glyph's subject_sid tag is what identity checks.
	case adapters.NameMemory:
		n := 1 + r.IntN(3)
		links := make([]string, n)
		for i := range links {
			links[i] = uuid.NewSHA1(scenarioNS, fmt.Appendf(nil, "fold/%s/pool/%d", s.lane, r.IntN(256))).String()
		}
		p["links"], p["depth"] = links, int64(r.IntN(3))
	case adapters.NameOrchestration:
		p["goal"] = "tidy workspace"
		p["subgoals"] = []string{"sort", "archive", "report"}
		p["values"] = []float64{0.3, 0.5, 0.4}
		p["risks"] = []float64{0.01 + 0.03*r.Float64(), 0.02, 0.01}
	}
}

// message stamps a message of glyph g.
func (s *Scenario) message(ts time.Time, g scenarioGlyph, topic string, p schemas.Payload) schemas.MatrizMessage {
	n := s.seq
	s.seq++
	kind := "intent"
	switch topic {
	case "memory":
		kind = "memory"
	case "trend", "attention", "consciousness":
		kind = "attention"
	case "idea", "creative":
		kind = "idea"
	}
	tags := make(map[string]string, len(g.tags))
	for k, v := range g.tags {
		tags[k] = v
	}
	return schemas.MatrizMessage{
		MsgID:   uuid.NewSHA1(scenarioNS, fmt.Appendf(nil, "msg/%d/%s/%d", s.cfg.seed, s.lane, n)).String(),
		TS:      ts,
		Lane:    s.lane,
		Glyph:   schemas.Glyph{ID: g.id, Kind: kind, Version: "1", Tags: tags},
		Payload: p,
		Topic:   topic,
	}
}

// vector is a random vector of n elements in [-scale, scale), not zero.
func (s *Scenario) vector(n int, scale float64) []float64 {
	v := make([]float64, n)
	for {
		var sq float64
		for i := range v {
			v[i] = (s.rng.Float64()*2 - 1) * scale
			sq += v[i] * v[i]
		}
		if sq > 1e-6 {
			return v
		}
	}
}

// turnVector returns a vector of v's length at cosine cos from v, in the plane
// of v and r (r must not be parallel to v; a random r almost never is, and
// another axis is used when it is).
func turnVector(v, r []float64, cos float64) []float64 {
	nv := vecLen(v)
	u := make([]float64, len(v))
	for i := range v {
		u[i] = v[i] / nv
	}
	o := orthoUnit(u, r)
	if o == nil {
		e := make([]float64, len(v))
		for k := range e {
			clear(e)
			e[k] = 1
			if o = orthoUnit(u, e); o != nil {
				break
			}
		}
	}
	cos = max(-1, min(1, cos))
	sin := math.Sqrt(1 - cos*cos)
	out := make([]float64, len(v))
	for i := range out {
		out[i] = nv * (cos*u[i] + sin*o[i])
	}
	return out
}

// orthoUnit is the unit part of r orthogonal to the unit vector u, or nil
// when r has none to speak of.
func orthoUnit(u, r []float64) []float64 {
	var dot float64
	for i := range u {
		dot += u[i] * r[i]
	}
	o := make([]float64, len(u))
	for i := range u {
		o[i] = r[i] - dot*u[i]
	}
	n := vecLen(o)
	if n < 1e-9 {
		return nil
	}
	for i := range o {
		o[i] /= n
	}
	return o
}

func vecLen(v []float64) float64 {
	var sq float64
	for _, x := range v {
		sq += x * x
	}
	return math.Sqrt(sq)
}

func roundCents(x float64) float64 { return math.Round(x*100) / 100 }

// Key is the record's Kafka key: its glyph id.
func (r *ScenarioRecord) Key() []byte { return []byte(r.Msg.Glyph.ID) }

// Wire returns the record's value for the messages topic, written with
// schema id, then broken as its Corruption says.
func (r *ScenarioRecord) Wire(id uint32) ([]byte, error) {
	switch r.Corrupt {
	case CorruptNone, CorruptContract:
		return schemas.AppendWire(nil, id, &r.Msg)
	case CorruptSchemaID:
		return schemas.AppendWire(nil, scenarioBadSchemaID, &r.Msg)
	case CorruptTruncated:
		b, err := schemas.AppendWire(nil, id, &r.Msg)
		if err != nil {
			return nil, err
		}
		return b[:schemas.WireHeaderSize+(len(b)-schemas.WireHeaderSize)/2], nil
	case CorruptMagic:
		// What a producer that writes JSON puts on the topic.
		return json.Marshal(map[string]any{
			"msg_id": r.Msg.MsgID, "ts": r.Msg.TS, "lane": r.Msg.Lane, "topic": r.Msg.Topic,
			"glyph": map[string]any{"id": r.Msg.Glyph.ID, "kind": r.Msg.Glyph.Kind, "version": r.Msg.Glyph.Version, "tags": r.Msg.Glyph.Tags},
		})
	}
	return nil, fmt.Errorf("%w: unknown corruption %q", ErrScenarioConfig, r.Corrupt)
}
