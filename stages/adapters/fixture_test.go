package adapters_test

// This file is the JSON form of the golden fixtures: a MatrizMessage in
// (<case>.input.json) and the MatrizResult out (<case>.golden.json).
//
// Payload values keep their Avro union branch in plain JSON: a number
// with a fraction or an exponent (0.5, 1.0, 1e-07) is a double, one
// without (42) is a long; an array of numbers is array<double>, an array
// of strings array<string>. An empty array has no element to tell its
// type, so it is written {"array<double>": []} or {"array<string>": []}.
// Times are RFC 3339 in UTC with microseconds. Map keys are sorted
// (encoding/json sorts them), so the files are stable.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/schemas"
)

type jsonGlyph struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Version string            `json:"version"`
	Tags    map[string]string `json:"tags"`
}

type jsonMessage struct {
	MsgID   string                     `json:"msg_id"`
	TS      string                     `json:"ts"`
	Lane    string                     `json:"lane"`
	Glyph   jsonGlyph                  `json:"glyph"`
	Payload map[string]json.RawMessage `json:"payload"`
	Topic   string                     `json:"topic"`
}

type jsonCrumb struct {
	Stage string                     `json:"stage"`
	T     string                     `json:"t"`
	Data  map[string]json.RawMessage `json:"data"`
}

type jsonResult struct {
	ID          string                     `json:"id"`
	MsgID       string                     `json:"msg_id"`
	TS          string                     `json:"ts"`
	Lane        string                     `json:"lane"`
	Node        string                     `json:"node"`
	NodeVersion string                     `json:"node_version"`
	OK          bool                       `json:"ok"`
	Reasons     []string                   `json:"reasons"`
	Payload     map[string]json.RawMessage `json:"payload"`
	Trace       []jsonCrumb                `json:"trace"`
}

const jsonTime = "2006-01-02T15:04:05.000000Z07:00"

// decodeMessage reads a fixture message.
func decodeMessage(b []byte) (schemas.MatrizMessage, error) {
	var jm jsonMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jm); err != nil {
		return schemas.MatrizMessage{}, err
	}
	ts, err := time.Parse(time.RFC3339Nano, jm.TS)
	if err != nil {
		return schemas.MatrizMessage{}, fmt.Errorf("ts: %w", err)
	}
	p, err := decodePayload(jm.Payload)
	if err != nil {
		return schemas.MatrizMessage{}, err
	}
	return schemas.MatrizMessage{
		MsgID:   jm.MsgID,
		TS:      ts.UTC(),
		Lane:    schemas.Lane(jm.Lane),
		Glyph:   schemas.Glyph{ID: jm.Glyph.ID, Kind: jm.Glyph.Kind, Version: jm.Glyph.Version, Tags: jm.Glyph.Tags},
		Payload: p,
		Topic:   jm.Topic,
	}, nil
}

func decodePayload(raw map[string]json.RawMessage) (schemas.Payload, error) {
	if raw == nil {
		return nil, nil
	}
	p := make(schemas.Payload, len(raw))
	for k, r := range raw {
		v, err := decodeValue(r)
		if err != nil {
			return nil, fmt.Errorf("payload %q: %w", k, err)
		}
		p[k] = v
	}
	return p, nil
}

func decodeValue(r json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		return number(x)
	case []any:
		if len(x) == 0 {
			return nil, errors.New(`empty array: write {"array<double>": []} or {"array<string>": []}`)
		}
		if _, ok := x[0].(string); ok {
			ss := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("array mixes strings and %T", e)
				}
				ss[i] = s
			}
			return ss, nil
		}
		fs := make([]float64, len(x))
		for i, e := range x {
			n, ok := e.(json.Number)
			if !ok {
				return nil, fmt.Errorf("array mixes numbers and %T", e)
			}
			f, err := n.Float64()
			if err != nil {
				return nil, err
			}
			fs[i] = f
		}
		return fs, nil
	case map[string]any:
		if a, ok := x["array<double>"].([]any); ok && len(x) == 1 && len(a) == 0 {
			return []float64{}, nil
		}
		if a, ok := x["array<string>"].([]any); ok && len(x) == 1 && len(a) == 0 {
			return []string{}, nil
		}
		return nil, fmt.Errorf("object %v: only an empty typed array may be an object", x)
	}
	return nil, fmt.Errorf("unsupported JSON value %T", v)
}

func number(n json.Number) (any, error) {
	if strings.ContainsAny(string(n), ".eE") {
		return n.Float64()
	}
	return n.Int64()
}

// encodeResult writes a result as stable, indented JSON.
func encodeResult(r schemas.MatrizResult) ([]byte, error) {
	p, err := encodePayload(r.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	jr := jsonResult{
		ID: r.ID, MsgID: r.MsgID, TS: r.TS.UTC().Format(jsonTime), Lane: string(r.Lane),
		Node: r.Node, NodeVersion: r.NodeVersion, OK: r.OK, Reasons: r.Reasons, Payload: p,
		Trace: make([]jsonCrumb, len(r.Trace)),
	}
	if jr.Reasons == nil {
		jr.Reasons = []string{}
	}
	for i, c := range r.Trace {
		d, err := encodePayload(c.Data)
		if err != nil {
			return nil, fmt.Errorf("crumb %d: %w", i, err)
		}
		jr.Trace[i] = jsonCrumb{Stage: c.Stage, T: c.T.UTC().Format(jsonTime), Data: d}
	}
	out, err := json.MarshalIndent(jr, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func encodePayload(p schemas.Payload) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(p))
	for k, v := range p {
		r, err := encodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}

func encodeValue(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case int64:
		return json.RawMessage(strconv.FormatInt(x, 10)), nil
	case float64:
		return encodeDouble(x)
	case []float64:
		if len(x) == 0 {
			return json.RawMessage(`{"array<double>": []}`), nil
		}
		parts := make([]string, len(x))
		for i, f := range x {
			d, err := encodeDouble(f)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			parts[i] = string(d)
		}
		return json.RawMessage("[" + strings.Join(parts, ",") + "]"), nil
	case []string:
		if len(x) == 0 {
			return json.RawMessage(`{"array<string>": []}`), nil
		}
		return json.Marshal(x)
	case bool, string:
		return json.Marshal(x)
	}
	return nil, fmt.Errorf("%T is not a payload union branch", v)
}

// encodeDouble always writes a fraction or an exponent, so the value reads
// back as a double.
func encodeDouble(f float64) (json.RawMessage, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v has no JSON form; a node must never emit it", f)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return json.RawMessage(s), nil
}
