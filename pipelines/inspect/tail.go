package inspect

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TailKinds are the topics Tail reads, by kind.
var TailKinds = []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions, topics.KindDLQ, topics.KindMessages}

// ParseTailKind reads a --topic value.
func ParseTailKind(s string) (topics.Kind, error) {
	k := topics.Kind(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(TailKinds, k) {
		names := make([]string, len(TailKinds))
		for i, k := range TailKinds {
			names[i] = string(k)
		}
		return "", fmt.Errorf("topic %q: want one of %s", s, strings.Join(names, ", "))
	}
	return k, nil
}

// TailConfig is one `matriz tail`.
type TailConfig struct {
	Brokers     []string
	RegistryURL string
	Lane        schemas.Lane
	Kind        topics.Kind
	From        replay.Position // the zero Position: start
	Glyph       string          // only records about this glyph id (see aboutGlyph)
	Msg         string          // only records about this msg id
	Follow      bool
	JSON        bool
	Out         io.Writer
}

// TailStats counts what Tail read and printed.
type TailStats struct {
	Read, Printed, Undecodable int
}

// Record is one decoded record of a lane topic with where it lies.
type Record struct {
	Kind      topics.Kind
	Topic     string
	Partition int32
	Offset    int64
	Time      time.Time
	Key       string
	Headers   []topics.Header

	Message *schemas.MatrizMessage
	Result  *schemas.MatrizResult
	Event   *schemas.Event // events and actions
	Trace   *schemas.Trace
	DLQ     *DLQRecord
	Err     error // the value did not decode
}

// DLQRecord is a dead-lettered record: why, where it came from, and its
// original bytes.
type DLQRecord struct {
	Reason, Stage, Detail string
	SrcTopic              string
	SrcPartition          string
	SrcOffset             string
	Original              []byte
}

// MsgID is the message id the record is about ("" when unknown): the
// decoded msg_id, or the matriz-msg-id header.
func (r *Record) MsgID() string {
	switch {
	case r.Message != nil:
		return r.Message.MsgID
	case r.Result != nil:
		return r.Result.MsgID
	case r.Event != nil:
		return r.Event.MsgID
	case r.Trace != nil:
		return r.Trace.MsgID
	}
	for _, h := range r.Headers {
		if h.Key == runtime.HeaderMsgID {
			return string(h.Value)
		}
	}
	return ""
}

// aboutGlyph reports whether the record is about glyph g: its decoded
// glyph id when it has one (messages, events, actions), else its key
// (results, traces and DLQ records are keyed by glyph id).
func (r *Record) aboutGlyph(g string) bool {
	switch {
	case r.Message != nil:
		return r.Message.Glyph.ID == g
	case r.Event != nil:
		return r.Event.GlyphID == g
	}
	return r.Key == g
}

// decoder decodes the values of a lane's topics through the registry.
type decoder struct {
	lookup *schemas.SchemaLookup
}

func newDecoder(ctx context.Context, registryURL string) (*decoder, error) {
	sd, err := serde.Open(ctx, registryURL, nil)
	if err != nil {
		return nil, err
	}
	return &decoder{lookup: sd.Lookup()}, nil
}

func (d *decoder) decode(ctx context.Context, kind topics.Kind, m topics.Message) Record {
	r := Record{Kind: kind, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Time: m.Time, Key: string(m.Key), Headers: m.Headers}
	var err error
	switch kind {
	case topics.KindMessages:
		r.Message = new(schemas.MatrizMessage)
		_, err = schemas.DecodeWire(ctx, d.lookup, m.Value, r.Message)
	case topics.KindResults:
		r.Result = new(schemas.MatrizResult)
		_, err = schemas.DecodeWire(ctx, d.lookup, m.Value, r.Result)
	case topics.KindEvents, topics.KindActions:
		r.Event = new(schemas.Event)
		_, err = schemas.DecodeWire(ctx, d.lookup, m.Value, r.Event)
	case topics.KindTraces:
		r.Trace = new(schemas.Trace)
		_, err = schemas.DecodeWire(ctx, d.lookup, m.Value, r.Trace)
	case topics.KindDLQ:
		h := func(k string) string { return string(m.Header(k)) }
		r.DLQ = &DLQRecord{Reason: h(runtime.HeaderDLQReason), Stage: h(runtime.HeaderDLQStage), Detail: h(runtime.HeaderDLQDetail),
			SrcTopic: h(runtime.HeaderSrcTopic), SrcPartition: h(runtime.HeaderSrcPartition), SrcOffset: h(runtime.HeaderSrcOffset), Original: m.Value}
		// The original may be a message that decodes (a contract
		// violation): its msg_id lets --msg and explain find it.
		var msg schemas.MatrizMessage
		if _, derr := schemas.DecodeWire(ctx, d.lookup, m.Value, &msg); derr == nil {
			r.Message = &msg
		}
	}
	if err != nil {
		r.Message, r.Result, r.Event, r.Trace = nil, nil, nil, nil
		r.Err = err
	}
	return r
}

// Tail prints the records of one lane topic, one per line.
func Tail(ctx context.Context, cfg TailConfig) (TailStats, error) {
	var st TailStats
	if cfg.From.Kind == 0 {
		cfg.From = replay.Position{Kind: replay.PositionStart}
	}
	d, err := newDecoder(ctx, cfg.RegistryURL)
	if err != nil {
		return st, err
	}
	topic := topics.Name(string(cfg.Lane), cfg.Kind)
	var line []byte
	err = readLog(ctx, cfg.Brokers, topic, cfg.From, cfg.Follow, func(m topics.Message) error {
		st.Read++
		r := d.decode(ctx, cfg.Kind, m)
		if r.Err != nil {
			st.Undecodable++
		}
		if cfg.Glyph != "" && !r.aboutGlyph(cfg.Glyph) {
			return nil
		}
		if cfg.Msg != "" && r.MsgID() != cfg.Msg {
			return nil
		}
		st.Printed++
		if cfg.JSON {
			line = r.AppendJSON(line[:0])
		} else {
			line = r.AppendText(line[:0])
		}
		_, err := cfg.Out.Write(line)
		return err
	})
	return st, err
}

// JSONValue is the record's value as JSON-ready data with the Avro field
// names.
func (r *Record) JSONValue() any {
	switch {
	case r.DLQ != nil:
		v := map[string]any{"reason": r.DLQ.Reason, "stage": r.DLQ.Stage, "detail": r.DLQ.Detail,
			"src_topic": r.DLQ.SrcTopic, "src_partition": r.DLQ.SrcPartition, "src_offset": r.DLQ.SrcOffset,
			"original_base64": base64.StdEncoding.EncodeToString(r.DLQ.Original)}
		if r.Message != nil {
			v["message"] = MessageJSON(r.Message)
		}
		return v
	case r.Message != nil:
		return MessageJSON(r.Message)
	case r.Result != nil:
		x := r.Result
		return map[string]any{"id": x.ID, "msg_id": x.MsgID, "ts": ts(x.TS), "lane": string(x.Lane), "node": x.Node,
			"node_version": x.NodeVersion, "ok": x.OK, "reasons": nonNil(x.Reasons), "payload": replay.PayloadJSON(x.Payload), "trace": crumbsJSON(x.Trace)}
	case r.Event != nil:
		x := r.Event
		return map[string]any{"id": x.ID, "ts": ts(x.TS), "kind": string(x.Kind), "lane": string(x.Lane), "glyph_id": x.GlyphID,
			"msg_id": x.MsgID, "stage": x.Stage, "payload": replay.PayloadJSON(x.Payload)}
	case r.Trace != nil:
		x := r.Trace
		return map[string]any{"id": x.ID, "ts": ts(x.TS), "msg_id": x.MsgID, "lane": string(x.Lane), "stage": x.Stage,
			"decision": x.Decision, "crumbs": crumbsJSON(x.Crumbs), "inputs": replay.PayloadJSON(x.Inputs), "outputs": replay.PayloadJSON(x.Outputs),
			"constraints": nonNil(x.Constraints), "risk_class": string(x.RiskClass), "data_origin": x.DataOrigin, "explanation_link": x.ExplanationLink}
	}
	return nil
}

// AppendJSON appends r as one JSON object and a newline: its coordinates,
// key, headers and decoded value (or the decode error).
func (r *Record) AppendJSON(dst []byte) []byte {
	b, err := json.Marshal(r.jsonObject())
	if err != nil {
		b = fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	return append(append(dst, b...), '\n')
}

func (r *Record) jsonObject() map[string]any {
	hs := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		hs[h.Key] = string(h.Value)
	}
	o := map[string]any{"topic": r.Topic, "partition": r.Partition, "offset": r.Offset, "key": r.Key, "headers": hs}
	if !r.Time.IsZero() {
		o["timestamp"] = ts(r.Time)
	}
	if r.Err != nil {
		o["error"] = r.Err.Error()
	} else {
		o["value"] = r.JSONValue()
	}
	return o
}

// AppendText appends r in a compact human form, one line.
func (r *Record) AppendText(dst []byte) []byte {
	dst = fmt.Appendf(dst, "%d/%d ", r.Partition, r.Offset)
	switch {
	case r.Err != nil:
		dst = fmt.Appendf(dst, "undecodable: %v", r.Err)
	case r.DLQ != nil:
		x := r.DLQ
		dst = fmt.Appendf(dst, "dlq reason=%s stage=%s src=%s/%s/%s", x.Reason, x.Stage, x.SrcTopic, x.SrcPartition, x.SrcOffset)
		if x.Detail != "" {
			dst = fmt.Appendf(dst, " detail=%q", x.Detail)
		}
		dst = fmt.Appendf(dst, " original=%s", base64.StdEncoding.EncodeToString(x.Original))
	case r.Message != nil:
		x := r.Message
		dst = fmt.Appendf(dst, "%s msg=%s glyph=%s topic=%s payload=%s", ts(x.TS), x.MsgID, x.Glyph.ID, x.Topic, compact(replay.PayloadJSON(x.Payload)))
	case r.Result != nil:
		x := r.Result
		dst = fmt.Appendf(dst, "%s msg=%s node=%s ok=%v", ts(x.TS), x.MsgID, x.Node, x.OK)
		if len(x.Reasons) > 0 {
			dst = fmt.Appendf(dst, " reasons=%q", x.Reasons)
		}
	case r.Event != nil:
		x := r.Event
		dst = fmt.Appendf(dst, "%s %s glyph=%s msg=%s stage=%s payload=%s", ts(x.TS), x.Kind, x.GlyphID, x.MsgID, x.Stage, compact(replay.PayloadJSON(x.Payload)))
	case r.Trace != nil:
		x := r.Trace
		dst = fmt.Appendf(dst, "%s %s msg=%s decision=%s risk_class=%s constraints=%q", ts(x.TS), x.Stage, x.MsgID, x.Decision, x.RiskClass, x.Constraints)
	}
	return append(dst, '\n')
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func crumbsJSON(cs []schemas.Crumb) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = map[string]any{"stage": c.Stage, "t": ts(c.T), "data": replay.PayloadJSON(c.Data)}
	}
	return out
}
