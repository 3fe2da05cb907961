package stages

// adapter is the stage that calls the node the router chose. It runs after
// route and reads each live record's Route:
//
//   - Route.Dispatch set (DISPATCH_ENABLED on and a node registered): the
//     node handles the message (Record.NodeInput: the input, or the copy a
//     stage before gave more, as learn adds a learned centroid) and its
//     result replaces the router's, with the crumbs the router's result
//     gathered first (route's, learn's), then the node's, then an
//     "adapter" crumb;
//   - otherwise (log-only, or no node for the topic): the router's result
//     stays and gets an "adapter" crumb saying why no node was called.
//
// A node's OK result that names an event kind under NodeEventKey (the
// memory node's memory_write, the orchestration node's reward) makes one
// event of that kind on the frame (see nodeevent.go), with the id
// EventID(msg_id, "adapter", kind) and the message's event time, in record
// order after the router's events.
//
// A node that panics, returns an error while the frame's context is still
// live, or answers a message other than the one it was given breaks the
// Node Contract; the record is failed (Record.Fail("adapter", ...)) and goes
// to the DLQ with the reason, and the frame goes on. Only the frame's own
// context ending stops the stage with an error.

import (
	"context"
	"errors"
	"fmt"

	"github.com/matriz/pipelines/schemas"
)

// ErrAdapter is wrapped by NewAdapter's errors.
var ErrAdapter = errors.New("adapter")

// crumbsAfterNode is the room a node's result needs in its trace after the
// node's own crumbs: adapter, drift, fold-guard, breakthrough, guardian.
const crumbsAfterNode = 5

// reasonDispatchOff is boxed once: it goes on every log-only record.
var reasonDispatchOff any = "DISPATCH_ENABLED is off: routing logged, no node called"

// Adapter is the adapter stage; it looks nodes up in the router that routed
// the frame, so a node answers exactly the topics it was registered for.
type Adapter struct {
	router *Router
}

// NewAdapter returns the adapter stage calling the nodes registered in r.
func NewAdapter(r *Router) (*Adapter, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil router; build the router first and pass the same one to the route stage", ErrAdapter)
	}
	return &Adapter{router: r}, nil
}

// Name returns "adapter".
func (a *Adapter) Name() string { return StageAdapter }

// Process calls the routed node for every live, dispatched record of f.
func (a *Adapter) Process(ctx context.Context, f *Frame) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("adapter: %w", err)
	}
	v := a.router.current()
	for i := range f.Records {
		if i > 0 && i%recordsPerCtxCheck == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("adapter: frame %d partition %d stopped at record %d: %w", f.Seq, f.Partition, i, err)
			}
		}
		rec := &f.Records[i]
		if !rec.Live() {
			continue
		}
		if err := a.handle(ctx, v, f, rec, len(f.Records)-i); err != nil {
			return err
		}
	}
	return nil
}

// handle calls rec's node; left is how many records of f, rec included,
// are still to be handled.
func (a *Adapter) handle(ctx context.Context, v *routerView, f *Frame, rec *Record, left int) error {
	if rec.Route == nil || rec.Result == nil || rec.Msg == nil {
		rec.Fail(StageAdapter, fmt.Sprintf("record at partition %d offset %d has no routing decision: the route stage must run before adapter", rec.Partition, rec.Offset))
		return nil
	}
	msg := rec.Msg
	if !rec.Route.Dispatch {
		reason := reasonDispatchOff
		if rec.Route.Node == "" {
			reason = fmt.Sprintf("no node registered for topic %q", rec.Route.Topic)
		}
		rec.Result.Trace = append(rec.Result.Trace, schemas.Crumb{
			Stage: StageAdapter,
			T:     msg.TS,
			Data:  schemas.Payload{"dispatched": false, "reason": reason},
		})
		return nil
	}
	rt, ok := v.routes[rec.Route.Topic]
	node := rt.node
	if !ok || node.Name() != rec.Route.Node {
		rec.Fail(StageAdapter, fmt.Sprintf("node %q routed for topic %q is not registered in the adapter's router", rec.Route.Node, rec.Route.Topic))
		return nil
	}
	name := node.Name()
	res, panicked, err := callNode(ctx, node, rec.NodeInput())
	switch {
	case panicked != nil:
		rec.Fail(StageAdapter, fmt.Sprintf("node %s panicked: %v", name, panicked))
		return nil
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("adapter: node %s stopped by the frame's context (%v): %w", name, err, ctx.Err())
	case err != nil:
		rec.Fail(StageAdapter, fmt.Sprintf("node %s: %v", name, err))
		return nil
	}
	if reason := contractViolation(res, msg, node); reason != "" {
		rec.Fail(StageAdapter, reason)
		return nil
	}

	// The router's result is replaced by the node's; its trace, which the
	// router made with room for the node's crumb and the stages after, is
	// the new result's own, so it is appended to rather than copied.
	trace := rec.Result.Trace
	if cap(trace)-len(trace) < len(res.Trace)+crumbsAfterNode {
		trace = make([]schemas.Crumb, 0, len(rec.Result.Trace)+len(res.Trace)+crumbsAfterNode)
		trace = append(trace, rec.Result.Trace...)
	}
	trace = append(trace, res.Trace...)
	version := rt.version
	if res.NodeVersion != rt.versionText {
		version = res.NodeVersion
	}
	trace = append(trace, schemas.Crumb{
		Stage: StageAdapter,
		T:     msg.TS,
		Data:  schemas.Payload{"dispatched": true, "node": rt.name, "node_version": version, "ok": res.OK},
	})
	res.Trace = trace
	res.ID = ResultID(msg.MsgID, name) // one id rule for every result, whatever the node set
	rec.Result = &res
	appendNodeEvent(f, msg, rec.Result, left)
	return nil
}

// callNode calls n and turns a panic into a value, so one bad node sends
// one record to the DLQ instead of taking the worker down.
func callNode(ctx context.Context, n Node, msg *schemas.MatrizMessage) (res schemas.MatrizResult, panicked any, err error) {
	defer func() { panicked = recover() }()
	res, err = n.Handle(ctx, msg)
	return res, nil, err
}

// contractViolation returns why res is not a Node Contract v1 answer to
// msg from n, or "".
func contractViolation(res schemas.MatrizResult, msg *schemas.MatrizMessage, n Node) string {
	switch {
	case res.MsgID != msg.MsgID:
		return fmt.Sprintf("node %s broke the node contract: answered msg_id %q for message %q", n.Name(), res.MsgID, msg.MsgID)
	case res.Node != n.Name():
		return fmt.Sprintf("node %s broke the node contract: result names node %q", n.Name(), res.Node)
	case res.Lane != msg.Lane:
		return fmt.Sprintf("node %s broke the node contract: result lane %q for a message in lane %q", n.Name(), res.Lane, msg.Lane)
	}
	for _, c := range res.Trace {
		if c.Stage == n.Name() {
			return ""
		}
	}
	return fmt.Sprintf("node %s broke the node contract: result has no crumb from the node", n.Name())
}
