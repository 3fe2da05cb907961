package stages

import (
	"crypto/sha1"

	"github.com/google/uuid"
)

// idSpace is the namespace of every id the drift, fold-guard, breakthrough
// and guardian stages derive: the same namespace, and the same "a/b/c"
// naming, as the ids the route and decimate stages derive, so one rule
// names every id of the chain. Ids are name-based (UUID v5) so that a
// replay, or a redelivery after a crash, emits the same ids and the runtime
// and downstream consumers can recognise duplicates.
var idSpace = uuid.NewSHA1(uuid.Nil, []byte("matriz/pipelines/ids"))

// derivedID returns the deterministic id of what a stage emits: parts are
// typically a message id (or a lane/partition/frame seq), the stage name and
// the kind of thing emitted, joined by "/". It is
// uuid.NewSHA1(idSpace, joined parts), computed on a stack buffer because
// the guardian derives several ids per message.
func derivedID(parts ...string) string {
	var buf [192]byte
	b := append(buf[:0], idSpace[:]...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	sum := sha1.Sum(b)
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}
