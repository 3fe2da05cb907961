package schemas

import (
	"fmt"
	"time"
)

// This file converts between the package's Go types and the "native" form
// of github.com/linkedin/goavro/v2: records as map[string]any, unions as a
// one-entry map {branch name: value} (null as plain nil), timestamp-micros
// as time.Time, enums as their symbol string, arrays as []any. The
// conversion is written from the .avsc files, independently of the codec,
// so that goavro acts as a second implementation in the conformance tests.
// twmb/avro accepts the same tagged-union form when it encodes.

func toNative(v any) map[string]any {
	switch x := v.(type) {
	case *Glyph:
		return nativeGlyph(x)
	case *MatrizMessage:
		return map[string]any{
			"msg_id": x.MsgID, "ts": x.TS, "lane": string(x.Lane), "glyph": nativeGlyph(&x.Glyph),
			"payload": nativePayload(x.Payload), "topic": x.Topic,
		}
	case *MatrizResult:
		return map[string]any{
			"id": x.ID, "msg_id": x.MsgID, "ts": x.TS, "lane": string(x.Lane), "node": x.Node,
			"node_version": x.NodeVersion, "ok": x.OK, "reasons": nativeStrings(x.Reasons),
			"payload": nativePayload(x.Payload), "trace": nativeCrumbs(x.Trace),
		}
	case *Event:
		return map[string]any{
			"id": x.ID, "ts": x.TS, "kind": string(x.Kind), "lane": string(x.Lane), "glyph_id": x.GlyphID,
			"msg_id": x.MsgID, "stage": x.Stage, "payload": nativePayload(x.Payload),
		}
	case *Trace:
		return map[string]any{
			"id": x.ID, "ts": x.TS, "msg_id": x.MsgID, "lane": string(x.Lane), "stage": x.Stage,
			"decision": x.Decision, "crumbs": nativeCrumbs(x.Crumbs), "inputs": nativePayload(x.Inputs),
			"outputs": nativePayload(x.Outputs), "constraints": nativeStrings(x.Constraints),
			"risk_class": string(x.RiskClass), "data_origin": x.DataOrigin, "explanation_link": x.ExplanationLink,
		}
	}
	panic(fmt.Sprintf("toNative: %T is not a record", v))
}

func nativeGlyph(g *Glyph) map[string]any {
	tags := make(map[string]any, len(g.Tags))
	for k, v := range g.Tags {
		tags[k] = v
	}
	// The v2 fields: goavro ignores the keys a v1 schema lacks.
	var sid, consent any
	if g.SubjectSID != nil {
		sid = map[string]any{"string": *g.SubjectSID}
	}
	if g.Consent != nil {
		consent = map[string]any{"matriz.Consent": map[string]any{"granted": g.Consent.Granted, "purpose": g.Consent.Purpose}}
	}
	return map[string]any{"id": g.ID, "kind": g.Kind, "version": g.Version, "tags": tags,
		"subject_sid": sid, "consent": consent, "provenance": nativeStrings(g.Provenance)}
}

func nativeStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func nativeCrumbs(cs []Crumb) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = map[string]any{"stage": c.Stage, "t": c.T, "data": nativePayload(c.Data)}
	}
	return out
}

func nativePayload(p Payload) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		switch x := v.(type) {
		case nil:
			out[k] = nil
		case bool:
			out[k] = map[string]any{"boolean": x}
		case int64:
			out[k] = map[string]any{"long": x}
		case float64:
			out[k] = map[string]any{"double": x}
		case string:
			out[k] = map[string]any{"string": x}
		case []float64:
			items := make([]any, len(x))
			for i, f := range x {
				items[i] = f
			}
			out[k] = map[string]any{"array": items}
		case []string:
			out[k] = map[string]any{"matriz.StringList": map[string]any{"items": nativeStrings(x)}}
		default:
			panic(fmt.Sprintf("nativePayload: key %q holds %T", k, v))
		}
	}
	return out
}

// fromNative builds the Go value for schema name from goavro's native form,
// failing on any shape the schema does not allow.
func fromNative(name Name, n any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("native value of unexpected shape: %v", r)
		}
	}()
	m := n.(map[string]any)
	switch name {
	case NameGlyph:
		g := glyphFromNative(m)
		return &g, nil
	case NameMessage:
		return &MatrizMessage{
			MsgID: m["msg_id"].(string), TS: m["ts"].(time.Time), Lane: Lane(m["lane"].(string)),
			Glyph: glyphFromNative(m["glyph"].(map[string]any)), Payload: payloadFromNative(m["payload"]),
			Topic: m["topic"].(string),
		}, nil
	case NameResult:
		return &MatrizResult{
			ID: m["id"].(string), MsgID: m["msg_id"].(string), TS: m["ts"].(time.Time), Lane: Lane(m["lane"].(string)),
			Node: m["node"].(string), NodeVersion: m["node_version"].(string), OK: m["ok"].(bool),
			Reasons: stringsFromNative(m["reasons"]), Payload: payloadFromNative(m["payload"]),
			Trace: crumbsFromNative(m["trace"]),
		}, nil
	case NameEvent:
		return &Event{
			ID: m["id"].(string), TS: m["ts"].(time.Time), Kind: EventKind(m["kind"].(string)),
			Lane: Lane(m["lane"].(string)), GlyphID: m["glyph_id"].(string), MsgID: m["msg_id"].(string),
			Stage: m["stage"].(string), Payload: payloadFromNative(m["payload"]),
		}, nil
	case NameTrace:
		return &Trace{
			ID: m["id"].(string), TS: m["ts"].(time.Time), MsgID: m["msg_id"].(string), Lane: Lane(m["lane"].(string)),
			Stage: m["stage"].(string), Decision: m["decision"].(string), Crumbs: crumbsFromNative(m["crumbs"]),
			Inputs: payloadFromNative(m["inputs"]), Outputs: payloadFromNative(m["outputs"]),
			Constraints: stringsFromNative(m["constraints"]), RiskClass: RiskClass(m["risk_class"].(string)),
			DataOrigin: m["data_origin"].(string), ExplanationLink: m["explanation_link"].(string),
		}, nil
	}
	return nil, fmt.Errorf("unknown schema %q", name)
}

func glyphFromNative(m map[string]any) Glyph {
	tags := map[string]string{}
	for k, v := range m["tags"].(map[string]any) {
		tags[k] = v.(string)
	}
	g := Glyph{ID: m["id"].(string), Kind: m["kind"].(string), Version: m["version"].(string), Tags: tags}
	// v2 fields, present when the schema was GLYPH v2.
	if sid, ok := m["subject_sid"].(map[string]any); ok {
		s := sid["string"].(string)
		g.SubjectSID = &s
	}
	if c, ok := m["consent"].(map[string]any); ok {
		r := c["matriz.Consent"].(map[string]any)
		g.Consent = &Consent{Granted: r["granted"].(bool), Purpose: r["purpose"].(string)}
	}
	if p, ok := m["provenance"]; ok {
		g.Provenance = stringsFromNative(p)
	}
	return g
}

func stringsFromNative(n any) []string {
	items := n.([]any)
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = s.(string)
	}
	return out
}

func crumbsFromNative(n any) []Crumb {
	items := n.([]any)
	out := make([]Crumb, len(items))
	for i, it := range items {
		c := it.(map[string]any)
		out[i] = Crumb{Stage: c["stage"].(string), T: c["t"].(time.Time), Data: payloadFromNative(c["data"])}
	}
	return out
}

func payloadFromNative(n any) Payload {
	out := Payload{}
	for k, v := range n.(map[string]any) {
		if v == nil {
			out[k] = nil
			continue
		}
		u := v.(map[string]any)
		if len(u) != 1 {
			panic(fmt.Sprintf("union value for %q has %d branches", k, len(u)))
		}
		for branch, x := range u {
			switch branch {
			case "boolean":
				out[k] = x.(bool)
			case "long":
				out[k] = x.(int64)
			case "double":
				out[k] = x.(float64)
			case "string":
				out[k] = x.(string)
			case "array":
				items := x.([]any)
				fs := make([]float64, len(items))
				for i, f := range items {
					fs[i] = f.(float64)
				}
				out[k] = fs
			case "matriz.StringList":
				out[k] = stringsFromNative(x.(map[string]any)["items"])
			default:
				panic(fmt.Sprintf("union branch %q for %q", branch, k))
			}
		}
	}
	return out
}
