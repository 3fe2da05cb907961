package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/matriz/pipelines/topics"
)

// A partition's cut that does not fit in one record (a drift glyph map or
// a guardian's waiting actions can pass 1 MB) is written to the state
// topic in chunks:
//
//   - chunk records first, key "<p>#<hash>.<i>": the i-th slice of the
//     encoded checkpoint, <hash> the first 16 hex digits of its SHA-256;
//   - once every chunk is acknowledged, the head under the partition's own
//     key "<p>": chunkHeadMagic followed by JSON naming the chunk keys in
//     order, the whole encoding's size and SHA-256;
//   - once the head is acknowledged, tombstones for every chunk of this
//     partition no head names any more.
//
// Chunk keys change with the content, so a crash anywhere in between leaves
// the previous head and its chunks whole: a restore reads the head that
// was last acknowledged, reassembles and verifies it. A checkpoint that
// fits is one record, as before, and old single-record checkpoints read
// as they always did. The head starts with bytes that are not JSON, so a
// binary that predates chunks fails to decode it (and retries, loudly)
// instead of restoring an empty state.

// chunkHeadMagic starts a chunked checkpoint's head record.
const chunkHeadMagic = "matriz-chunks/1\n"

// stateChunkBytes is the largest slice of an encoded checkpoint one chunk
// holds, and the size past which a checkpoint is chunked: half a record,
// leaving room for keys and headers.
var stateChunkBytes = topics.MaxRecordBytes / 2

type chunkHead struct {
	Keys   []string `json:"keys"`
	Size   int      `json:"size"`
	SHA256 string   `json:"sha256"`
}

// stateChunks follows one partition's chunk records on the state topic:
// loadState feeds it what it reads, saveCut what it writes.
type stateChunks struct {
	prefix string            // "<p>#"
	stored map[string][]byte // chunk key → value, as read at restore
	named  []string          // chunk keys the last head names
	live   map[string]bool   // chunk keys holding a value now (not tombstoned)
}

func newStateChunks(partition int32) *stateChunks {
	return &stateChunks{prefix: StateKey(partition) + "#", stored: map[string][]byte{}, live: map[string]bool{}}
}

// put records a state-topic record read at restore; it reports whether
// the key was one of the partition's chunks. A nil stateChunks takes none.
func (c *stateChunks) put(key string, value []byte) bool {
	if c == nil || !strings.HasPrefix(key, c.prefix) {
		return false
	}
	if len(value) == 0 {
		delete(c.stored, key)
		delete(c.live, key)
		return true
	}
	c.stored[key] = bytes.Clone(value)
	c.live[key] = true
	return true
}

// assemble returns the checkpoint encoding head stands for: head itself
// when it is a single-record checkpoint, else its chunks joined and
// verified.
func (c *stateChunks) assemble(head []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(head, []byte(chunkHeadMagic))
	if !ok {
		if c != nil {
			c.named = nil
		}
		return head, nil
	}
	if c == nil {
		return nil, fmt.Errorf("chunked checkpoint read without its chunks")
	}
	var h chunkHead
	if err := json.Unmarshal(rest, &h); err != nil {
		return nil, fmt.Errorf("chunked checkpoint head: %w", err)
	}
	out := make([]byte, 0, h.Size)
	for _, k := range h.Keys {
		v, ok := c.stored[k]
		if !ok {
			return nil, fmt.Errorf("chunked checkpoint: chunk %s named by the head is missing", k)
		}
		out = append(out, v...)
	}
	sum := sha256.Sum256(out)
	if len(out) != h.Size || hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, fmt.Errorf("chunked checkpoint: %d bytes with sha256 %x reassembled, the head says %d bytes with sha256 %s", len(out), sum, h.Size, h.SHA256)
	}
	c.named = h.Keys
	clear(c.stored) // reassembled: the bytes are not needed any more
	return out, nil
}

// split returns the records that store encoding b under key on topic: no
// chunks and the record itself when it fits in one, else the chunks (to
// write and acknowledge first) and the head. Their keys count as stored
// from now on, so a save that fails after writing some of them leaves
// nothing a later save does not tombstone.
func (c *stateChunks) split(topic, key string, b []byte) (chunks []topics.Message, head topics.Message) {
	if len(b) <= stateChunkBytes {
		return nil, topics.Message{Topic: topic, Key: []byte(key), Value: b}
	}
	sum := sha256.Sum256(b)
	tag := hex.EncodeToString(sum[:8])
	h := chunkHead{Size: len(b), SHA256: hex.EncodeToString(sum[:])}
	for i := 0; len(b) > 0; i++ {
		n := min(len(b), stateChunkBytes)
		k := fmt.Sprintf("%s%s.%d", c.prefix, tag, i)
		h.Keys = append(h.Keys, k)
		c.live[k] = true // tombstoned by a later head's written even if this head never lands
		chunks = append(chunks, topics.Message{Topic: topic, Key: []byte(k), Value: b[:n:n]})
		b = b[n:]
	}
	hb, _ := json.Marshal(h) // strings and ints: cannot fail
	return chunks, topics.Message{Topic: topic, Key: []byte(key), Value: append([]byte(chunkHeadMagic), hb...)}
}

// written records that the head naming chunks (none for a single-record
// checkpoint) is acknowledged, and returns the tombstones of the
// partition's chunks no head names any more.
func (c *stateChunks) written(topic string, chunks []topics.Message) []topics.Message {
	keep := make(map[string]bool, len(chunks))
	c.named = c.named[:0]
	for _, m := range chunks {
		keep[string(m.Key)] = true
		c.named = append(c.named, string(m.Key))
	}
	var stale []topics.Message
	for k := range c.live {
		if !keep[k] {
			stale = append(stale, topics.Message{Topic: topic, Key: []byte(k)}) // nil value: a tombstone
			delete(c.live, k)
		}
	}
	for k := range keep {
		c.live[k] = true
	}
	return stale
}
