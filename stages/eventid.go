package stages

import (
	"strings"

	"github.com/google/uuid"
)

// idSpace is the namespace of every id the drift, fold-guard, breakthrough
// and guardian stages derive. Ids are name-based (UUID v5) so that a replay,
// or a redelivery after a crash, emits the same ids and the runtime and
// downstream consumers can recognise duplicates.
var idSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/matriz/pipelines/stages"))

// derivedID returns the deterministic id of what a stage emits: parts are
// typically a message id (or a lane/partition/frame seq), the stage name and
// the kind of thing emitted.
func derivedID(parts ...string) string {
	return uuid.NewSHA1(idSpace, []byte(strings.Join(parts, "/"))).String()
}
