package stages

import (
	"context"

	"github.com/matriz/pipelines/schemas"
)

// Node is the Node Contract v1: a named, versioned, deterministic function
// from a MatrizMessage to a MatrizResult. A node never reads the wall clock
// (crumb times come from the message's event time), never mutates its
// input, and appends at least one trace crumb naming itself. A message the
// node cannot work with gives a result with OK false and a reason, not an
// error: errors are reserved for a cancelled context.
type Node interface {
	Name() string
	Version() string
	Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error)
}
