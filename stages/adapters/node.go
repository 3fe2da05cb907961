package adapters

// What every node shares: the error a node constructor returns for a bad
// option, and the way a node answers a message (the context check first,
// the answer to a nil message, a result, a refusal).

import (
	"context"
	"errors"
	"fmt"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// ErrInvalidOption is wrapped by every error a node constructor returns for
// a bad option, so callers can tell configuration mistakes apart.
var ErrInvalidOption = errors.New("adapters: invalid option")

// optionError says which node option is wrong and what it accepts.
func optionError(node, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, node, fmt.Sprintf(format, args...))
}

// stopped returns ctx's error wrapped with the node name when ctx is done.
// Every Handle calls it first, so a cancelled frame does no work.
func stopped(ctx context.Context, node string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("adapters: %s: %w", node, err)
	}
	return nil
}

// noMessage is the answer to a nil message: not a panic, a reason.
func noMessage(node, version string) schemas.MatrizResult {
	return schemas.MatrizResult{
		ID:          stages.ResultID("", node),
		Node:        node,
		NodeVersion: version,
		Reasons:     []string{node + ": no message (nil); want a MatrizMessage"},
		Trace:       []schemas.Crumb{{Stage: node, Data: schemas.Payload{"ok": false}}},
	}
}

// answer builds node's result for msg. The result is OK when there are no
// reasons; out is the result payload and data (not nil) the crumb's key
// figures, to which answer adds ok.
func answer(msg *schemas.MatrizMessage, node, version string, reasons []string, out, data schemas.Payload) schemas.MatrizResult {
	ok := len(reasons) == 0
	data["ok"] = ok
	return schemas.MatrizResult{
		ID:          stages.ResultID(msg.MsgID, node),
		MsgID:       msg.MsgID,
		TS:          msg.TS,
		Lane:        msg.Lane,
		Node:        node,
		NodeVersion: version,
		OK:          ok,
		Reasons:     reasons,
		Payload:     out,
		Trace:       []schemas.Crumb{{Stage: node, T: msg.TS, Data: data}},
	}
}

// refuse is the answer to a message whose input the node cannot use: no
// payload (half-computed figures must not travel), the reasons, and a crumb
// saying how many problems there were.
func refuse(msg *schemas.MatrizMessage, node, version string, reasons []string) schemas.MatrizResult {
	return answer(msg, node, version, reasons, nil, schemas.Payload{"problems": int64(len(reasons))})
}
