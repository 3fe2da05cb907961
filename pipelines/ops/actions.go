package ops

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// ActionStatus is the latest word on one external action: its last action
// event on matriz.<lane>.actions and whether a human approved it.
type ActionStatus struct {
	ID       string
	Status   string // preview, executed, failed, expired
	Kind     string
	Priority string
	MsgID    string
	GlyphID  string
	TS       time.Time // event time of the last action event
	Approval bool      // an approval record exists
	Required bool      // the preview said a human approval is required
	DryRun   bool      // the preview came from a lane that runs dry: it never executes
	// ParamsHash is the preview's hash of the action's parameters: an
	// approval names it, so it approves exactly what the preview showed.
	ParamsHash string
	// Producer is the principal that produced the message asking for the
	// action, when its producer named one (matriz-producer).
	Producer string
}

// Waiting reports whether the action still waits for a human. A dry-run
// lane's preview never does, whatever an older binary wrote in it: the
// lane never executes it, approved or not.
func (a ActionStatus) Waiting() bool {
	return a.Status == stages.ActionPreview && a.Required && !a.DryRun && !a.Approval
}

// NeverExecutes reports whether the action is a preview that no approval
// can make run: its lane runs dry, or external actions were off.
func (a ActionStatus) NeverExecutes() bool {
	return a.Status == stages.ActionPreview && (a.DryRun || !a.Required)
}

// ActionsConfig says where a lane's actions and approvals live.
type ActionsConfig struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	Clock       clock.Clock
	Timeout     time.Duration // reading the topics up to their end; default 15s
}

// ListActions reads the lane's actions and approvals topics to their end
// and returns every action's latest status, oldest first.
func ListActions(ctx context.Context, cfg ActionsConfig) ([]ActionStatus, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	codec, err := serde.Open(ctx, cfg.RegistryURL, nil)
	if err != nil {
		return nil, err
	}
	lane := string(cfg.Lane)
	var mu sync.Mutex
	byID := map[string]*ActionStatus{}
	// What the lane checks an approval against (stages.CheckApproval):
	// an approval it refuses leaves its action waiting here too.
	previews := map[string]*stages.PreviewFacts{}
	claims := map[string][]stages.ApprovalClaim{}
	get := func(id string) *ActionStatus {
		a := byID[id]
		if a == nil {
			a = &ActionStatus{ID: id}
			byID[id] = a
		}
		return a
	}
	onAction := func(m topics.Message) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, codec.Lookup(), m.Value, &ev); err != nil || ev.Kind != schemas.EventAction {
			return
		}
		id, _ := ev.Payload.String("action_id")
		if id == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		a := get(id)
		status, _ := ev.Payload.String("status")
		// Records of one action share its event time but sit on different
		// partitions (the executing record is keyed by action id), so a
		// later step wins over an earlier one at the same time.
		if ev.TS.Before(a.TS) || (ev.TS.Equal(a.TS) && statusStep(status) < statusStep(a.Status)) {
			return
		}
		a.Status = status
		a.Kind, _ = ev.Payload.String("action_kind")
		a.Priority, _ = ev.Payload.String("priority")
		if req, ok := ev.Payload["approval_required"].(bool); ok {
			a.Required = req
		}
		a.DryRun, _ = ev.Payload["dry_run"].(bool)
		if h, ok := ev.Payload.String(stages.ParamsHashKey); ok {
			a.ParamsHash = h
		}
		a.MsgID, a.GlyphID, a.TS = ev.MsgID, ev.GlyphID, ev.TS
		notePreview(previews, id, status, m, &ev)
	}
	onApproval := func(m topics.Message) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, codec.Lookup(), m.Value, &ev); err != nil || ev.Kind != schemas.EventApproval {
			return
		}
		if id, _ := ev.Payload.String(stages.ApprovalActionKey); id != "" {
			c := stages.ApprovalClaim{ActionID: id, At: m.Time}
			c.Kind, _ = ev.Payload.String(stages.ActionKindKey)
			c.ParamsHash, _ = ev.Payload.String(stages.ParamsHashKey)
			c.Approver, _ = ev.Payload.String(stages.ApproverKey)
			mu.Lock()
			claims[id] = append(claims[id], c)
			mu.Unlock()
		}
	}
	for _, t := range []struct {
		topic string
		fn    func(topics.Message)
	}{{topics.Name(lane, topics.KindActions), onAction}, {topics.Name(lane, topics.KindApprovals), onApproval}} {
		tail, err := topics.StartTail(ctx, cfg.Brokers, t.topic, t.fn, nil)
		if err != nil {
			return nil, err
		}
		timeout := cfg.Clock.NewTicker(cfg.Timeout)
		select {
		case <-tail.CaughtUp():
		case <-timeout.C():
			timeout.Stop()
			tail.Close()
			return nil, fmt.Errorf("reading %s did not reach its end within %v", t.topic, cfg.Timeout)
		case <-ctx.Done():
			timeout.Stop()
			tail.Close()
			return nil, ctx.Err()
		}
		timeout.Stop()
		tail.Close()
	}
	for id, p := range previews {
		if a := byID[id]; a != nil {
			a.Producer = p.Producer
		}
	}
	for id, cs := range claims {
		p := previews[id]
		if p != nil && p.At.IsZero() {
			p = nil // decided, never previewed waiting
		}
		for _, c := range cs {
			if stages.CheckApproval(p, c) == nil {
				get(id).Approval = true
			}
		}
	}
	out := make([]ActionStatus, 0, len(byID))
	for _, a := range byID {
		if a.Status != "" { // approvals of unknown actions are not actions
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b ActionStatus) int {
		if c := a.TS.Compare(b.TS); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ApproveConfig is one human approval.
type ApproveConfig struct {
	ActionsConfig
	ActionID string
	Approver string
	Note     string
}

// Approve writes a human approval of an action waiting on the lane to
// matriz.<lane>.approvals, after checking the action exists and waits. The
// lane's runtime picks it up and executes the action at its next frame. A
// preview that never executes (a dry-run lane's, or one made with external
// actions off) is refused: approving it would promise a run that never
// comes.
func Approve(ctx context.Context, cfg ApproveConfig) (ActionStatus, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	actions, err := ListActions(ctx, cfg.ActionsConfig)
	if err != nil {
		return ActionStatus{}, err
	}
	i := slices.IndexFunc(actions, func(a ActionStatus) bool { return a.ID == cfg.ActionID })
	if i < 0 {
		return ActionStatus{}, fmt.Errorf("no action %s on %s; list them with `matriz actions --lane %s`",
			cfg.ActionID, topics.Name(string(cfg.Lane), topics.KindActions), cfg.Lane)
	}
	a := actions[i]
	if a.Approval {
		return a, fmt.Errorf("action %s is already approved (status %s)", a.ID, a.Status)
	}
	if a.Status != stages.ActionPreview {
		return a, fmt.Errorf("action %s is %s, not waiting for approval", a.ID, a.Status)
	}
	if a.DryRun {
		return a, fmt.Errorf("action %s is a dry-run preview: the %s lane runs dry and never executes it, so there is nothing to approve (approvals apply in prod)", a.ID, cfg.Lane)
	}
	if !a.Required {
		return a, fmt.Errorf("action %s was only previewed (external actions were off in its frame) and never executes, so there is nothing to approve", a.ID)
	}
	if a.Producer != "" && a.Producer == cfg.Approver {
		return a, fmt.Errorf("action %s was asked for by a message %s produced: the lane refuses its approval by the same principal; ask another approver", a.ID, a.Producer)
	}
	topic := topics.Name(string(cfg.Lane), topics.KindApprovals)
	codec, err := serde.Open(ctx, cfg.RegistryURL, []serde.Subject{{Name: serde.ValueSubject(topic), Schema: schemas.NameEvent}})
	if err != nil {
		return a, err
	}
	id, err := codec.ID(serde.ValueSubject(topic))
	if err != nil {
		return a, err
	}
	ev := schemas.Event{
		ID:      uuid.NewSHA1(stages.IDNamespace, []byte(cfg.ActionID+"/approval")).String(),
		TS:      cfg.Clock.Now().UTC().Truncate(time.Microsecond),
		Kind:    schemas.EventApproval,
		Lane:    cfg.Lane,
		GlyphID: a.GlyphID,
		MsgID:   a.MsgID,
		Stage:   "human",
		Payload: schemas.Payload{stages.ApprovalActionKey: cfg.ActionID, stages.ApproverKey: cfg.Approver, "note": cfg.Note,
			stages.ActionKindKey: a.Kind, stages.ParamsHashKey: a.ParamsHash},
	}
	val, err := schemas.AppendWire(nil, id, &ev)
	if err != nil {
		return a, err
	}
	sink, err := topics.NewSink(ctx, cfg.Brokers)
	if err != nil {
		return a, err
	}
	ack := topics.NewAck()
	sink.In() <- topics.Message{Topic: topic, Key: []byte(cfg.ActionID), Value: val, Ack: ack}
	close(sink.In())
	sink.AwaitCompletion()
	if err := ack.Err(); err != nil {
		return a, fmt.Errorf("write approval to %s: %w", topic, err)
	}
	if !ack.Resolved() {
		return a, fmt.Errorf("write approval to %s: not acknowledged", topic)
	}
	a.Approval = true
	return a, nil
}

// statusStep orders an action's statuses: preview, then executing, then
// an outcome.
func statusStep(status string) int {
	switch status {
	case "":
		return -1
	case stages.ActionPreview:
		return 0
	case stages.ActionExecuting:
		return 1
	}
	return 2
}

// notePreview keeps what the lane's action index keeps of an action record
// (the runtime's action index): the first preview waiting for an approval, and
// when the action was decided. The caller holds the lock.
func notePreview(previews map[string]*stages.PreviewFacts, id, status string, m topics.Message, ev *schemas.Event) {
	p := previews[id]
	switch status {
	case stages.ActionPreview:
		facts, ok := stages.PreviewFactsOf(ev, string(m.Header(topics.HeaderProducer)), m.Time)
		if !ok || (p != nil && !p.At.IsZero() && !m.Time.Before(p.At)) {
			return
		}
		if p == nil {
			p = &stages.PreviewFacts{}
			previews[id] = p
		}
		// The earliest preview's facts, with the outcome already read.
		facts.Final, facts.FinalAt = p.Final, p.FinalAt
		*p = facts
	case stages.ActionExecuted, stages.ActionFailed:
		if p == nil {
			p = &stages.PreviewFacts{} // its preview may be read later: another partition
			previews[id] = p
		}
		if p.Final == "" {
			p.Final, p.FinalAt = status, m.Time
		}
	}
}
