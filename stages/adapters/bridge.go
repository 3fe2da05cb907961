package adapters

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// Bridge normalises payloads from outside systems to the canonical MATRIZ
// keys and units, so the stages after it read one vocabulary: intent and
// action vectors, risk in [0,1], latency in seconds, priority P0..P3.
//
// Every payload key is either canonical (kept, after its type is checked),
// an alias (renamed and converted), or unmapped (reported, not copied).
// The aliases and their conversions:
//
//	intentVector intentVec intent_vec intent_vector → intent
//	actionVector actionVec action_vec action_vector → action
//	risk_pct riskPct risk_percent (0..100)           → risk (÷100)
//	risk_score riskScore                              → risk
//	latency_ms latencyMs                              → latency (s, ÷1000)
//	latency_us latencyUs                              → latency (s, ÷1e6)
//	latency_s                                         → latency (s)
//	constraintSatisfaction constraint_sat             → constraint_satisfaction
//	constraint_pct (0..100)                           → constraint_satisfaction (÷100)
//	noveltyScore novelty_score                        → novelty
//	valueScore value_score                            → value
//	fanOut fan_out                                    → fanout
//	foldDepth fold_depth                              → depth
//	prio                                              → priority
//	load_pct cpu_pct (0..100)                         → load (÷100)
//	energy_pct battery_pct (0..100)                   → energy (÷100)
//	temp_c temperature_c                              → temperature (°C)
//	temp_f temperature_f                              → temperature (°F → °C)
//	dataCategories                                    → data_categories
//	dataOrigin                                        → data_origin
//	subjectSid                                        → subject_sid
//
// priority (canonical or alias) is normalised: "P0".."P3" in any case;
// urgent, critical, blocker → P0; high → P1; normal, medium, default → P2;
// low, minor → P3; a long 0..3 → P0..P3.
//
// Two keys that give the same canonical key, a value of the wrong type, or
// a number out of its unit's range make the result not OK with a reason
// naming the key. Unmapped keys do not: they are listed so the sender can
// add an alias.
//
// Payload out: the canonical keys with their values, plus unmapped (sorted
// input keys that were dropped) and renamed (sorted "alias->canonical").
type Bridge struct{}

// Name returns "bridge".
func (Bridge) Name() string { return NameBridge }

// Version returns the node's version.
func (Bridge) Version() string { return "1.0.0" }

// valueKind is what a canonical key holds.
type valueKind int

const (
	kindNumber   valueKind = iota // finite double or long
	kindUnit                      // double in [0,1]
	kindSigned                    // double in [-1,1]
	kindCount                     // long ≥ 0
	kindText                      // non-empty string
	kindVector                    // array<double>, finite
	kindTexts                     // array<string>
	kindPriority                  // P0..P3 after normalisation
)

// canonicalKeys are the payload keys MATRIZ stages and nodes read.
var canonicalKeys = map[string]valueKind{
	"intent": kindVector, "action": kindVector,
	"constraint_satisfaction": kindUnit, "novelty": kindUnit, "value": kindNumber,
	"risk": kindUnit, "drift": kindNumber, "priority": kindPriority, "latency": kindNumber,
	"fanout": kindCount, "depth": kindCount, "links": kindTexts,
	"load": kindUnit, "energy": kindUnit, "temperature": kindNumber, "stress": kindUnit,
	"salience": kindVector, "labels": kindTexts,
	"valence": kindSigned, "arousal": kindSigned,
	"purpose": kindText, "data_categories": kindTexts, "data_origin": kindText, "subject_sid": kindText,
	"goal": kindText, "subgoals": kindTexts, "values": kindVector, "risks": kindVector,
	"status": kindTexts, "next_status": kindTexts,
	"improve": kindTexts, "worsen": kindTexts, "parameters": kindTexts, "deltas": kindVector,
	"features": kindVector, "centroid": kindVector, "centroid_n": kindCount, "target": kindVector,
}

// alias is how an outside key becomes a canonical one.
type alias struct {
	to      string
	convert func(float64) float64 // nil: copy the value as it is
	lo, hi  float64               // accepted input range when convert is set
}

func scaleBy(d float64) func(float64) float64 { return func(x float64) float64 { return x / d } }

var (
	pct          = alias{convert: scaleBy(100), lo: 0, hi: 100}
	nonNegMillis = alias{convert: scaleBy(1e3), lo: 0, hi: math.Inf(1)}
	nonNegMicros = alias{convert: scaleBy(1e6), lo: 0, hi: math.Inf(1)}
	fahrenheit   = alias{convert: func(f float64) float64 { return (f - 32) * 5 / 9 }, lo: -460, hi: 1000}
)

func to(a alias, key string) alias { a.to = key; return a }

var aliases = map[string]alias{
	"intentVector": {to: "intent"}, "intentVec": {to: "intent"}, "intent_vec": {to: "intent"}, "intent_vector": {to: "intent"},
	"actionVector": {to: "action"}, "actionVec": {to: "action"}, "action_vec": {to: "action"}, "action_vector": {to: "action"},
	"risk_pct": to(pct, "risk"), "riskPct": to(pct, "risk"), "risk_percent": to(pct, "risk"),
	"risk_score": {to: "risk"}, "riskScore": {to: "risk"},
	"latency_ms": to(nonNegMillis, "latency"), "latencyMs": to(nonNegMillis, "latency"),
	"latency_us": to(nonNegMicros, "latency"), "latencyUs": to(nonNegMicros, "latency"),
	"latency_s":              {to: "latency"},
	"constraintSatisfaction": {to: "constraint_satisfaction"}, "constraint_sat": {to: "constraint_satisfaction"},
	"constraint_pct": to(pct, "constraint_satisfaction"),
	"noveltyScore":   {to: "novelty"}, "novelty_score": {to: "novelty"},
	"valueScore": {to: "value"}, "value_score": {to: "value"},
	"fanOut": {to: "fanout"}, "fan_out": {to: "fanout"},
	"foldDepth": {to: "depth"}, "fold_depth": {to: "depth"},
	"prio":     {to: "priority"},
	"load_pct": to(pct, "load"), "cpu_pct": to(pct, "load"),
	"energy_pct": to(pct, "energy"), "battery_pct": to(pct, "energy"),
	"temp_c": {to: "temperature"}, "temperature_c": {to: "temperature"},
	"temp_f": to(fahrenheit, "temperature"), "temperature_f": to(fahrenheit, "temperature"),
	"dataCategories": {to: "data_categories"}, "dataOrigin": {to: "data_origin"}, "subjectSid": {to: "subject_sid"},
}

// priorityWords maps the priority words outside systems use to P0..P3.
var priorityWords = map[string]string{
	"p0": "P0", "p1": "P1", "p2": "P2", "p3": "P3",
	"urgent": "P0", "critical": "P0", "blocker": "P0",
	"high":   "P1",
	"normal": "P2", "medium": "P2", "default": "P2",
	"low": "P3", "minor": "P3",
}

// Handle normalises msg's payload.
func (b Bridge) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameBridge); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameBridge, b.Version()), nil
	}
	in := newInput(NameBridge, msg)
	keys := make([]string, 0, len(msg.Payload))
	for k := range msg.Payload {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	out := make(schemas.Payload, len(keys)+2)
	from := make(map[string]string, len(keys)) // canonical key → input key that gave it
	unmapped := []string{}
	renamed := []string{}
	for _, k := range keys {
		target, a := k, alias{}
		if _, ok := canonicalKeys[k]; !ok {
			var isAlias bool
			if a, isAlias = aliases[k]; !isAlias {
				unmapped = append(unmapped, k)
				continue
			}
			target = a.to
		}
		if prev, dup := from[target]; dup {
			in.problem("payload.%s and payload.%s both give %s; send only one", prev, k, target)
			continue
		}
		from[target] = k
		v, ok := b.convert(in, k, a, canonicalKeys[target])
		if !ok {
			continue
		}
		out[target] = v
		if target != k {
			renamed = append(renamed, k+"->"+target)
		}
	}
	if !in.ok() {
		return refuse(msg, NameBridge, b.Version(), in.reasons), nil
	}
	slices.Sort(renamed)
	data := schemas.Payload{
		"canonical": int64(len(out)),
		"renamed":   int64(len(renamed)),
		"unmapped":  int64(len(unmapped)),
	}
	out["unmapped"] = unmapped
	out["renamed"] = renamed
	return answer(msg, NameBridge, b.Version(), nil, out, data), nil
}

// convert checks key's value against the canonical kind and applies the
// alias's unit conversion. It returns a value that shares nothing with the
// input.
func (Bridge) convert(in *input, key string, a alias, kind valueKind) (any, bool) {
	if a.convert != nil {
		x, ok := in.number(key, a.lo, a.hi, true)
		if !ok {
			return nil, false
		}
		return round9(a.convert(x)), true
	}
	switch kind {
	case kindUnit:
		return in.number(key, 0, 1, true)
	case kindSigned:
		return in.number(key, -1, 1, true)
	case kindNumber:
		return in.number(key, math.Inf(-1), math.Inf(1), true)
	case kindCount:
		return in.long(key, 0, math.MaxInt64, true)
	case kindText:
		return in.text(key, true)
	case kindVector:
		v, ok := in.vector(key, true)
		return slices.Clone(v), ok
	case kindTexts:
		v, ok := in.texts(key, true, true)
		return slices.Clone(v), ok
	default: // kindPriority
		return normalPriority(in, key)
	}
}

func normalPriority(in *input, key string) (any, bool) {
	const want = "P0..P3, a priority word (urgent, critical, blocker, high, normal, medium, default, low, minor) or a long 0..3"
	switch x := in.p[key].(type) {
	case string:
		if p, ok := priorityWords[strings.ToLower(strings.TrimSpace(x))]; ok {
			return p, true
		}
	case int64:
		if x >= 0 && x <= 3 {
			return "P" + string(rune('0'+x)), true
		}
	}
	in.bad(key, want)
	return nil, false
}
