package runtime

// An output's headers are built in one slice per record: the input's
// identity (source coordinates and GLYPH headers) once per input, shared
// read-only by every output it owes, then per output the lane, the schema
// id, the traceparent and the kind's own headers. No map and no fmt: this
// runs for every record (issue 15's throughput budget).

import (
	"encoding/binary"
	"strconv"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// nSrcHeaders is how many headers of an identity name the source
// coordinates; the GLYPH headers follow them.
const nSrcHeaders = 3

// identity returns p's identity headers — matriz-src-topic, -partition,
// -offset, then glyph-id, subject-sid, msg-id and node where known — built
// on first use from r, its record (nil: what decode learnt), or the
// message that decoded but was refused at decode (p.decoded). Their values
// share one buffer and are never written after.
func (p *pending) identity(r *stages.Record) []topics.Header {
	return p.identityIn(r, nil)
}

// identityIn is identity with the headers and their values carved from
// o's slabs (nil o: allocated), where encode builds it: they live as long
// as the outputs that copy them, like the slabs.
func (p *pending) identityIn(r *stages.Record, o *outputs) []topics.Header {
	if p.ident != nil {
		return p.ident
	}
	var glyph, sid, msg, node string
	decoded := p.decoded
	if r != nil && r.Msg != nil {
		decoded = r.Msg
	}
	if decoded != nil {
		glyph, msg, sid = decoded.Glyph.ID, decoded.MsgID, subjectSID(&decoded.Glyph)
	}
	if r != nil {
		switch {
		case r.Result != nil && r.Result.Node != "":
			node = r.Result.Node
		case r.Route != nil:
			node = r.Route.Node
		}
	}
	m := &p.msg
	size := len(m.Topic) + 40 + len(glyph) + len(sid) + len(msg) + len(node)
	var b hbuf
	var h []topics.Header
	if o != nil {
		b.buf, h = o.carve(size), o.headers(nSrcHeaders+4)
	} else {
		b.buf, h = make([]byte, 0, size), make([]topics.Header, 0, nSrcHeaders+4)
	}
	h = append(h, b.str(HeaderSrcTopic, m.Topic), b.int(HeaderSrcPartition, int64(m.Partition)), b.int(HeaderSrcOffset, m.Offset))
	for _, kv := range [...][2]string{{HeaderGlyphID, glyph}, {HeaderSubjectSID, sid}, {HeaderIDMsg, msg}, {HeaderNode, node}} {
		if kv[1] != "" {
			h = append(h, b.str(kv[0], kv[1]))
		}
	}
	p.ident = h
	return h
}

// hbuf carves header values from one buffer sized for all of them.
type hbuf struct{ buf []byte }

func (b *hbuf) str(key, v string) topics.Header {
	start := len(b.buf)
	b.buf = append(b.buf, v...)
	return topics.Header{Key: key, Value: b.buf[start:len(b.buf):len(b.buf)]}
}

func (b *hbuf) int(key string, v int64) topics.Header {
	start := len(b.buf)
	b.buf = strconv.AppendInt(b.buf, v, 10)
	return topics.Header{Key: key, Value: b.buf[start:len(b.buf):len(b.buf)]}
}

// subjectSID is g's data subject: GLYPH v2's subject_sid, else the v1
// convention, the subject_sid tag; "" when neither says.
func subjectSID(g *schemas.Glyph) string {
	if g.SubjectSID != nil && *g.SubjectSID != "" {
		return *g.SubjectSID
	}
	return g.Tags["subject_sid"]
}

// outTraceparent is what p's outputs carry: the span's that processed its
// frame (tracing on), else the input's own, unchanged.
func (p *pending) outTraceparent() []byte {
	if p.traceparent != nil {
		return p.traceparent
	}
	return p.msg.Header(HeaderTraceparent)
}

// outputHeaders returns base, then the lane, the schema id and the
// traceparent (when set), then extra, in one slice.
func outputHeaders(base []topics.Header, lane, schemaID, tp []byte, extra ...topics.Header) []topics.Header {
	return appendOutputHeaders(make([]topics.Header, 0, len(base)+3+len(extra)), base, lane, schemaID, tp, extra...)
}

// appendOutputHeaders is outputHeaders appending to h.
func appendOutputHeaders(h, base []topics.Header, lane, schemaID, tp []byte, extra ...topics.Header) []topics.Header {
	h = append(h, base...)
	h = append(h, topics.Header{Key: HeaderLane, Value: lane})
	if schemaID != nil {
		h = append(h, topics.Header{Key: HeaderSchemaID, Value: schemaID})
	}
	if tp != nil {
		h = append(h, topics.Header{Key: HeaderTraceparent, Value: tp})
	}
	return append(h, extra...)
}

// wireSchemaID is the writer schema id of a DLQ record's original: the
// one it decoded with, else the one its Confluent wire prefix names; nil
// for bytes without one.
func wireSchemaID(p *pending) []byte {
	id, ok := p.schemaID, p.schemaID != 0
	if v := p.msg.Value; !ok && len(v) >= 5 && v[0] == 0 {
		id, ok = binary.BigEndian.Uint32(v[1:5]), true
	}
	if !ok {
		return nil
	}
	return strconv.AppendUint(nil, uint64(id), 10)
}
