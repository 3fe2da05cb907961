package schemas

import (
	"reflect"
	"time"
)

// CrumbMemo lets a batch of encodes write a crumb it wrote before by
// copying its bytes instead of encoding its payload again: a guardian's
// trace lists the crumbs its result carries, so without it the runtime
// encodes most payloads of a message twice. A crumb is known by its
// payload map — the same map, not an equal one — with its stage and time,
// so a copy is the bytes encoding would write. A memo is for encodes over
// values that do not change meanwhile (one frame's outputs): Reset it
// between. The zero value is ready; a nil memo encodes everything.
//
// Crumbs are remembered in the order they are written and looked up from
// where the last one was found, not hashed: the traces of a frame repeat
// its results' crumbs in the same order, so a lookup is a step or two.
type CrumbMemo struct {
	seen []memoCrumb
	next int // where the next lookup starts
}

type memoCrumb struct {
	data  uintptr // the payload map's identity
	stage string
	t     time.Time
	enc   []byte // the crumb as written, a slice of the encode's output
}

// memoLookahead is how far past the last hit a lookup looks.
const memoLookahead = 16

// Reset forgets every crumb, keeping the memo's storage for the next batch.
func (c *CrumbMemo) Reset() {
	if c != nil {
		clear(c.seen) // drop the references to the outputs
		c.seen, c.next = c.seen[:0], 0
	}
}

// mark and rollback bracket an encode that may fail: a failed encode's
// bytes are truncated and overwritten, so what it remembered is dropped.
func (c *CrumbMemo) mark() int {
	if c == nil {
		return 0
	}
	return len(c.seen)
}

func (c *CrumbMemo) rollback(mark int) {
	if c != nil && mark < len(c.seen) {
		clear(c.seen[mark:])
		c.seen = c.seen[:mark]
		c.next = min(c.next, mark)
	}
}

// appendCrumb writes cr, copied from c when c has written it.
func (c *CrumbMemo) appendCrumb(dst []byte, cr *Crumb) ([]byte, bool) {
	if c == nil || len(cr.Data) == 0 {
		return appendCrumb(dst, cr)
	}
	key := reflect.ValueOf(cr.Data).Pointer()
	for i := c.next; i < len(c.seen) && i < c.next+memoLookahead; i++ {
		if e := &c.seen[i]; e.data == key && e.stage == cr.Stage && e.t.Equal(cr.T) {
			c.next = i + 1
			return append(dst, e.enc...), true
		}
	}
	start := len(dst)
	dst, ok := appendCrumb(dst, cr)
	if !ok {
		return dst, false
	}
	// dst's bytes up to here are never written again unless this encode
	// fails (rollback), even when a later append moves dst elsewhere.
	c.seen = append(c.seen, memoCrumb{data: key, stage: cr.Stage, t: cr.T, enc: dst[start:len(dst):len(dst)]})
	return dst, true
}
