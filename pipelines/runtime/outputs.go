package runtime

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// laneIDs are the schema ids a lane writes each record kind with.
type laneIDs struct {
	result, event, trace, action uint32
}

func resolveLaneIDs(s *serde.Serde, lane string) (laneIDs, error) {
	var ids laneIDs
	for _, x := range []struct {
		kind topics.Kind
		dst  *uint32
	}{{topics.KindResults, &ids.result}, {topics.KindEvents, &ids.event}, {topics.KindTraces, &ids.trace}, {topics.KindActions, &ids.action}} {
		id, err := s.ID(serde.ValueSubject(topics.Name(lane, x.kind)))
		if err != nil {
			return ids, err
		}
		*x.dst = id
	}
	return ids, nil
}

// outputs turns a processed frame into the Kafka records it owes: per
// record a result or a DLQ record; the frame's events, traces and actions.
// Every output carries the Ack of the input it derives from, counted so the
// input's offset commits only after all of them are durable:
//
//   - a result or DLQ record belongs to its record;
//   - an event, trace or action belongs to the record whose msg_id it
//     names, else to the frame's last record (so the frame's offsets do not
//     commit before it), else — an empty frame — to nothing: it is derived
//     from state alone and is emitted again by a replay;
//   - a decimation event stands for the records it skipped, listed by
//     offset: their Acks resolve when it is durable;
//   - a decision event (decisions.go) also names the partition whose run
//     made it, in headers, so a replay or a restart finds it without
//     decoding the whole log.
type outputs struct {
	slab  []byte          // encoded values are carved from it: one allocation per many outputs
	hslab []topics.Header // so are the outputs' header slices
	// owners and byMsg are encode's working space, reused frame to frame.
	owners []owner
	byMsg  map[string]int
	frame  frameValues // of the frame encode is on
	// crumbs remembers the crumbs encode wrote for the frame's results, so
	// its traces, which repeat them, copy their bytes.
	crumbs schemas.CrumbMemo
	// fence stamps the outputs encode carves headers for, in room left for
	// its headers; nil in a replay (and unit tests, which stamp after).
	fence         *fence
	readerVersion schemas.Version
	lane          string
	ids           laneIDs
	inflight      *inflight
	onErr         func(error)
	recordLimit   int // the sink's MaxRecord; 0: topics.MaxRecordBytes (oversize.go)
	topics        struct{ results, events, traces, actions, dlq string }
	// The lane and schema id header values, shared by every output.
	laneValue []byte
	schemaIDs struct{ result, event, trace, action []byte }
}

// newOutputs writes lane's outputs to its live topics, or, with a
// namespace, to that replay's.
func newOutputs(lane, namespace string, ids laneIDs, fl *inflight, onErr func(error)) *outputs {
	o := &outputs{lane: lane, ids: ids, inflight: fl, onErr: onErr, laneValue: []byte(lane)}
	id := func(v uint32) []byte { return strconv.AppendUint(nil, uint64(v), 10) }
	o.schemaIDs.result, o.schemaIDs.event, o.schemaIDs.trace, o.schemaIDs.action = id(ids.result), id(ids.event), id(ids.trace), id(ids.action)
	o.writeTo(func(k topics.Kind) string {
		if namespace != "" {
			return topics.ReplayName(lane, namespace, k)
		}
		return topics.Name(lane, k)
	})
	return o
}

// writeTo sends o's outputs to the topics name gives each kind.
func (o *outputs) writeTo(name func(topics.Kind) string) {
	o.topics.results = name(topics.KindResults)
	o.topics.events = name(topics.KindEvents)
	o.topics.traces = name(topics.KindTraces)
	o.topics.actions = name(topics.KindActions)
	o.topics.dlq = name(topics.KindDLQ)
}

// owner is an input record and the outputs counted against it.
type owner struct {
	p       *pending
	glyph   string
	msgID   string
	outputs int
}

func (o *outputs) encode(f *stages.Frame) []topics.Message {
	// owners and byMsg live for one call: kept for the next frame, not
	// made anew per frame.
	owners := slices.Grow(o.owners[:0], len(f.Records))[:len(f.Records)]
	clear(owners)
	if o.byMsg == nil {
		o.byMsg = make(map[string]int, len(f.Records))
	}
	byMsg := o.byMsg
	clear(byMsg)
	defer func() {
		clear(owners) // drop the pendings: they go with their outputs
		o.owners = owners[:0]
		o.frame = frameValues{} // nor keep the frame
		o.crumbs.Reset()
	}()
	// Sized for the usual frame (a result per record, its events, traces
	// and actions) so the appends below do not grow it.
	out := make([]topics.Message, 0, len(f.Records)+len(f.Events)+len(f.Traces)+len(f.Actions))
	for i := range f.Records {
		r := &f.Records[i]
		p := o.inflight.take(r.Offset)
		if p == nil {
			continue // decimated or already answered: nothing owes it here
		}
		owners[i].p = p
		p.identityIn(r, o) // once per input: every output it owes shares it
		if r.Msg != nil {
			byMsg[r.Msg.MsgID] = i
			owners[i].glyph = r.Msg.Glyph.ID
			owners[i].msgID = r.Msg.MsgID
		}
		switch {
		case r.Failure != nil:
			out = append(out, o.dlq(p, r.Failure))
			owners[i].outputs++
		case r.Dropped:
			// Filtered by a stage: no result is owed; the stage's events say why.
		case r.Result != nil:
			m, err := o.result(p, r, f)
			if err != nil {
				out = append(out, o.dlq(p, &stages.Failure{Stage: "encode", Reason: err.Error()}))
			} else {
				out = append(out, m)
			}
			owners[i].outputs++
		default:
			// A live record with no result: the chain has no route stage.
			// Answer it so nothing is dropped silently.
			out = append(out, o.dlq(p, &stages.Failure{Stage: "chain", Reason: "no stage produced a result (is route in the lane's stages?)"}))
			owners[i].outputs++
		}
	}
	last := -1
	for i := len(owners) - 1; i >= 0; i-- {
		if owners[i].p != nil {
			last = i
			break
		}
	}
	attach := func(msgID string) *owner {
		if i, ok := byMsg[msgID]; ok && owners[i].p != nil {
			return &owners[i]
		}
		if last >= 0 {
			return &owners[last]
		}
		return nil
	}
	decisions := 0
	// Events, traces and actions are encoded in place: a range copy whose
	// address is taken is a heap copy per output.
	for i := range f.Events {
		ev := &f.Events[i]
		if ev.Kind == schemas.EventDecimation {
			out = append(out, o.decimation(*ev))
			decisions++
			continue
		}
		own := attach(ev.MsgID)
		key := ev.GlyphID
		if key == "" {
			key = partitionKey(f.Partition)
		}
		if isDecision(ev.Kind) {
			n := len(out)
			out = o.record(out, own, o.topics.events, o.ids.event, o.schemaIDs.event, key, ev.ID, ev.MsgID, ev.GlyphID, ev, decisionHeaders(ev.Kind, f.Partition)...)
			if len(out) > n {
				out[n].Ahead = true
				decisions++
			}
		} else {
			out = o.record(out, own, o.topics.events, o.ids.event, o.schemaIDs.event, key, ev.ID, ev.MsgID, ev.GlyphID, ev)
		}
	}
	for i := range f.Traces {
		tr := &f.Traces[i]
		own := attach(tr.MsgID)
		key := tr.MsgID
		if own != nil && own.glyph != "" {
			key = own.glyph
		}
		glyph := ""
		if own != nil && own.msgID == tr.MsgID {
			glyph = own.glyph
		}
		out = o.record(out, own, o.topics.traces, o.ids.trace, o.schemaIDs.trace, key, tr.ID, tr.MsgID, glyph, tr)
	}
	for i := range f.Actions {
		ac := &f.Actions[i]
		own := attach(ac.MsgID)
		var producer []topics.Header
		if own != nil && own.msgID == ac.MsgID {
			if v := own.p.msg.Header(HeaderProducer); v != nil {
				producer = append(producer, topics.Header{Key: HeaderProducer, Value: v})
			}
		}
		out = o.record(out, own, o.topics.actions, o.ids.action, o.schemaIDs.action, ac.GlyphID, ac.ID, ac.MsgID, ac.GlyphID, ac, producer...)
	}
	// Count every output against its input before any is handed on, then
	// release the input's own hold: an input with no outputs resolves now.
	for i := range owners {
		if p := owners[i].p; p != nil {
			p.msg.Ack.Add(owners[i].outputs)
			p.msg.Ack.Done(nil)
		}
	}
	if decisions > 0 {
		decisionsFirst(out)
	}
	return o.fit(out, owners)
}

// decisionsFirst moves a frame's decisions ahead of its other outputs, in
// their order. The Sink writes them first and the rest only once they are
// durable (topics.Message.Ahead): a restart that finds a frame's result,
// trace or action on the log finds the decisions it was made under too,
// and re-decides nothing differently. Without it, a kill between the
// writes could leave, say, the trace of an action run under an approval
// while the approval_applied decision was lost; the restart, seeing the
// frame answered, held the approval for a later frame and wrote the trace
// again there.
func decisionsFirst(out []topics.Message) {
	slices.SortStableFunc(out, func(a, b topics.Message) int {
		switch {
		case a.Ahead == b.Ahead:
			return 0
		case a.Ahead:
			return -1
		}
		return 1
	})
}

// record appends one event, trace or action output owned by own. An
// encode error here is a bug in the binary's own records, not bad input:
// it is reported, and the input's commit does not wait for the output.
//
// Its headers: the owner's source coordinates; the owner's GLYPH identity
// and traceparent when the output is about the owner's message (msgID),
// else the output's own glyph and msg ids and the frame span's
// traceparent; the lane and schema id; the output id; extra.
func (o *outputs) record(out []topics.Message, own *owner, topic string, id uint32, schemaID []byte, key, outID, msgID, glyphID string, v any, extra ...topics.Header) []topics.Message {
	var val []byte
	var err error
	switch x := v.(type) {
	case *schemas.Event:
		val, err = appendSlab(o, id, x)
	case *schemas.Trace:
		val, err = appendSlab(o, id, x)
	}
	if err != nil {
		o.onErr(fmt.Errorf("encode %s output %s: %w", topic, outID, err))
		return out
	}
	var base []topics.Header
	var tp []byte
	mine := false
	if own != nil {
		ident := own.p.identity(nil)
		mine = msgID != "" && msgID == own.msgID
		if mine {
			base, tp = ident, own.p.outTraceparent()
		} else {
			base, tp = ident[:nSrcHeaders], own.p.traceparent
		}
	}
	h := o.headers(len(base) + 6 + len(extra) + o.fence.width())
	h = append(h, base...)
	if !mine {
		if glyphID != "" {
			h = append(h, topics.Header{Key: HeaderGlyphID, Value: o.bytes(glyphID)})
		}
		if msgID != "" {
			h = append(h, topics.Header{Key: HeaderIDMsg, Value: o.bytes(msgID)})
		}
	}
	h = append(h, topics.Header{Key: HeaderLane, Value: o.laneValue}, topics.Header{Key: HeaderSchemaID, Value: schemaID})
	if tp != nil {
		h = append(h, topics.Header{Key: HeaderTraceparent, Value: tp})
	}
	h = append(h, topics.Header{Key: HeaderOutputID, Value: o.bytes(outID)})
	m := topics.Message{Topic: topic, Key: o.bytes(key), Value: val, Headers: append(h, extra...)}
	o.fence.stampCarved(&m)
	if own != nil {
		m.Ack = own.p.msg.Ack
		own.outputs++
	}
	return append(out, m)
}

func (o *outputs) result(p *pending, r *stages.Record, f *stages.Frame) (topics.Message, error) {
	trace := make([]schemas.Crumb, 1+len(r.Result.Trace))
	trace[0] = o.decodeCrumb(p, r.Msg, f)
	copy(trace[1:], r.Result.Trace)
	r.Result.Trace = trace
	val, err := appendSlab(o, o.ids.result, r.Result)
	if err != nil {
		return topics.Message{}, err
	}
	ident := p.identity(r)
	extra := [...]topics.Header{
		{Key: HeaderMsgID, Value: headerValue(ident, HeaderIDMsg)},
		{Key: HeaderOutputID, Value: o.bytes(r.Result.ID)},
		{Key: HeaderLate, Value: lateTrue},
	}
	n := len(extra) - 1
	if r.Late {
		n++
	}
	h := appendOutputHeaders(o.headers(len(ident)+3+n+o.fence.width()), ident, o.laneValue, o.schemaIDs.result, p.outTraceparent(), extra[:n]...)
	m := topics.Message{Topic: o.topics.results, Key: p.msg.Key, Value: val, Headers: h, Ack: p.msg.Ack}
	o.fence.stampCarved(&m)
	return m, nil
}

// dlq wraps the original record for the DLQ with why it is there.
func (o *outputs) dlq(p *pending, fail *stages.Failure) topics.Message {
	reason := p.reason
	if reason == "" {
		reason = failureReason(fail)
	}
	m := dlqRecord(o.lane, p, fail.Stage, reason, fail.Reason)
	m.Topic = o.topics.dlq
	if pe := (*stages.PanicError)(nil); errors.As(fail.Err, &pe) && pe.At != "" {
		m.Headers = append(m.Headers, topics.Header{Key: HeaderPanicFrame, Value: []byte(pe.At)})
	}
	return m
}

// failureReason classifies a stage's failure into the DLQ's few reasons.
func failureReason(f *stages.Failure) string {
	switch {
	case errors.As(f.Err, new(*stages.PanicError)):
		return ReasonStagePanic
	case errors.As(f.Err, new(*stages.StageError)):
		return ReasonStageError
	case f.Stage == stages.StageAdapter && strings.Contains(f.Reason, "panicked"):
		return ReasonNodePanic
	case f.Stage == operators.StageTick, f.Stage == "decode":
		return ReasonContract
	}
	return ReasonStage
}

// decimation writes a decimation event whose durability resolves the
// records it skipped.
func (o *outputs) decimation(ev schemas.Event) topics.Message {
	val, err := appendSlab(o, o.ids.event, &ev)
	if err != nil {
		o.onErr(err)
	}
	d, err := operators.ParseDecimation(ev)
	if err != nil {
		o.onErr(err)
	}
	m := topics.Message{Topic: o.topics.events, Key: []byte(partitionKey(d.Partition)), Value: val, Ahead: true,
		Headers: outputHeaders(nil, o.laneValue, o.schemaIDs.event, nil, append(decisionHeaders(ev.Kind, d.Partition), topics.Header{Key: HeaderOutputID, Value: []byte(ev.ID)})...)}
	skipped := o.inflight.takeAcks(d.Offsets)
	if len(skipped) == 0 {
		return m
	}
	m.Ack = topics.NewAckFunc(func(err error) {
		for _, a := range skipped {
			a.Done(err)
		}
	})
	return m
}

// slabSize is the arena encoded outputs are carved from. A value lives as
// long as its Message (until Kafka acknowledges it); a slab is freed when
// its last value is.
const slabSize = 256 << 10

// appendSlab encodes v in the wire format into o's slab and returns the
// bytes, capped so no later append can write into them. encode runs on one
// goroutine per partition, so the slab needs no lock.
func appendSlab[T schemas.Record](o *outputs, id uint32, v *T) ([]byte, error) {
	if cap(o.slab)-len(o.slab) < 4<<10 {
		o.slab = make([]byte, 0, slabSize)
	}
	start := len(o.slab)
	out, err := schemas.AppendWireMemo(o.slab, id, v, &o.crumbs)
	if err != nil {
		return nil, err
	}
	o.slab = out // a value larger than what was left moved to a new array: continue there
	return out[start:len(out):len(out)], nil
}

// headerSlabSize is how many headers one header array holds; outputs'
// header slices are carved from it as their values are from the slab.
const headerSlabSize = 1024

// headers returns an empty header slice with room for n, carved from o's
// header array and capped there, so appending past n moves it rather than
// write into the next output's headers.
func (o *outputs) headers(n int) []topics.Header {
	if cap(o.hslab)-len(o.hslab) < n {
		o.hslab = make([]topics.Header, 0, max(n, headerSlabSize))
	}
	start := len(o.hslab)
	o.hslab = o.hslab[:start+n]
	return o.hslab[start : start : start+n]
}

// bytes copies s into o's slab: a header value or key that lives as long
// as its output, without an allocation of its own.
func (o *outputs) bytes(s string) []byte {
	if len(s) > 1<<10 {
		return []byte(s)
	}
	return append(o.carve(len(s)), s...)
}

// carve returns an empty slice of o's slab with room for n bytes, capped
// there, so appending past n moves it rather than write into the slab.
func (o *outputs) carve(n int) []byte {
	if n > 1<<10 {
		return make([]byte, 0, n)
	}
	if cap(o.slab)-len(o.slab) < 4<<10 {
		o.slab = make([]byte, 0, slabSize)
	}
	start := len(o.slab)
	o.slab = o.slab[:start+n]
	return o.slab[start : start : start+n]
}

// StageDecode names the runtime's crumb on every result: how the input was
// read — the writer schema id, the reader version, and the GLYPH v2 fields
// as the reader saw them (defaults filled when the writer was v1) — and the
// frame the tick put it in (seq -1: a late record's frame of its own).
const StageDecode = "decode"

// frameValues are the decode crumb's values that are the same for every
// result of a frame, converted to payload values once per frame: each
// conversion of a string or a large number to `any` allocates, and the
// start time is formatted too.
type frameValues struct {
	f                    *stages.Frame
	reader               schemas.Version
	readerV, seq, fps, t any
}

func (o *outputs) frameValues(f *stages.Frame) *frameValues {
	if o.frame.f == f {
		return &o.frame
	}
	reader := o.readerVersion
	if reader == schemas.Latest {
		reader = schemas.LatestVersion(schemas.NameMessage)
	}
	o.frame = frameValues{f: f, reader: reader, readerV: int64(reader),
		seq: f.Seq, fps: int64(f.FPS), t: f.Start.UTC().Format(time.RFC3339Nano)}
	return &o.frame
}

func (o *outputs) decodeCrumb(p *pending, m *schemas.MatrizMessage, f *stages.Frame) schemas.Crumb {
	fv := o.frameValues(f)
	reader := fv.reader
	// Sized for every key below: filled from a literal, the map grew
	// (and copied itself) once per result.
	data := make(schemas.Payload, 11)
	data["schema_id"], data["reader_version"] = int64(p.schemaID), fv.readerV
	data["frame_seq"], data["frame_fps"], data["frame_start"] = fv.seq, fv.fps, fv.t
	if reader >= schemas.V2 {
		g := m.Glyph
		data["glyph_subject_sid"] = nil
		if g.SubjectSID != nil {
			data["glyph_subject_sid"] = *g.SubjectSID
		}
		data["glyph_consent"] = nil
		if g.Consent != nil {
			data["glyph_consent"] = g.Consent.Granted
			data["glyph_consent_purpose"] = g.Consent.Purpose
		}
		data["glyph_provenance"] = append([]string{}, g.Provenance...)
	}
	return schemas.Crumb{Stage: StageDecode, T: m.TS, Data: data}
}

// partitionKey keys a decision that concerns no glyph: one partition's
// frame-level decisions stay in order on one partition of the event log.
func partitionKey(p int32) string { return "partition:" + strconv.Itoa(int(p)) }

// decisionHeaders are a decision event's own headers: its kind and the
// partition whose run made it.
func decisionHeaders(kind schemas.EventKind, partition int32) []topics.Header {
	return []topics.Header{
		{Key: HeaderDecision, Value: []byte(kind)},
		{Key: HeaderSrcPartition, Value: strconv.AppendInt(nil, int64(partition), 10)}}
}

// lateTrue is the matriz-late header's value.
var lateTrue = []byte("true")

// headerValue returns the value of the first of hs named key, or nil.
func headerValue(hs []topics.Header, key string) []byte {
	for _, h := range hs {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}
