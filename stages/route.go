package stages

// route is the SymbolicMeshRouter: it maps a message's topic to the node
// registered for it and records the decision.
//
// Log-only is the default (DISPATCH_ENABLED off): every live record gets a
// Route, a Result from node "router" (ok when a node is registered for the
// topic, not ok with a reason when none is) and a "route" crumb; no node is
// called. With Flags.Dispatch on, Route.Dispatch is set for records whose
// topic has a node, and the adapter stage calls that node and replaces the
// router's result with the node's.
//
// So every live record leaves route with exactly one result, whose id is
// deterministic (ResultID of msg_id and "router"), and its decision in the
// result's route crumb. The frame's decisions are on the log as events too,
// listed per frame (route_events.go): intention for the records dispatched
// (the router means node X to act on the message, and the adapter stage
// calls it), routing for those only logged (dispatch off, or no node for
// the topic). Crumb and event times are the message's event time, never
// the wall clock, so replays match.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/matriz/pipelines/schemas"
)

// Names of the route and adapter stages, and the node name and version on
// the results the router creates.
const (
	StageRoute    = "route"
	StageAdapter  = "adapter"
	RouterNode    = "router"
	RouterVersion = "1.0.0"
)

// traceRoom is the crumb capacity a result starts with: route, learn (when
// it had something to say), the node (when dispatched), adapter and the
// four stages after them each add one, so a result's trace grows without
// reallocating.
const traceRoom = 8

// ErrRouter is wrapped by every error Register and NewRouter return.
var ErrRouter = errors.New("router")

// recordsPerCtxCheck is how many records a stage handles between two looks at
// its context: often enough that a cancelled frame of 1,000 messages stops
// within microseconds, rarely enough to cost nothing.
const recordsPerCtxCheck = 64

// Router is the SymbolicMeshRouter stage. It is safe for concurrent use:
// Process may run for several partitions at once, and Register may be
// called while it does (a frame sees the registrations in force when it
// started).
type Router struct {
	mu   sync.Mutex
	view *routerView // replaced, never modified, by Register
}

// routerView is one immutable set of registrations.
type routerView struct {
	nodes      map[string]Node
	routes     map[string]route // nodes again, with the payload values routeOne writes
	registered string
}

// route is a registered node with its topic, name and version already
// boxed as payload values: a string converted to `any` allocates, and the
// router and the adapter write them in four payloads per message.
type route struct {
	node                 Node
	topic, name, version any
	versionText          string // what version holds
}

// RouterOption configures a Router.
type RouterOption func(*routerConfig)

type routerConfig struct {
	routes []routeEntry
}

type routeEntry struct {
	topic string
	node  Node
}

// RouteTo registers node for topic at construction, like Register.
func RouteTo(topic string, node Node) RouterOption {
	return func(c *routerConfig) { c.routes = append(c.routes, routeEntry{topic, node}) }
}

func (c *routerConfig) validate() error {
	seen := make(map[string]bool, len(c.routes))
	for _, r := range c.routes {
		if err := checkRoute(r.topic, r.node); err != nil {
			return err
		}
		if seen[r.topic] {
			return fmt.Errorf("%w: topic %q registered twice", ErrRouter, r.topic)
		}
		seen[r.topic] = true
	}
	return nil
}

// NewRouter returns a router with the routes given as options.
func NewRouter(opts ...RouterOption) (*Router, error) {
	var c routerConfig
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	nodes := make(map[string]Node, len(c.routes))
	for _, rt := range c.routes {
		nodes[rt.topic] = rt.node
	}
	r := &Router{}
	r.publish(nodes)
	return r, nil
}

func checkRoute(topic string, node Node) error {
	if strings.TrimSpace(topic) == "" {
		return fmt.Errorf("%w: empty topic; register a node under the message topic it answers (contradiction, memory, ...)", ErrRouter)
	}
	if node == nil {
		return fmt.Errorf("%w: nil node for topic %q", ErrRouter, topic)
	}
	if node.Name() == "" {
		return fmt.Errorf("%w: node %T for topic %q has no name", ErrRouter, node, topic)
	}
	return nil
}

// Register routes messages with topic to node. Registering a second node
// for a topic is an error: which node answers must not depend on the order
// of registration.
func (r *Router) Register(topic string, node Node) error {
	if err := checkRoute(topic, node); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.view.nodes[topic]; ok {
		return fmt.Errorf("%w: topic %q already routes to node %q; cannot also route it to %q", ErrRouter, topic, old.Name(), node.Name())
	}
	next := maps.Clone(r.view.nodes)
	next[topic] = node
	r.publish(next)
	return nil
}

// publish installs nodes as the view frames read; r.mu is held or r is new.
func (r *Router) publish(nodes map[string]Node) {
	topics := slices.Sorted(maps.Keys(nodes))
	reg := strings.Join(topics, ", ")
	if reg == "" {
		reg = "none"
	}
	routes := make(map[string]route, len(nodes))
	for t, n := range nodes {
		routes[t] = route{node: n, topic: t, name: n.Name(), version: n.Version(), versionText: n.Version()}
	}
	r.view = &routerView{nodes: nodes, routes: routes, registered: reg}
}

func (r *Router) current() *routerView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.view
}

// Lookup returns the node registered for topic.
func (r *Router) Lookup(topic string) (Node, bool) {
	n, ok := r.current().nodes[topic]
	return n, ok
}

// Topics returns the registered topics, sorted.
func (r *Router) Topics() []string { return slices.Sorted(maps.Keys(r.current().nodes)) }

// Name returns "route".
func (r *Router) Name() string { return StageRoute }

// Process routes every live record of f: see the file comment.
func (r *Router) Process(ctx context.Context, f *Frame) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	v := r.current()
	// Room for the stages after route, which emit per record (guardian an
	// event each): grown once here rather than doubling as they append.
	f.Events = slices.Grow(f.Events, len(f.Records))
	var evidence routeEvidence
	for i := range f.Records {
		if i > 0 && i%recordsPerCtxCheck == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("route: frame %d partition %d stopped at record %d: %w", f.Seq, f.Partition, i, err)
			}
		}
		rec := &f.Records[i]
		if !rec.Live() {
			continue
		}
		if rec.Msg == nil {
			rec.Fail(StageRoute, fmt.Sprintf("record at partition %d offset %d has no message", rec.Partition, rec.Offset))
			continue
		}
		evidence.add(i, r.routeOne(v, f, rec))
	}
	evidence.appendTo(f)
	return nil
}

// routeOne routes rec and reports whether it is dispatched to its node.
func (r *Router) routeOne(v *routerView, f *Frame, rec *Record) (dispatched bool) {
	msg := rec.Msg
	rt, ok := v.routes[msg.Topic]
	name := ""
	topicV, nameV := rt.topic, rt.name
	if ok {
		name = rt.node.Name()
	} else {
		topicV, nameV = msg.Topic, name
	}
	dispatch := ok && f.Flags.Dispatch
	rec.Route = &Route{Topic: msg.Topic, Node: name, Dispatch: dispatch}
	// Box each string once: a string stored in a payload is boxed, and the
	// three payloads below share them.
	idV := any(msg.MsgID)

	res := &schemas.MatrizResult{
		ID:          ResultID(msg.MsgID, RouterNode),
		MsgID:       msg.MsgID,
		TS:          msg.TS,
		Lane:        msg.Lane,
		Node:        RouterNode,
		NodeVersion: RouterVersion,
		OK:          ok,
		Payload:     schemas.Payload{"topic": topicV, "routed_to": nameV, "dispatched": dispatch},
		Trace: append(make([]schemas.Crumb, 0, traceRoom), schemas.Crumb{
			Stage: StageRoute,
			T:     msg.TS,
			Data: schemas.Payload{
				"topic": topicV, "lane": box(string(msg.Lane)), "msg_id": idV,
				"routed_to": nameV, "dispatched": dispatch,
			},
		}),
	}
	if !ok {
		res.Reasons = []string{fmt.Sprintf("no node registered for topic %q; registered: %s", msg.Topic, v.registered)}
	}
	rec.Result = res

	return dispatch
}
