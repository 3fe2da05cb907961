package runtime

import (
	"sync"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// inflight holds, per offset, the Kafka record a partition worker is
// working on: decode puts it, encode takes it back to answer it. It keeps
// stages free of Kafka: a Record carries its offset, and the bytes, key,
// headers and Ack stay here.
//
// A record the decimation ring drops keeps only its Ack here (skip): its
// decoded message and bytes are not needed to account for it, and under
// overload the dropped records read between two frames of the chain
// outnumber those it works on.
type inflight struct {
	mu      sync.Mutex
	m       map[int64]*pending
	skipped map[int64]*topics.Ack // dropped by decimation, awaiting its event
}

type pending struct {
	msg      topics.Message
	reason   string // DLQ reason set at decode; "" when the record decoded
	schemaID uint32 // the writer schema id the record was decoded from
	// traceparent is the span's that processed the record's frame (set
	// when tracing is on), which its outputs carry; nil: the input's own.
	traceparent []byte
	// ident is the record's identity headers, built once (identity.go).
	ident []topics.Header
	// decoded is a message that decoded but failed the contract or the
	// timestamp checks: the record goes to the DLQ, named by its glyph.
	decoded *schemas.MatrizMessage
}

func newInflight() *inflight {
	return &inflight{m: map[int64]*pending{}, skipped: map[int64]*topics.Ack{}}
}

func (f *inflight) put(offset int64, p *pending) {
	f.mu.Lock()
	f.m[offset] = p
	f.mu.Unlock()
}

// peek returns the record at offset, or nil, and leaves it here.
func (f *inflight) peek(offset int64) *pending {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[offset]
}

// take removes and returns the record at offset, or nil.
func (f *inflight) take(offset int64) *pending {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.m[offset]
	delete(f.m, offset)
	return p
}

// skip keeps only the Ack of each of fr's records that is here:
// decimation dropped fr, and its decimation event resolves them
// (takeAcks).
func (f *inflight) skip(fr *stages.Frame) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range fr.Records {
		off := fr.Records[i].Offset
		if p, ok := f.m[off]; ok {
			f.skipped[off] = p.msg.Ack
			delete(f.m, off)
		}
	}
}

// takeAcks removes the records at offsets that are here, skipped or not,
// and returns their Acks.
func (f *inflight) takeAcks(offsets []int64) []*topics.Ack {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*topics.Ack
	for _, off := range offsets {
		if a, ok := f.skipped[off]; ok {
			out = append(out, a)
			delete(f.skipped, off)
		} else if p, ok := f.m[off]; ok {
			out = append(out, p.msg.Ack)
			delete(f.m, off)
		}
	}
	return out
}
