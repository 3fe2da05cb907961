// Package inspect is what a person uses to look into a lane from the
// command line: produce JSON messages into it (Produce), read any of its
// topics decoded (Tail), and tell the story of one message from its log
// (Explain).
package inspect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// ProduceConfig is one `matriz produce`.
type ProduceConfig struct {
	Brokers     []string
	RegistryURL string
	Lane        schemas.Lane
	// Version is the MatrizMessage schema version to write with
	// (schemas.Latest: the newest).
	Version schemas.Version
	// In holds JSON lines, one MatrizMessage each; nil produces Count
	// synthetic messages at Rate per second instead.
	In    io.Reader
	Count int
	Rate  float64
	// Scenario makes the Count steps the dev stack's scenario instead of
	// the plain synthetic stream: its scripted episodes (a P0 action for
	// approval, corrupt records for the DLQ, …) ride on top of the steps.
	// It writes with the latest schema version.
	Scenario bool
	// Echo, when set, receives every message sent as one JSON line, with
	// the msg_id and ts filled in.
	Echo io.Writer
	// Producer, when set, is the SASL principal the messages are sent
	// as, in the matriz-producer header: the lane refuses its approvals of
	// the actions they ask for (self-approval).
	Producer string
	// OnRefused is called with each refused input line, in order.
	OnRefused func(*LineError)
	Clock     clock.Clock
}

// ProduceStats counts what Produce did.
type ProduceStats struct {
	Sent, Refused int
}

// String is the summary line: "sent 97, refused 3".
func (s ProduceStats) String() string { return fmt.Sprintf("sent %d, refused %d", s.Sent, s.Refused) }

// LineError is one input line Produce refused: its number (from 1), the
// field at fault ("" when the line is not JSON at all) and why.
type LineError struct {
	Line   int
	Field  string
	Reason string
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Reason)
}

// jsonGlyph and jsonMessage are the JSON form of a MatrizMessage: the
// field names of the Avro schema.
type jsonGlyph struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	Version    string            `json:"version"`
	Tags       map[string]string `json:"tags"`
	SubjectSID *string           `json:"subject_sid,omitempty"`
	Consent    *struct {
		Granted bool   `json:"granted"`
		Purpose string `json:"purpose"`
	} `json:"consent,omitempty"`
	Provenance []string `json:"provenance,omitempty"`
}

type jsonMessage struct {
	MsgID   string                     `json:"msg_id"`
	TS      json.RawMessage            `json:"ts"`
	Lane    string                     `json:"lane"`
	Glyph   jsonGlyph                  `json:"glyph"`
	Payload map[string]json.RawMessage `json:"payload"`
	Topic   string                     `json:"topic"`
}

// ParseLine reads one JSON line into a message for lane, filling in a
// missing msg_id (a random UUID), ts (now) and lane, and checks it against
// the Node Contract. A line it refuses is a *LineError naming the field.
func ParseLine(n int, line []byte, lane schemas.Lane, now time.Time) (schemas.MatrizMessage, error) {
	bad := func(field, format string, args ...any) (schemas.MatrizMessage, error) {
		return schemas.MatrizMessage{}, &LineError{Line: n, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	var j jsonMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return bad(te.Field, "want a JSON %s, got %s", te.Type, te.Value)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return bad(strings.Trim(f, `"`), "not a MatrizMessage field (msg_id, ts, lane, glyph, payload, topic)")
		}
		return bad("", "not a JSON object: %v", err)
	}
	if dec.More() {
		return bad("", "more than one JSON value on the line")
	}
	m := schemas.MatrizMessage{MsgID: j.MsgID, Lane: schemas.Lane(j.Lane), Topic: j.Topic}
	if m.MsgID == "" {
		m.MsgID = uuid.NewString()
	}
	if m.Lane == "" {
		m.Lane = lane
	} else if m.Lane != lane {
		return bad("lane", "%q, but producing to lane %s", j.Lane, lane)
	}
	switch ts := bytes.TrimSpace(j.TS); {
	case len(ts) == 0 || string(ts) == "null":
		m.TS = now.UTC().Truncate(time.Microsecond)
	case ts[0] == '"':
		var s string
		_ = json.Unmarshal(ts, &s)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad("ts", "%q is not an RFC 3339 time", s)
		}
		m.TS = t.UTC().Truncate(time.Microsecond)
	default:
		us, err := strconv.ParseInt(string(ts), 10, 64)
		if err != nil {
			return bad("ts", "%s is neither an RFC 3339 string nor whole microseconds since 1970", ts)
		}
		m.TS = time.UnixMicro(us).UTC()
	}
	g := j.Glyph
	m.Glyph = schemas.Glyph{ID: g.ID, Kind: g.Kind, Version: g.Version, Tags: g.Tags, SubjectSID: g.SubjectSID, Provenance: g.Provenance}
	if g.Consent != nil {
		m.Glyph.Consent = &schemas.Consent{Granted: g.Consent.Granted, Purpose: g.Consent.Purpose}
	}
	if m.Glyph.Tags == nil {
		m.Glyph.Tags = map[string]string{}
	}
	m.Payload = schemas.Payload{}
	for k, raw := range j.Payload {
		v, err := payloadValue(raw)
		if err != nil {
			return bad("payload."+k, "%v", err)
		}
		m.Payload[k] = v
	}
	if err := m.Validate(); err != nil {
		var ce *schemas.ContractError
		if errors.As(err, &ce) {
			return bad(ce.Field, "%s: %s", ce.Value, ce.Reason)
		}
		return bad("", "%v", err)
	}
	return m, nil
}

// payloadValue turns a JSON value into one of the payload union's types:
// null, bool, a whole number (int64), any other number (float64), a
// string, an array of numbers ([]float64) or of strings ([]string).
func payloadValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		return x.Float64()
	case []any:
		if len(x) == 0 {
			return []float64{}, nil
		}
		if _, isStr := x[0].(string); isStr {
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("item %d of a string list is not a string", i)
				}
				out[i] = s
			}
			return out, nil
		}
		out := make([]float64, len(x))
		for i, e := range x {
			num, ok := e.(json.Number)
			if !ok {
				return nil, fmt.Errorf("item %d is neither a number nor a string: a list holds numbers or strings", i)
			}
			f, err := num.Float64()
			if err != nil {
				return nil, err
			}
			out[i] = f
		}
		return out, nil
	}
	return nil, errors.New("an object is outside the payload union (null, bool, number, string, list of numbers or strings)")
}

// MessageJSON is m as one JSON object with the Avro field names.
func MessageJSON(m *schemas.MatrizMessage) map[string]any {
	g := map[string]any{"id": m.Glyph.ID, "kind": m.Glyph.Kind, "version": m.Glyph.Version, "tags": m.Glyph.Tags}
	if m.Glyph.SubjectSID != nil {
		g["subject_sid"] = *m.Glyph.SubjectSID
	}
	if m.Glyph.Consent != nil {
		g["consent"] = map[string]any{"granted": m.Glyph.Consent.Granted, "purpose": m.Glyph.Consent.Purpose}
	}
	if len(m.Glyph.Provenance) > 0 {
		g["provenance"] = m.Glyph.Provenance
	}
	return map[string]any{"msg_id": m.MsgID, "ts": m.TS.UTC().Format(time.RFC3339Nano), "lane": string(m.Lane),
		"glyph": g, "payload": replay.PayloadJSON(m.Payload), "topic": m.Topic}
}

// CheckVersion reports whether v is a MatrizMessage schema version this
// binary can write (or schemas.Latest).
func CheckVersion(v schemas.Version) error {
	vs := schemas.Versions(schemas.NameMessage)
	if v == schemas.Latest || slices.Contains(vs, v) {
		return nil
	}
	names := make([]string, len(vs))
	for i, x := range vs {
		names[i] = x.String()
	}
	return fmt.Errorf("MatrizMessage has no %v (versions: %s, or latest)", v, strings.Join(names, ", "))
}

// Produce sends cfg's messages to the lane's messages topic in the wire
// format of the registry's schema for the lane, keyed by glyph id, each
// acknowledged by all in-sync replicas. Refused lines are reported on
// cfg.Errs and counted, not sent.
func Produce(ctx context.Context, cfg ProduceConfig) (ProduceStats, error) {
	var st ProduceStats
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.OnRefused == nil {
		cfg.OnRefused = func(*LineError) {}
	}
	if err := CheckVersion(cfg.Version); err != nil {
		return st, err
	}
	if cfg.Scenario {
		if err := CheckScenarioVersion(cfg.Version); err != nil {
			return st, err
		}
	}
	if !cfg.Lane.Valid() {
		return st, fmt.Errorf("lane %q: want experimental, candidate or prod", cfg.Lane)
	}
	topic := topics.Name(string(cfg.Lane), topics.KindMessages)
	subject := serde.ValueSubject(topic)
	sd, err := serde.Open(ctx, cfg.RegistryURL, []serde.Subject{{Name: subject, Schema: schemas.NameMessage}})
	if err != nil {
		return st, err
	}
	id, err := sd.IDAs(subject, cfg.Version)
	if err != nil {
		return st, err
	}
	sink, err := topics.NewSink(ctx, cfg.Brokers)
	if err != nil {
		return st, err
	}
	var acks []*topics.Ack
	closed := false
	finish := func() error {
		if !closed {
			closed = true
			close(sink.In())
		}
		sink.AwaitCompletion()
		for i, a := range acks {
			if !a.Resolved() || a.Err() != nil {
				return fmt.Errorf("message %d of %d not acknowledged by %s: %v", i+1, len(acks), topic, a.Err())
			}
		}
		return nil
	}
	var producer []topics.Header
	if cfg.Producer != "" {
		producer = []topics.Header{{Key: topics.HeaderProducer, Value: []byte(cfg.Producer)}}
	}
	sendWire := func(key, val []byte) error {
		a := topics.NewAck()
		acks = append(acks, a)
		select {
		case sink.In() <- topics.Message{Topic: topic, Key: key, Value: val, Ack: a, Headers: producer}:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	send := func(m *schemas.MatrizMessage) error {
		val, err := schemas.AppendWireAs(nil, id, m, cfg.Version)
		if err != nil {
			return err
		}
		if err := sendWire([]byte(m.Glyph.ID), val); err != nil {
			return err
		}
		if cfg.Echo != nil {
			b, _ := json.Marshal(MessageJSON(m))
			if _, err := cfg.Echo.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		st.Sent++
		return nil
	}
	switch {
	case cfg.In != nil:
		err = produceLines(ctx, cfg, &st, send)
	case cfg.Scenario:
		err = produceScenario(ctx, cfg, func(r *devstack.ScenarioRecord) error {
			val, err := r.Wire(id)
			if err != nil {
				return err
			}
			if err := sendWire(r.Key(), val); err != nil {
				return err
			}
			st.Sent++
			return nil
		})
	default:
		err = produceSynthetic(ctx, cfg, send)
	}
	if ferr := finish(); err == nil {
		err = ferr
	}
	return st, err
}

func produceLines(ctx context.Context, cfg ProduceConfig, st *ProduceStats, send func(*schemas.MatrizMessage) error) error {
	sc := bufio.NewScanner(cfg.In)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		m, err := ParseLine(n, line, cfg.Lane, cfg.Clock.Now())
		if err != nil {
			st.Refused++
			cfg.OnRefused(err.(*LineError))
			continue
		}
		if err := send(&m); err != nil {
			return err
		}
	}
	return sc.Err()
}

// produceSynthetic sends cfg.Count messages of the dev stack's synthetic
// stream with fresh msg ids, paced at cfg.Rate per second (0: as fast as
// possible).
func produceSynthetic(ctx context.Context, cfg ProduceConfig, send func(*schemas.MatrizMessage) error) error {
	if cfg.Count <= 0 {
		return errors.New("nothing to produce: give JSON lines (--file) or --count")
	}
	gen := devstack.NewSynthetic(cfg.Lane, uint64(cfg.Clock.Now().UnixNano()), 256)
	return paced(ctx, cfg, func() error {
		m := gen.Next(cfg.Clock.Now())
		// The generator's ids are the same in every run (the dev stack
		// wants that); two runs of produce must not send one id twice.
		m.MsgID = uuid.NewString()
		return send(&m)
	})
}

// paced calls step cfg.Count times, at cfg.Rate calls per second (0: as
// fast as it can), until step fails or ctx ends.
func paced(ctx context.Context, cfg ProduceConfig, step func() error) error {
	var tick clock.Ticker
	if cfg.Rate > 0 {
		tick = cfg.Clock.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer tick.Stop()
	}
	for range cfg.Count {
		if tick != nil {
			select {
			case <-tick.C():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// CheckScenarioVersion refuses a schema version other than the latest for
// the scenario, whose corrupt records are built on the latest encoding.
func CheckScenarioVersion(v schemas.Version) error {
	if v != schemas.Latest {
		return fmt.Errorf("the scenario writes with the latest MatrizMessage schema, not %v", v)
	}
	return nil
}

// produceScenario sends cfg.Count steps of the dev stack's scenario, paced
// at cfg.Rate steps per second (0: as fast as possible), each step's
// records stamped with the clock: the script's beats fire by event time
// from the first step, so a run of a few seconds at a few dozen steps a
// second carries the P0 action, the corrupt records and the breakthroughs.
// The seed is the clock's, so two runs send different msg ids.
func produceScenario(ctx context.Context, cfg ProduceConfig, send func(*devstack.ScenarioRecord) error) error {
	if cfg.Count <= 0 {
		return errors.New("nothing to produce: the scenario needs --count")
	}
	sc, err := devstack.NewScenario(cfg.Lane, devstack.ScenarioSeed(uint64(cfg.Clock.Now().UnixNano())))
	if err != nil {
		return err
	}
	return paced(ctx, cfg, func() error {
		for _, r := range sc.Next(cfg.Clock.Now()) {
			if err := send(&r); err != nil {
				return err
			}
		}
		return nil
	})
}
