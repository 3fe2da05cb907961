package schemas

import (
	"math"
	"strings"
	"time"
)

// fixture is one value the codec tests encode, decode and pin as a golden
// file. Times are UTC with microsecond precision, the resolution of
// timestamp-micros, so a decoded value compares equal to the fixture.
type fixture struct {
	name    string // golden file stem
	schema  Name
	value   any     // *Glyph, *MatrizMessage, *MatrizResult, *Event or *Trace
	version Version // the schema version the golden file is written with
}

const (
	uuidMsg   = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	uuidGlyph = "0e9d8c7b-6a59-4483-9271-605f4e3d2c1b"
)

var (
	tsFixture  = time.Date(2026, time.March, 14, 9, 26, 53, 589793000, time.UTC)
	tsBefore70 = time.Date(1969, time.July, 20, 20, 17, 40, 123456000, time.UTC) // negative micros with a sub-second part
)

// payloadAll holds one value of every branch of the payload union, under the
// keys the stages read plus one extra key per remaining branch.
func payloadAll() Payload {
	return Payload{
		"intent":                  []float64{0.12, -0.5, 1, 0, 3.25, -7.125, 0.001, 42},
		"action":                  []float64{0.1, -0.45, 0.9, 0, 3, -7, 0.002, 41.5},
		"constraint_satisfaction": 0.875,
		"novelty":                 0.62,
		"value":                   1.4,
		"fanout":                  int64(3),
		"depth":                   int64(2),
		"risk":                    0.2,
		"priority":                "P1",
		"dry_run":                 true,
		"blocked":                 false,
		"note":                    nil,
		"reasons":                 []string{"consent:granted", "purpose:care"},
	}
}

// payloadEdge holds the values most likely to trip an implementation: the
// long extremes, non-finite doubles, negative zero, empty and non-ASCII
// strings, an empty key and empty lists.
func payloadEdge() Payload {
	return Payload{
		"":          "empty key",
		"max":       int64(math.MaxInt64),
		"min":       int64(math.MinInt64),
		"neg":       int64(-1),
		"nan":       math.NaN(),
		"inf":       math.Inf(1),
		"-inf":      math.Inf(-1),
		"negzero":   math.Copysign(0, -1),
		"tiny":      math.SmallestNonzeroFloat64,
		"empty":     "",
		"unicode":   "Grüße, 世界 🌍",
		"no_vec":    []float64{},
		"no_list":   []string{},
		"list_of_1": []string{""},
		"long_text": strings.Repeat("matriz ", 40),
	}
}

func glyphFixture() Glyph {
	return Glyph{
		ID:      uuidGlyph,
		Kind:    "intent",
		Version: "1.0.0",
		Tags:    map[string]string{"subject_sid": "sid-42", "consent": "granted", "purpose": "care", "ethics": "⚖"},
	}
}

func messageFixture() MatrizMessage {
	return MatrizMessage{
		MsgID:   uuidMsg,
		TS:      tsFixture,
		Lane:    LaneProd,
		Glyph:   glyphFixture(),
		Payload: payloadAll(),
		Topic:   "contradiction",
	}
}

// glyphV2Fixture is a GLYPH v2 with every v2 field set.
func glyphV2Fixture() Glyph {
	sid := "sid-42"
	return Glyph{
		ID:         uuidGlyph,
		Kind:       "intent",
		Version:    "2.0.0",
		Tags:       map[string]string{"ethics": "⚖"},
		SubjectSID: &sid,
		Consent:    &Consent{Granted: true, Purpose: "care"},
		Provenance: []string{"sensor:a", "node:memory"},
	}
}

// fixtures returns every fixture: the v1 ones (whose golden files pin the
// v1 wire format that producers pinned to V1 still write, and that every
// log written before v2 holds) and the GLYPH/MatrizMessage v2 ones.
func fixtures() []fixture {
	v1 := fixturesV1()
	for i := range v1 {
		v1[i].version = V1
	}
	g2 := glyphV2Fixture()
	m2 := messageFixture()
	m2.Glyph = glyphV2Fixture()
	empty := ""
	m2Edge := MatrizMessage{MsgID: uuidMsg, TS: tsBefore70, Lane: LaneCandidate,
		Glyph: Glyph{ID: uuidGlyph, Kind: "", Version: "", Tags: map[string]string{"k": "ü"},
			SubjectSID: &empty, Consent: &Consent{}, Provenance: []string{"", "节点:记忆"}},
		Payload: Payload{"": nil}, Topic: "trend"}
	return append(v1,
		fixture{name: "glyph_v2", schema: NameGlyph, value: &g2, version: V2},
		fixture{name: "glyph_v2_minimal", schema: NameGlyph, value: &Glyph{ID: uuidGlyph, Kind: "attention", Version: "2"}, version: V2},
		fixture{name: "message_v2_full", schema: NameMessage, value: &m2, version: V2},
		fixture{name: "message_v2_minimal", schema: NameMessage, value: &MatrizMessage{MsgID: uuidMsg, TS: time.Unix(0, 0).UTC(), Lane: LaneExperimental,
			Glyph: Glyph{ID: uuidGlyph, Kind: "memory", Version: "2"}, Topic: "memory"}, version: V2},
		fixture{name: "message_v2_edge", schema: NameMessage, value: &m2Edge, version: V2},
	)
}

func fixturesV1() []fixture {
	msgFull := messageFixture()
	msgMinimal := MatrizMessage{MsgID: uuidMsg, TS: time.Unix(0, 0).UTC(), Lane: LaneExperimental,
		Glyph: Glyph{ID: uuidGlyph, Kind: "memory", Version: "1"}, Topic: "memory"}
	msgEdge := MatrizMessage{MsgID: uuidMsg, TS: tsBefore70, Lane: LaneCandidate,
		Glyph:   Glyph{ID: uuidGlyph, Kind: "", Version: "", Tags: map[string]string{"": "", "k": strings.Repeat("v", 200)}},
		Payload: payloadEdge(), Topic: "trend"}
	g := glyphFixture()
	return []fixture{
		{name: "glyph_minimal", schema: NameGlyph, value: &Glyph{ID: uuidGlyph, Kind: "attention", Version: "1"}},
		{name: "glyph_tagged", schema: NameGlyph, value: &g},
		{name: "message_minimal", schema: NameMessage, value: &msgMinimal},
		{name: "message_full", schema: NameMessage, value: &msgFull},
		{name: "message_edge", schema: NameMessage, value: &msgEdge},
		{name: "result_ok", schema: NameResult, value: &MatrizResult{
			ID: "res-" + uuidMsg + "-memory", MsgID: uuidMsg, TS: tsFixture, Lane: LaneProd,
			Node: "memory", NodeVersion: "1.2.0", OK: true,
			Payload: Payload{"fanout": int64(2), "depth": int64(1), "summary": "stored", "embedding": []float64{0.5, 0.25}},
			Trace: []Crumb{
				{Stage: "route", T: tsFixture, Data: Payload{"node": "memory", "dispatch": false}},
				{Stage: "memory", T: tsFixture.Add(time.Millisecond), Data: payloadAll()},
			},
		}},
		{name: "result_denied", schema: NameResult, value: &MatrizResult{
			ID: "res-" + uuidMsg + "-guardian", MsgID: uuidMsg, TS: tsBefore70, Lane: LaneCandidate,
			Node: "governance", NodeVersion: "0.9.1", OK: false,
			Reasons: []string{"no consent tag", "risk 0.41 > max_risk 0.35"},
		}},
		{name: "event_drift", schema: NameEvent, value: &Event{
			ID: "evt-1", TS: tsFixture, Kind: EventDriftAlert, Lane: LaneProd, GlyphID: uuidGlyph,
			MsgID: uuidMsg, Stage: "drift", Payload: Payload{"drift_ema": 0.27, "level": "warn", "window": int64(30)},
		}},
		{name: "event_minimal", schema: NameEvent, value: &Event{ID: "evt-2", TS: tsFixture, Kind: EventUnknown, Lane: LaneExperimental, GlyphID: uuidGlyph}},
		{name: "event_edge", schema: NameEvent, value: &Event{ID: "evt-3", TS: tsBefore70, Kind: EventFlagChange, Lane: LaneCandidate,
			GlyphID: uuidGlyph, Stage: "control", Payload: payloadEdge()}},
		{name: "trace_full", schema: NameTrace, value: &Trace{
			ID: "trc-1", TS: tsFixture, MsgID: uuidMsg, Lane: LaneProd, Stage: "guardian", Decision: "deny",
			Crumbs: []Crumb{
				{Stage: "drift", T: tsFixture, Data: Payload{"drift_ema": 0.41}},
				{Stage: "guardian", T: tsFixture.Add(2 * time.Millisecond), Data: Payload{"policy": "max_drift", "limit": 0.35}},
			},
			Inputs:          payloadAll(),
			Outputs:         Payload{"allowed": false, "reasons": []string{"max_drift"}},
			Constraints:     []string{"max_risk<=0.35", "max_drift<=0.35", "consent"},
			RiskClass:       RiskHigh,
			DataOrigin:      "matriz.prod.messages",
			ExplanationLink: "https://example.invalid/explain/trc-1",
		}},
		{name: "trace_minimal", schema: NameTrace, value: &Trace{ID: "trc-2", TS: tsFixture, Lane: LaneExperimental, RiskClass: RiskMinimal}},
	}
}
