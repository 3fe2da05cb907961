package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// ErrNoStory: the lane's log holds no record of the message.
var ErrNoStory = errors.New("no record of the message")

// ExplainConfig is one `matriz explain`.
type ExplainConfig struct {
	Brokers     []string
	RegistryURL string
	Lane        schemas.Lane
	MsgID       string
}

// Story is everything a lane's log holds about one message, each record
// with its topic, partition and offset.
type Story struct {
	MsgID   string
	Lane    schemas.Lane
	Input   *Record  // the message on the messages topic; nil if not found
	Results []Record // the node's result(s): a redelivery may write one twice
	Events  []Record
	Traces  []Record
	Actions []Record
	DLQ     []Record
}

// Explain reads the lane's topics for everything about cfg.MsgID: its
// results (by the matriz-msg-id header), the input the results name by
// their source partition and offset (or, without a result, the messages
// topic searched by msg_id), the events, traces and actions with that
// msg_id, and the DLQ records of its source offset or msg_id. Every topic
// is read up to its end as of the call.
func Explain(ctx context.Context, cfg ExplainConfig) (*Story, error) {
	st := &Story{MsgID: cfg.MsgID, Lane: cfg.Lane}
	d, err := newDecoder(ctx, cfg.RegistryURL)
	if err != nil {
		return nil, err
	}
	start := replay.Position{Kind: replay.PositionStart}
	name := func(k topics.Kind) string { return topics.Name(string(cfg.Lane), k) }
	// collect reads a whole topic and keeps the records keep picks; pre
	// filters on the raw record before decoding.
	collect := func(k topics.Kind, pre func(topics.Message) bool, keep func(*Record) bool) ([]Record, error) {
		var out []Record
		err := readLog(ctx, cfg.Brokers, name(k), start, false, func(m topics.Message) error {
			if pre != nil && !pre(m) {
				return nil
			}
			r := d.decode(ctx, k, m)
			if r.Err == nil && keep(&r) {
				out = append(out, r)
			}
			return nil
		})
		return out, err
	}
	isMsg := func(r *Record) bool { return r.MsgID() == cfg.MsgID }
	// Avro writes a string as its bytes: a record whose value does not
	// hold the id is not about the message, and needs no decoding.
	holdsID := func(m topics.Message) bool { return bytes.Contains(m.Value, []byte(cfg.MsgID)) }

	if st.Results, err = collect(topics.KindResults, func(m topics.Message) bool {
		return string(m.Header(runtime.HeaderMsgID)) == cfg.MsgID
	}, func(*Record) bool { return true }); err != nil {
		return nil, err
	}
	// The input: at the source coordinates a result names, else searched.
	for _, res := range st.Results {
		p, perr := strconv.ParseInt(string(headerOf(res.Headers, runtime.HeaderSrcPartition)), 10, 32)
		o, oerr := strconv.ParseInt(string(headerOf(res.Headers, runtime.HeaderSrcOffset)), 10, 64)
		if perr != nil || oerr != nil {
			continue
		}
		pos := replay.Position{Kind: replay.PositionOffsets, Offsets: map[int32]int64{int32(p): o}}
		err := readLog(ctx, cfg.Brokers, name(topics.KindMessages), pos, false, func(m topics.Message) error {
			r := d.decode(ctx, topics.KindMessages, m)
			if r.Err == nil && isMsg(&r) {
				st.Input = &r
			}
			return errStop
		})
		if err != nil {
			return nil, err
		}
		if st.Input != nil {
			break
		}
	}
	if st.Input == nil {
		in, err := collect(topics.KindMessages, holdsID, isMsg)
		if err != nil {
			return nil, err
		}
		if len(in) > 0 {
			st.Input = &in[0]
		}
	}
	// A frame's routing or intention event lists the messages it routed
	// instead of naming one.
	aboutMsg := func(r *Record) bool { return isMsg(r) || r.Event != nil && stages.RouteEventLists(r.Event, cfg.MsgID) }
	for _, t := range []struct {
		kind topics.Kind
		dst  *[]Record
	}{{topics.KindEvents, &st.Events}, {topics.KindTraces, &st.Traces}, {topics.KindActions, &st.Actions}} {
		if *t.dst, err = collect(t.kind, holdsID, aboutMsg); err != nil {
			return nil, err
		}
	}
	if st.DLQ, err = collect(topics.KindDLQ, nil, func(r *Record) bool {
		if isMsg(r) {
			return true
		}
		in := st.Input
		return in != nil && r.DLQ.SrcTopic == in.Topic && r.DLQ.SrcPartition == strconv.Itoa(int(in.Partition)) && r.DLQ.SrcOffset == strconv.FormatInt(in.Offset, 10)
	}); err != nil {
		return nil, err
	}
	if st.Input == nil && len(st.Results) == 0 && len(st.Events) == 0 && len(st.Traces) == 0 && len(st.Actions) == 0 && len(st.DLQ) == 0 {
		return nil, fmt.Errorf("message %s on lane %s: %w (searched %s, %s, %s, %s, %s and %s)", cfg.MsgID, cfg.Lane, ErrNoStory,
			name(topics.KindMessages), name(topics.KindResults), name(topics.KindEvents), name(topics.KindTraces), name(topics.KindActions), name(topics.KindDLQ))
	}
	return st, nil
}

func headerOf(hs []topics.Header, key string) []byte {
	for _, h := range hs {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// WriteJSON writes the story as one JSON object.
func (s *Story) WriteJSON(w io.Writer) error {
	list := func(rs []Record) []any {
		out := make([]any, len(rs))
		for i := range rs {
			out[i] = rs[i].jsonObject()
		}
		return out
	}
	o := map[string]any{"msg_id": s.MsgID, "lane": string(s.Lane), "input": nil,
		"results": list(s.Results), "events": list(s.Events), "traces": list(s.Traces), "actions": list(s.Actions), "dlq": list(s.DLQ)}
	if s.Input != nil {
		o["input"] = s.Input.jsonObject()
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the story for a person: the input, the result with
// every crumb of its trace (route, learn, adapter, drift, fold-guard,
// breakthrough, guardian, goals), the guardian's decision with its reasons
// and the policy values behind it, events, actions and DLQ records, each
// with where it came from.
func (s *Story) WriteText(w io.Writer) error {
	var b strings.Builder
	at := func(r *Record) string { return fmt.Sprintf("[%s/%d/%d]", r.Topic, r.Partition, r.Offset) }
	fmt.Fprintf(&b, "message %s on lane %s\n", s.MsgID, s.Lane)
	if in := s.Input; in != nil {
		m := in.Message
		fmt.Fprintf(&b, "input     %s ts=%s glyph=%s kind=%s topic=%s tags=%s\n          payload=%s\n", at(in),
			ts(m.TS), m.Glyph.ID, m.Glyph.Kind, m.Topic, compact(m.Glyph.Tags), compact(replay.PayloadJSON(m.Payload)))
	} else {
		fmt.Fprintf(&b, "input     not found on %s\n", topics.Name(string(s.Lane), topics.KindMessages))
	}
	if len(s.Results) == 0 {
		b.WriteString("result    none (not processed yet, dead-lettered, or dropped: see below)\n")
	}
	for i := range s.Results {
		r := &s.Results[i]
		x := r.Result
		fmt.Fprintf(&b, "result    %s node=%s@%s ok=%v", at(r), x.Node, x.NodeVersion, x.OK)
		if len(x.Reasons) > 0 {
			fmt.Fprintf(&b, " reasons=%q", x.Reasons)
		}
		if late := headerOf(r.Headers, runtime.HeaderLate); len(late) > 0 {
			fmt.Fprintf(&b, " late=%s", late)
		}
		fmt.Fprintf(&b, "\n          payload=%s\n", compact(replay.PayloadJSON(x.Payload)))
		for _, c := range x.Trace {
			fmt.Fprintf(&b, "  %-12s %s %s\n", c.Stage, ts(c.T), compact(replay.PayloadJSON(c.Data)))
		}
	}
	for i := range s.Traces {
		r := &s.Traces[i]
		x := r.Trace
		fmt.Fprintf(&b, "decision  %s stage=%s decision=%s risk_class=%s data_origin=%s\n", at(r), x.Stage, x.Decision, x.RiskClass, x.DataOrigin)
		if reasons, ok := x.Outputs.Strings("reasons"); ok {
			fmt.Fprintf(&b, "          reasons: %s\n", strings.Join(reasons, "; "))
		}
		fmt.Fprintf(&b, "          inputs: %s\n", compact(replay.PayloadJSON(x.Inputs)))
		if len(x.Constraints) > 0 {
			fmt.Fprintf(&b, "          policy: %s\n", strings.Join(x.Constraints, " "))
		}
		if x.ExplanationLink != "" {
			fmt.Fprintf(&b, "          explanation: %s\n", x.ExplanationLink)
		}
	}
	for i := range s.Events {
		r := &s.Events[i]
		fmt.Fprintf(&b, "event     %s %s stage=%s %s\n", at(r), r.Event.Kind, r.Event.Stage, compact(replay.PayloadJSON(r.Event.Payload)))
	}
	for i := range s.Actions {
		r := &s.Actions[i]
		status, _ := r.Event.Payload.String("status")
		fmt.Fprintf(&b, "action    %s status=%s %s\n", at(r), status, compact(replay.PayloadJSON(r.Event.Payload)))
	}
	for i := range s.DLQ {
		r := &s.DLQ[i]
		x := r.DLQ
		fmt.Fprintf(&b, "dlq       %s reason=%s stage=%s src=%s/%s/%s detail=%q\n", at(r), x.Reason, x.Stage, x.SrcTopic, x.SrcPartition, x.SrcOffset, x.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
