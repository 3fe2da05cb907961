package runtime

import (
	"sync"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// inflight holds, per offset, the Kafka record a partition worker is
// working on: decode puts it, encode takes it back to answer it. It keeps
// stages free of Kafka: a Record carries its offset, and the bytes, key,
// headers and Ack stay here.
type inflight struct {
	mu sync.Mutex
	m  map[int64]*pending
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

func newInflight() *inflight { return &inflight{m: map[int64]*pending{}} }

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

// takeAll removes and returns the records at offsets that are here.
func (f *inflight) takeAll(offsets []int64) []*pending {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*pending
	for _, off := range offsets {
		if p, ok := f.m[off]; ok {
			out = append(out, p)
			delete(f.m, off)
		}
	}
	return out
}
