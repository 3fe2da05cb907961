package stages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// Guardian is the chain's judge, after every stage that scores a message
// (only goals, which follows its decisions, runs after it): it decides, for
// every live message, allow, deny, dry_run, pending or executed, and explains each
// decision with a guardian_decision event and a Trace.
//
// Policies, applied to every message; each one that fails adds a deny
// reason, so a denial lists everything that is wrong:
//   - the result must still be ok (a message refused upstream is denied);
//   - the message's lane must be the frame's lane;
//   - consent: glyph.tags `consent` must be "granted", "true" or "yes"
//     (case-insensitive) and `purpose` non-empty; missing tags deny — the
//     default is deny, not allow;
//   - max_risk (default 0.5): payload `risk` in [0, 1] (the larger of the
//     node's answer and the input when both give one; absent counts as 0;
//     not a number or out of range denies); risk > max_risk denies;
//   - risk_class: payload `risk_class` (e.g. from the compliance node) when
//     given, else derived from risk (< 0.2 minimal, < 0.5 limited, < 0.8
//     high, else unacceptable). A declared "unacceptable" denies; a derived
//     class only describes (risk itself is governed by max_risk); a
//     declared value that is not one of the four denies;
//   - max_drift (default 0.35): the record's ScoreDriftEMA, set by the drift
//     stage; an EMA above max_drift denies. No score, no check.
//
// External actions: a message asks for one when its payload has
// `action_kind` (a non-empty string) or its topic is an action topic
// (default "action"; the kind is then the topic). Its `priority` is "P0"
// to "P3"; a missing priority counts as P0, the most guarded. An action
// that passes the policies goes preview → approve → execute:
//  1. an action event with status "preview" (deterministic action id) goes
//     to Frame.Actions;
//  2. in a dry-run lane the outcome is dry_run. Experimental always runs
//     dry (NewGuardian refuses to turn it off); candidate runs dry by
//     default, prod does not. With EXT_ACTIONS_ENABLED off (Flags.ExtActions)
//     the outcome is dry_run too;
//  3. a priority that needs approval (default P0, in candidate and prod)
//     without an approval from Approvals is pending: the action waits in the
//     partition's state. At the start of every frame the guardian asks
//     Approvals again; an approved action executes then (if the flag is on),
//     one not approved within the approval TTL (default 24h of event time)
//     expires and is denied;
//  4. otherwise the Executor runs it: executed, and an action event with
//     status "executed" goes to Frame.Actions; an executor error or panic
//     is a deny (status "failed"), an executor that does not return
//     within its timeout (GuardianExecutorTimeout, default 10s) is
//     uncertain (status "uncertain": the call was started). An approval is used up by the execution (see
//     ApprovalConsumer): whatever came of it, it approves nothing again.
//
// Delivery is at least once, so a message may be decided twice: it gets
// the same action id, a waiting action is kept once, and a redelivery in
// the frame that executed its action gets the same answer without a second
// call. Across frames and restarts the Executor is the guard: the runtime's
// at-most-once executor records "executing" before each call and answers a
// redelivered action from that record, with ErrAlreadyExecuted (the
// decision and its events are those of the first execution: executed) or
// ErrActionUncertain (an earlier attempt died during the call: outcome
// uncertain, an action event with status "uncertain", and nothing is
// called, for a human to check the external system). A redelivery whose
// approval this process already used is denied ("approval already used")
// under the original decision's ids.
//
// Replays never execute. In a frame marked Replay, where the guardian would
// call the Executor it emits an action event with status "would_execute"
// under the id of the live "executed" event, and decides executed, so a
// replay's results, decisions and traces equal the live run's (a replay
// assumes the call succeeded; the live actions topic says whether it did).
//
// Only deny makes the result not ok (with "guardian: …" reasons); every
// outcome is set as the record's Verdict with its reasons. Events and
// traces use event time (message ts, or the frame end for decisions on
// waiting actions) and ids derived from the message id.
//
// A Guardian decides for one lane, given to NewGuardian because the
// defaults and rules depend on it, and keeps one partition's waiting
// actions (make one per partition, see Factory); Approvals and the Executor
// are shared by every partition's guardian. Snapshot and Restore write and
// read the waiting actions (guardianstate.go).
type Guardian struct {
	cfg    guardConfig
	rules  [2][]string // constraints for the trace, with ext_actions off and on
	bind   laneBinding // bound to cfg.lane from the start
	st     guardState
	counts [len(outcomes)]atomic.Uint64
}

// StageGuardian names the guardian stage on its crumbs, events, traces and state.
const StageGuardian = "guardian"

// outcomes indexes Guardian.counts.
var outcomes = [...]Outcome{OutcomeAllow, OutcomeDeny, OutcomeDryRun, OutcomePending, OutcomeExecuted, OutcomeUncertain}

// consentGranted are the values of the consent tag that mean yes.
var consentGranted = map[string]bool{"granted": true, "true": true, "yes": true}

// Action statuses in the action events' payload.
const (
	ActionPreview  = "preview"
	ActionExecuted = "executed"
	ActionFailed   = "failed"
	ActionExpired  = "expired"
	// ActionExecuting is written (and acknowledged) by the runtime's
	// at-most-once executor right before it calls out: an action with it
	// and no executed or failed event died during the call.
	ActionExecuting = "executing"
	// ActionUncertain: the action was not called again because an earlier
	// attempt left only its executing record (ErrActionUncertain).
	ActionUncertain = "uncertain"
	// ActionWouldExecute is a replay's stand-in for "executed": it has the
	// live executed event's id (see ActionEventID).
	ActionWouldExecute = "would_execute"
)

type guardConfig struct {
	lane        schemas.Lane
	maxRisk     float64
	maxDrift    float64
	dryRun      bool
	approvalFor []Priority
	approval    map[Priority]bool // approvalFor, once validated
	approvals   Approvals
	consumer    ApprovalConsumer // approvals, when its approvals are used up
	executor    Executor
	execTimeout time.Duration
	topicNames  []string
	topics      map[string]bool // topicNames, once validated
	maxPending  int
	approvalTTL time.Duration
	explainBase string
}

// GuardianOption configures NewGuardian.
type GuardianOption func(*guardConfig)

// GuardianMaxRisk sets max_risk in [0, 1] (default 0.5).
func GuardianMaxRisk(v float64) GuardianOption {
	return func(c *guardConfig) { c.maxRisk = v }
}

// GuardianMaxDrift sets max_drift in [0, 2] (default 0.35).
func GuardianMaxDrift(v float64) GuardianOption {
	return func(c *guardConfig) { c.maxDrift = v }
}

// GuardianDryRun turns dry-run on or off. Defaults: on in experimental and
// candidate, off in prod. Experimental cannot be turned off: NewGuardian
// refuses it.
func GuardianDryRun(on bool) GuardianOption {
	return func(c *guardConfig) { c.dryRun = on }
}

// GuardianRequireApproval sets the priorities whose actions need a human
// approval before they execute (default P0). An empty list needs none.
func GuardianRequireApproval(prios []Priority) GuardianOption {
	return func(c *guardConfig) { c.approvalFor = prios }
}

// GuardianApprovals sets where approvals come from (default: an empty
// ApprovalSet, which approves nothing).
func GuardianApprovals(a Approvals) GuardianOption {
	return func(c *guardConfig) { c.approvals = a }
}

// GuardianExecutor sets what performs approved actions (default
// RecordOnly). The runtime passes one wrapped in the lane guard.
func GuardianExecutor(e Executor) GuardianOption {
	return func(c *guardConfig) { c.executor = e }
}

// GuardianExecutorTimeout bounds how long the guardian waits for the
// Executor on one action (default DefaultExecutorTimeout, 10s). An
// executor still running then is left behind and the action is decided
// uncertain, so a hung external system cannot stall the partition.
func GuardianExecutorTimeout(d time.Duration) GuardianOption {
	return func(c *guardConfig) { c.execTimeout = d }
}

// GuardianActionTopics replaces the topics whose messages are action
// requests (default "action").
func GuardianActionTopics(topics ...string) GuardianOption {
	return func(c *guardConfig) { c.topicNames = topics }
}

// GuardianMaxPending bounds the actions one partition keeps waiting for
// approval (default 10000); past it, new ones are denied.
func GuardianMaxPending(n int) GuardianOption {
	return func(c *guardConfig) { c.maxPending = n }
}

// GuardianApprovalTTL sets how long, in event time, an action waits for
// approval before it expires (default 24h).
func GuardianApprovalTTL(d time.Duration) GuardianOption {
	return func(c *guardConfig) { c.approvalTTL = d }
}

// GuardianExplanationBase sets the prefix of the explanation_link of
// traces whose message gives none: the link is the prefix and the trace
// id (default "matriz://traces/").
func GuardianExplanationBase(prefix string) GuardianOption {
	return func(c *guardConfig) { c.explainBase = prefix }
}

func (c *guardConfig) validate() error {
	bad := func(option string, v any, want string) error {
		return &OptionError{Stage: StageGuardian, Option: option, Value: v, Want: want, Err: ErrGuardianConfig}
	}
	switch {
	case !c.lane.Valid():
		return bad("lane", string(c.lane), "experimental, candidate or prod")
	case !(c.maxRisk >= 0 && c.maxRisk <= 1):
		return bad("GuardianMaxRisk", c.maxRisk, "a number in [0, 1]")
	case !(c.maxDrift >= 0 && c.maxDrift <= 2):
		return bad("GuardianMaxDrift", c.maxDrift, "a number in [0, 2]")
	case c.lane == schemas.LaneExperimental && !c.dryRun:
		return &OptionError{Stage: StageGuardian, Option: "GuardianDryRun", Lane: c.lane, Value: false, Want: "true: the experimental lane always runs dry", Err: ErrGuardianConfig}
	case c.approvals == nil:
		return bad("GuardianApprovals", nil, "a non-nil Approvals")
	case c.executor == nil:
		return bad("GuardianExecutor", nil, "a non-nil Executor")
	case c.execTimeout <= 0:
		return bad("GuardianExecutorTimeout", c.execTimeout, "> 0")
	case c.maxPending < 1:
		return bad("GuardianMaxPending", c.maxPending, ">= 1")
	case c.approvalTTL <= 0:
		return bad("GuardianApprovalTTL", c.approvalTTL, "> 0")
	case c.explainBase == "":
		return bad("GuardianExplanationBase", `""`, "a non-empty prefix")
	}
	c.consumer, _ = c.approvals.(ApprovalConsumer)
	c.approval = make(map[Priority]bool, len(c.approvalFor))
	for _, p := range c.approvalFor {
		if _, err := ParsePriority(string(p)); err != nil {
			return bad("GuardianRequireApproval", string(p), "P0, P1, P2 or P3")
		}
		c.approval[p] = true
	}
	c.topics = make(map[string]bool, len(c.topicNames))
	for _, t := range c.topicNames {
		if t == "" {
			return bad("GuardianActionTopics", `""`, "non-empty topic names")
		}
		c.topics[t] = true
	}
	return nil
}

// NewGuardian returns one partition's guardian for lane, with the defaults
// (max_risk 0.5, max_drift 0.35, dry-run unless lane is prod, approval for
// P0, nothing approved, RecordOnly executor with a 10s timeout, action topic "action", 10000
// pending, approval TTL 24h) changed by opts. A lane that is not one of the
// three is an *OptionError for option "lane".
func NewGuardian(lane schemas.Lane, opts ...GuardianOption) (*Guardian, error) {
	cfg := guardConfig{
		lane:        lane,
		maxRisk:     0.5,
		maxDrift:    0.35,
		dryRun:      lane != schemas.LaneProd,
		approvalFor: []Priority{P0},
		approvals:   &ApprovalSet{},
		executor:    RecordOnly{},
		execTimeout: DefaultExecutorTimeout,
		topicNames:  []string{"action"},
		maxPending:  10_000,
		approvalTTL: 24 * time.Hour,
		explainBase: "matriz://traces/",
	}
	if err := configure(&cfg, opts, (*guardConfig).validate); err != nil {
		return nil, err
	}
	return &Guardian{
		cfg:   cfg,
		rules: [2][]string{cfg.constraints(false), cfg.constraints(true)},
		bind:  laneBinding{lane: lane},
		st:    newGuardState(),
	}, nil
}

// Name returns "guardian".
func (g *Guardian) Name() string { return StageGuardian }

// guardState is the partition's actions waiting for approval, in arrival
// order: what Restore replaces whole.
type guardState struct {
	pending []*pendingAction
	ids     map[string]bool
}

func newGuardState() guardState { return guardState{ids: make(map[string]bool)} }

// Process first settles the partition's waiting actions (approved ones
// execute, stale ones expire), then decides every live record of f.
//
// ctx is checked before the frame and before every execution; when it ends
// mid-frame Process returns its error and the frame must be processed
// again (the runtime does not commit it). What was decided before stays:
// waiting actions are kept by id, so deciding a message twice keeps one,
// and an executor sees the same action id again and can recognise it.
func (g *Guardian) Process(ctx context.Context, f *Frame) error {
	if err := g.bind.admit(ctx, StageGuardian, f); err != nil {
		return err
	}
	p := &g.st
	done := make(map[string]doneAction) // actions executed (or tried) in this frame
	if err := g.settle(ctx, f, p, done); err != nil {
		return err
	}
	// An event and a trace per record: room for them at once, rather than
	// the slices doubling (and copying) as they grow.
	f.Events = slices.Grow(f.Events, len(f.Records))
	f.Traces = slices.Grow(f.Traces, len(f.Records))
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		if err := g.decide(ctx, f, p, r, done); err != nil {
			return err
		}
	}
	return nil
}

// decision is one guardian decision on its way to a verdict, an event and
// a trace.
type decision struct {
	msgID, glyphID string
	ts             time.Time
	again          string // "" for the decision on the message, else what settled a waiting action
	outcome        Outcome
	reasons        []string
	action         *Action
	inputs         schemas.Payload
	riskClass      schemas.RiskClass
	dataOrigin     string
	link           string
	crumbs         []schemas.Crumb
}

func (d *decision) refuse(format string, args ...any) {
	d.reasons = append(d.reasons, fmt.Sprintf(format, args...))
}

// doneAction is what a frame's execution of an action came to, so a
// redelivery of its message in the same frame gets the same answer.
type doneAction struct {
	outcome Outcome
	reasons []string
}

// decide applies the policies and the action flow to one live record.
func (g *Guardian) decide(ctx context.Context, f *Frame, p *guardState, r *Record, done map[string]doneAction) error {
	m := r.Msg
	d := &decision{msgID: m.MsgID, glyphID: m.Glyph.ID, ts: m.TS, inputs: make(schemas.Payload, 8)}
	d.inputs["topic"] = m.Topic

	if r.Result != nil && !r.Result.OK {
		d.refuse("upstream result not ok")
	}
	if m.Lane != f.Lane {
		d.refuse("message of lane %q on the %s lane", m.Lane, f.Lane)
	}
	g.checkConsent(d, &m.Glyph)
	risk, err := decisionRisk(r)
	d.inputs["risk"] = risk
	switch {
	case err != nil:
		d.refuse("%v", err)
	case risk > g.cfg.maxRisk:
		d.refuse("risk %v exceeds max_risk %v", risk, g.cfg.maxRisk)
	}
	class, declared, err := decisionRiskClass(r, risk)
	d.riskClass = class
	switch {
	case err != nil:
		d.refuse("%v", err)
	case declared && class == schemas.RiskUnacceptable:
		d.refuse("risk_class unacceptable")
	}
	if ema, ok := r.Score(ScoreDriftEMA); ok {
		d.inputs["drift_ema"] = ema
		if ema > g.cfg.maxDrift {
			d.refuse("drift EMA %v exceeds max_drift %v", ema, g.cfg.maxDrift)
		}
	}
	a, err := g.actionRequest(r, f.Lane)
	if err != nil {
		d.refuse("%v", err)
	}
	if a != nil {
		d.action = a
		d.inputs["action_kind"] = a.Kind
		d.inputs["priority"] = string(a.Priority)
	}
	d.dataOrigin = dataOrigin(r)
	link, _ := stringValue(r, "explanation_link")
	d.link = link

	switch {
	case len(d.reasons) > 0:
		d.outcome = OutcomeDeny
	case a == nil:
		d.outcome = OutcomeAllow
	default:
		if err := g.actionFlow(ctx, f, p, d, done); err != nil {
			return err
		}
	}
	if r.Result != nil {
		// Room for the guardian's own crumb, which emit appends.
		d.crumbs = append(make([]schemas.Crumb, 0, len(r.Result.Trace)+1), r.Result.Trace...)
	}
	crumb := d.crumb()
	if r.Result != nil {
		if d.outcome == OutcomeDeny {
			r.Result.OK = false
			for _, why := range d.reasons {
				r.Result.Reasons = append(r.Result.Reasons, "guardian: "+why)
			}
		}
		r.Result.Trace = append(r.Result.Trace, crumb)
	}
	r.Verdict = &Verdict{Outcome: d.outcome, Reasons: d.reasons}
	if a != nil {
		r.Verdict.ActionID = a.ID
	}
	g.emit(f, d, crumb)
	return nil
}

// actionFlow takes an action that passed the policies through preview,
// approval and execution, and sets d's outcome.
func (g *Guardian) actionFlow(ctx context.Context, f *Frame, p *guardState, d *decision, done map[string]doneAction) error {
	a := d.action
	needs := g.cfg.approval[a.Priority]
	live := !g.cfg.dryRun && f.Flags.ExtActions
	prior, again := done[a.ID]
	used := live && needs && !again && g.consumed(f, a.ID)
	approved := live && needs && !again && !used && g.approvals(f).Approved(a.ID)
	waits := live && needs && !again && !used && !approved
	if waits && !p.ids[a.ID] && len(p.pending) >= g.cfg.maxPending {
		d.outcome = OutcomeDeny
		d.refuse("%d actions already await approval in partition %d", len(p.pending), f.Partition)
		return nil
	}
	// approval_required says whether the action waits for a human: a
	// preview that can never execute (the lane runs dry, or external
	// actions are off) asks for no approval it could not act on.
	preview := schemas.Payload{"dry_run": g.cfg.dryRun, "approval_required": needs && live}
	if hash, err := ParamsHash(a.Params); err == nil {
		preview[ParamsHashKey] = hash // what an approval must name
	}
	f.Actions = append(f.Actions, g.actionEvent(f, a, ActionPreview, d.ts, preview))
	switch {
	case g.cfg.dryRun:
		d.outcome = OutcomeDryRun
		d.refuse("the %s lane runs dry", f.Lane)
	case !f.Flags.ExtActions:
		d.outcome = OutcomeDryRun
		d.refuse("EXT_ACTIONS_ENABLED is off")
	case again:
		// The same message again in the frame that just executed (or
		// tried) its action, a redelivery: once is enough, same answer.
		d.outcome = prior.outcome
		if prior.outcome == OutcomeExecuted {
			d.refuse("already executed in this frame")
		} else {
			d.reasons = append(d.reasons, prior.reasons...)
		}
	case used:
		d.outcome = OutcomeDeny
		d.refuse("approval already used: action %s ran (or was tried) under it before; its action events say how it ended", a.ID)
	case waits:
		d.outcome = OutcomePending
		d.refuse("%s action awaits a human approval", a.Priority)
		if !p.ids[a.ID] {
			p.ids[a.ID] = true
			kept := *a
			kept.Params = a.Params.Clone()
			p.pending = append(p.pending, &pendingAction{Action: kept, Deadline: a.TS.Add(g.cfg.approvalTTL),
				RiskClass: d.riskClass, DataOrigin: d.dataOrigin, Link: d.link, Risk: d.inputs["risk"].(float64)})
		}
	default:
		a.Approved = needs
		if err := g.execute(ctx, f, d, d.ts); err != nil {
			return err
		}
		done[a.ID] = doneAction{outcome: d.outcome, reasons: d.reasons}
	}
	return nil
}

// approvals is what decides approvals for f: the frame's own, when the
// runtime applies them per partition, else the configured ones.
func (g *Guardian) approvals(f *Frame) Approvals {
	if f.Approvals != nil {
		return f.Approvals
	}
	return g.cfg.approvals
}

// execute runs d's action and sets the outcome: executed (also when the
// executor finds it already executed), uncertain (an earlier attempt left
// no outcome), or deny with the executor's error; a replay frame only
// records that it would execute. Whatever came of it uses up the action's
// approval. A context that ended is returned instead.
func (g *Guardian) execute(ctx context.Context, f *Frame, d *decision, ts time.Time) error {
	a := d.action
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: frame %d: before executing action %s: %w", StageGuardian, f.Seq, a.ID, err)
	}
	executed := schemas.Payload{"approved": a.Approved}
	if f.Replay {
		d.outcome = OutcomeExecuted
		ev := g.actionEvent(f, a, ActionWouldExecute, ts, executed)
		ev.ID = ActionEventID(a, ActionExecuted)
		f.Actions = append(f.Actions, ev)
		g.consume(f, a)
		return nil
	}
	act := *a
	act.Params = act.Params.Clone() // the executor must not reach the input message
	err := callExecutor(ctx, g.cfg.executor, g.cfg.execTimeout, f.Lane, act)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%s: frame %d: executing action %s: %w", StageGuardian, f.Seq, a.ID, cerr)
		}
	}
	g.consume(f, a)
	switch {
	case err == nil, errors.Is(err, ErrAlreadyExecuted):
		// A redelivery's answer is the first execution's, id and all.
		d.outcome = OutcomeExecuted
		f.Actions = append(f.Actions, g.actionEvent(f, a, ActionExecuted, ts, executed))
	case errors.As(err, new(*ExecutorTimeoutError)):
		d.outcome = OutcomeUncertain
		d.refuse("outcome unknown: %v; the call may have acted: check the external system before running action %s again", err, a.ID)
		f.Actions = append(f.Actions, g.actionEvent(f, a, ActionUncertain, ts, schemas.Payload{"approved": a.Approved, "error": err.Error()}))
	case errors.Is(err, ErrActionUncertain):
		d.outcome = OutcomeUncertain
		d.refuse("outcome unknown: an earlier attempt died during the call; check the external system before running action %s again", a.ID)
		f.Actions = append(f.Actions, g.actionEvent(f, a, ActionUncertain, ts, schemas.Payload{"approved": a.Approved, "error": err.Error()}))
	default:
		d.outcome = OutcomeDeny
		d.refuse("execute: %v", err)
		f.Actions = append(f.Actions, g.actionEvent(f, a, ActionFailed, ts, schemas.Payload{"error": err.Error()}))
	}
	return nil
}

// consumed reports whether a's approval was used already.
func (g *Guardian) consumed(f *Frame, actionID string) bool {
	c := g.consumer(f)
	return c != nil && c.Consumed(actionID)
}

// consumer is where f's approvals are used up: the frame's own approvals
// when the runtime applies them per partition, else the configured ones.
func (g *Guardian) consumer(f *Frame) ApprovalConsumer {
	if f.Approvals != nil {
		c, _ := f.Approvals.(ApprovalConsumer)
		return c
	}
	return g.cfg.consumer
}

// consume uses up a's approval, if it needed one.
func (g *Guardian) consume(f *Frame, a *Action) {
	if c := g.consumer(f); a.Approved && c != nil {
		c.Consume(a.ID)
	}
}

// settle executes waiting actions that are now approved and expires those
// past their deadline. Each settled action gets its own decision.
//
// A waiting action whose approval was used already — state restored from
// before its execution, in the process that executed it — is settled as a
// deny ("approval already used") under the ids of that execution's
// decision, without a call.
func (g *Guardian) settle(ctx context.Context, f *Frame, p *guardState, done map[string]doneAction) error {
	if len(p.pending) == 0 {
		return nil
	}
	keep := make([]*pendingAction, 0, len(p.pending))
	for i, pa := range p.pending {
		used := g.consumed(f, pa.ID)
		expired := !used && !f.Start.Before(pa.Deadline)
		if !used && !expired && !(!g.cfg.dryRun && f.Flags.ExtActions && g.approvals(f).Approved(pa.ID)) {
			keep = append(keep, pa)
			continue
		}
		d := &decision{msgID: pa.MsgID, glyphID: pa.GlyphID, ts: f.End, action: &pa.Action, riskClass: pa.RiskClass, dataOrigin: pa.DataOrigin, link: pa.Link,
			inputs: schemas.Payload{"action_kind": pa.Kind, "priority": string(pa.Priority), "risk": pa.Risk, "waiting_since": pa.TS.UnixMicro()}}
		switch {
		case used:
			d.again, d.outcome = "approved", OutcomeDeny
			d.refuse("approval already used: action %s ran (or was tried) under it before; its action events say how it ended", pa.ID)
		case expired:
			d.again, d.outcome = ActionExpired, OutcomeDeny
			d.refuse("no approval within %v", g.cfg.approvalTTL)
			f.Actions = append(f.Actions, g.actionEvent(f, d.action, ActionExpired, f.End, nil))
		default:
			d.again = "approved"
			pa.Approved = true
			if err := g.execute(ctx, f, d, f.End); err != nil {
				p.pending = append(keep, p.pending[i:]...)
				return err
			}
			done[pa.ID] = doneAction{outcome: d.outcome, reasons: d.reasons}
		}
		delete(p.ids, pa.ID)
		g.emit(f, d, d.crumb())
	}
	p.pending = keep
	return nil
}

// crumb is the guardian's crumb for d.
func (d *decision) crumb() schemas.Crumb {
	data := schemas.Payload{"outcome": box(string(d.outcome)), "risk_class": box(string(d.riskClass))}
	if d.action != nil {
		data["action_id"] = d.action.ID
	}
	if len(d.reasons) > 0 {
		data["reasons"] = d.reasons
	}
	return schemas.Crumb{Stage: StageGuardian, T: d.ts, Data: data}
}

// emit appends d's guardian_decision event and trace.
func (g *Guardian) emit(f *Frame, d *decision, crumb schemas.Crumb) {
	g.counts[outcomeIndex(d.outcome)].Add(1)
	// The id parts sit in an array with room for the last one, so the two
	// ids below append to it in place instead of growing it twice on the heap.
	var room [4]string
	parts := append(room[:0], d.msgID, StageGuardian)
	if d.again != "" {
		parts = append(parts, d.again)
	}
	traceID := DerivedID(append(parts, "trace")...)
	link := d.link
	if link == "" {
		link = g.cfg.explainBase + traceID
	}
	outputs := schemas.Payload{"outcome": box(string(d.outcome))}
	payload := schemas.Payload{"outcome": box(string(d.outcome)), "risk_class": box(string(d.riskClass)), "trace_id": traceID}
	if len(d.reasons) > 0 {
		outputs["reasons"] = d.reasons
		payload["reasons"] = d.reasons
	}
	if d.action != nil {
		outputs["action_id"] = d.action.ID
		payload["action_id"] = d.action.ID
		payload["action_kind"] = d.action.Kind
		payload["priority"] = string(d.action.Priority)
	}
	f.Events = append(f.Events, schemas.Event{
		ID:      DerivedID(append(parts, string(schemas.EventGuardianDecision))...),
		TS:      d.ts,
		Kind:    schemas.EventGuardianDecision,
		Lane:    f.Lane,
		GlyphID: d.glyphID,
		MsgID:   d.msgID,
		Stage:   StageGuardian,
		Payload: payload,
	})
	f.Traces = append(f.Traces, schemas.Trace{
		ID:              traceID,
		TS:              d.ts,
		MsgID:           d.msgID,
		Lane:            f.Lane,
		Stage:           StageGuardian,
		Decision:        string(d.outcome),
		Crumbs:          append(d.crumbs, crumb),
		Inputs:          d.inputs,
		Outputs:         outputs,
		Constraints:     g.traceRules(f),
		RiskClass:       d.riskClass,
		DataOrigin:      d.dataOrigin,
		ExplanationLink: link,
	})
}

// constraints lists the policies in force, for the trace.
func (c *guardConfig) constraints(extActions bool) []string {
	var prios []string
	for _, p := range []Priority{P0, P1, P2, P3} {
		if c.approval[p] {
			prios = append(prios, string(p))
		}
	}
	return []string{
		fmt.Sprintf("max_risk=%v", c.maxRisk),
		fmt.Sprintf("max_drift=%v", c.maxDrift),
		"consent=granted|true|yes",
		"purpose=required",
		fmt.Sprintf("dry_run=%v", c.dryRun),
		"approval=" + strings.Join(prios, "|"),
		fmt.Sprintf("ext_actions=%v", extActions),
	}
}

// traceRules returns a copy of the constraints in force for f.
func (g *Guardian) traceRules(f *Frame) []string {
	ext := 0
	if f.Flags.ExtActions {
		ext = 1
	}
	return append([]string(nil), g.rules[ext]...)
}

// actionEvent is an action event with status for the actions topic.
func (g *Guardian) actionEvent(f *Frame, a *Action, status string, ts time.Time, extra schemas.Payload) schemas.Event {
	return ActionEvent(f.Lane, a, status, ts, extra)
}

// ActionEvent is the event of kind action recording one step (status) of
// a on lane at event time ts, for matriz.<lane>.actions: the guardian's
// previews and outcomes, and the runtime's executing records, so every
// record of an action has the same fields. Its payload has status,
// action_id, action_kind and priority, plus extra; its id is
// ActionEventID(a, status).
func ActionEvent(lane schemas.Lane, a *Action, status string, ts time.Time, extra schemas.Payload) schemas.Event {
	payload := schemas.Payload{"status": status, ApprovalActionKey: a.ID, "action_kind": a.Kind, "priority": string(a.Priority)}
	for k, v := range extra {
		payload[k] = v
	}
	return schemas.Event{
		ID:      ActionEventID(a, status),
		TS:      ts,
		Kind:    schemas.EventAction,
		Lane:    lane,
		GlyphID: a.GlyphID,
		MsgID:   a.MsgID,
		Stage:   StageGuardian,
		Payload: payload,
	}
}

// ActionEventID is the id of a's action event with status:
// DerivedID(msg id, "guardian", "action", status). A replay's would_execute
// event takes the id of "executed", so it stands where the live one does.
func ActionEventID(a *Action, status string) string {
	return DerivedID(a.MsgID, StageGuardian, string(schemas.EventAction), status)
}

// checkConsent refuses without consent for a purpose. GLYPH v2's
// first-class consent wins when the producer set it; otherwise the v1
// convention, the consent and purpose tags, decides.
func (g *Guardian) checkConsent(d *decision, glyph *schemas.Glyph) {
	if c := glyph.Consent; c != nil {
		d.inputs["consent"] = c.Granted
		d.inputs["purpose"] = c.Purpose
		if !c.Granted {
			d.refuse("glyph consent not granted")
		}
		if strings.TrimSpace(c.Purpose) == "" {
			d.refuse("glyph consent has no purpose")
		}
		return
	}
	tags := glyph.Tags
	consent, ok := tags["consent"]
	d.inputs["consent"] = consent
	switch {
	case !ok:
		d.refuse("consent tag missing")
	case !consentGranted[strings.ToLower(strings.TrimSpace(consent))]:
		d.refuse("consent is %q, want granted, true or yes", consent)
	}
	purpose := strings.TrimSpace(tags["purpose"])
	d.inputs["purpose"] = purpose
	if purpose == "" {
		d.refuse("purpose tag missing")
	}
}

// actionRequest returns the action r asks for, nil when it asks for none.
func (g *Guardian) actionRequest(r *Record, lane schemas.Lane) (*Action, error) {
	m := r.Msg
	var kind string
	if v, ok := recordValue(r, "action_kind"); ok {
		s, isString := v.(string)
		if !isString || s == "" {
			return nil, fmt.Errorf("action_kind %v is not a non-empty string", v)
		}
		kind = s
	} else if g.cfg.topics[m.Topic] {
		kind = m.Topic
	} else {
		return nil, nil
	}
	a := &Action{ID: DerivedID(m.MsgID, StageGuardian, "action"), Kind: kind, Priority: P0, Lane: lane, MsgID: m.MsgID, GlyphID: m.Glyph.ID, TS: m.TS, Params: m.Payload}
	if v, ok := recordValue(r, "priority"); ok {
		s, _ := v.(string)
		p, err := ParsePriority(s)
		if err != nil {
			return a, fmt.Errorf("priority %v is not P0, P1, P2 or P3", v)
		}
		a.Priority = p
	}
	return a, nil
}

// decisionRisk is the larger of the node's and the input's risk; absent
// counts as 0.
func decisionRisk(r *Record) (float64, error) {
	risk := 0.0
	var room [2]any // on the stack: a slice grown by append is on the heap
	vals := room[:0]
	if r.Result != nil {
		if v, ok := r.Result.Payload["risk"]; ok && v != nil {
			vals = append(vals, v)
		}
	}
	if v, ok := r.Msg.Payload["risk"]; ok && v != nil {
		vals = append(vals, v)
	}
	for _, v := range vals {
		x, err := finiteNumber("risk", v)
		if err != nil {
			return 0, err
		}
		if x < 0 || x > 1 {
			return 0, fmt.Errorf("risk %v is outside [0, 1]", x)
		}
		risk = max(risk, x)
	}
	return risk, nil
}

// decisionRiskClass returns the declared risk class, or one derived from
// risk, and whether it was declared.
func decisionRiskClass(r *Record, risk float64) (schemas.RiskClass, bool, error) {
	if v, ok := recordValue(r, "risk_class"); ok {
		s, _ := v.(string)
		switch c := schemas.RiskClass(s); c {
		case schemas.RiskMinimal, schemas.RiskLimited, schemas.RiskHigh, schemas.RiskUnacceptable:
			return c, true, nil
		}
		return derivedRiskClass(risk), false, fmt.Errorf("risk_class %v is not minimal, limited, high or unacceptable", v)
	}
	return derivedRiskClass(risk), false, nil
}

func derivedRiskClass(risk float64) schemas.RiskClass {
	switch {
	case risk < 0.2:
		return schemas.RiskMinimal
	case risk < 0.5:
		return schemas.RiskLimited
	case risk < 0.8:
		return schemas.RiskHigh
	}
	return schemas.RiskUnacceptable
}

// dataOrigin is the payload's data_origin, else the glyph's data_origin or
// provenance tag, else "unspecified".
func dataOrigin(r *Record) string {
	if s, ok := stringValue(r, "data_origin"); ok && s != "" {
		return s
	}
	for _, k := range []string{"data_origin", "provenance"} {
		if s := r.Msg.Glyph.Tags[k]; s != "" {
			return s
		}
	}
	return "unspecified"
}

func stringValue(r *Record, key string) (string, bool) {
	v, ok := recordValue(r, key)
	s, isString := v.(string)
	return s, ok && isString
}

func outcomeIndex(o Outcome) int {
	for i, x := range outcomes {
		if x == o {
			return i
		}
	}
	return 0
}

// GuardianStats are the guardian's figures for the runtime's metrics.
type GuardianStats struct {
	// Decisions counts this instance's decisions by outcome since it was
	// made (lukhas_guardian_decisions_total{outcome}).
	Decisions map[Outcome]uint64
	// Pending is how many of the partition's actions wait for approval.
	Pending int
}

// Stats returns the decision counts and the number of waiting actions. It
// takes no lock: the runtime reads it on the partition's goroutine, between
// frames.
func (g *Guardian) Stats() GuardianStats {
	s := GuardianStats{Decisions: make(map[Outcome]uint64, len(outcomes)), Pending: len(g.st.pending)}
	for i, o := range outcomes {
		s.Decisions[o] = g.counts[i].Load()
	}
	return s
}

// Pending returns the partition's actions waiting for approval, oldest
// first (for `matriz actions` and for tests).
func (g *Guardian) Pending() []Action {
	out := make([]Action, len(g.st.pending))
	for i, pa := range g.st.pending {
		out[i] = pa.Action
	}
	return out
}
