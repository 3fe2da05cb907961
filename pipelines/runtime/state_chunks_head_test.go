package runtime

import (
	"strings"
	"testing"
)

// TestChunkedHeadThatDoesNotParseIsAnError: a state record that starts as
// a chunked head but whose chunk list does not parse is an error (the
// partition retries its restore, loudly), never an empty state.
func TestChunkedHeadThatDoesNotParseIsAnError(t *testing.T) {
	c := newStateChunks(3)
	got, err := c.assemble([]byte(chunkHeadMagic + `{"keys":["3#ab.0"`))
	if err == nil || got != nil || !strings.HasPrefix(err.Error(), "chunked checkpoint head: ") {
		t.Fatalf("assemble = %q, %v; want an error about the head", got, err)
	}
}
