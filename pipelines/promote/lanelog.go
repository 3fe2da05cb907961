package promote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// laneLog is what the gates read from the source lane's topics in the
// window: per partition its results' frames and drift samples in log
// order, the guardian's traces, and the actions and approvals.
type laneLog struct {
	lane    schemas.Lane
	parts   map[int32]*partLog
	results int
	// Interlocks.
	previews  map[string]bool // action id → its preview required an approval
	executed  map[string]bool // action id → executed (value: approved as recorded)
	approvals map[string]bool // action ids an approval names
	consent   []string        // msg ids a guardian let through without consent
	decided   int             // guardian traces read
	undecoded int
	firstErr  string
}

// partLog is one partition's results in offset order.
type partLog struct {
	seen   map[string]bool // result ids, to count a redelivered copy once
	frames []frameRef
	drifts []float64
}

// frameRef is a frame a result was decided in.
type frameRef struct {
	seq int64
	fps int64
}

// readLaneLog reads the source lane's results, traces, actions and
// approvals written at or after cfg.Since.
func readLaneLog(ctx context.Context, cfg Config) (*laneLog, error) {
	lane := string(cfg.From)
	kinds := map[string]topics.Kind{}
	var names []string
	for _, k := range []topics.Kind{topics.KindResults, topics.KindTraces, topics.KindActions, topics.KindApprovals} {
		n := topics.Name(lane, k)
		kinds[n] = k
		names = append(names, n)
	}
	codec, err := serde.Open(ctx, cfg.RegistryURL, nil)
	if err != nil {
		return nil, err
	}
	lookup := codec.Lookup()
	lg := &laneLog{lane: cfg.From, parts: map[int32]*partLog{}, previews: map[string]bool{}, executed: map[string]bool{}, approvals: map[string]bool{}}
	var mu sync.Mutex
	missing, err := replay.ScanTopics(ctx, cfg.Brokers, names, func(m topics.Message) {
		if !cfg.Since.IsZero() && m.Time.Before(cfg.Since) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if err := lg.add(ctx, lookup, kinds[m.Topic], m); err != nil {
			lg.undecoded++
			if lg.firstErr == "" {
				lg.firstErr = fmt.Sprintf("%s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("lane %s has no %s: run `matriz deploy --lanes %s` first", lane, strings.Join(missing, ", "), lane)
	}
	for _, p := range lg.parts {
		// Offset order within a partition is what the scan gives; the
		// frames are sorted for the tick count, which needs time order.
		slices.SortFunc(p.frames, func(a, b frameRef) int { return cmpFrame(a, b) })
	}
	return lg, nil
}

func (lg *laneLog) add(ctx context.Context, lookup *schemas.SchemaLookup, kind topics.Kind, m topics.Message) error {
	switch kind {
	case topics.KindResults:
		var r schemas.MatrizResult
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &r); err != nil {
			return err
		}
		lg.addResult(m.Partition, &r)
	case topics.KindTraces:
		var t schemas.Trace
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &t); err != nil {
			return err
		}
		lg.addTrace(&t)
	case topics.KindActions, topics.KindApprovals:
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &ev); err != nil {
			return err
		}
		lg.addAction(kind, &ev)
	}
	return nil
}

func (lg *laneLog) part(p int32) *partLog {
	pl := lg.parts[p]
	if pl == nil {
		pl = &partLog{seen: map[string]bool{}}
		lg.parts[p] = pl
	}
	return pl
}

func (lg *laneLog) addResult(partition int32, r *schemas.MatrizResult) {
	pl := lg.part(partition)
	if pl.seen[r.ID] {
		return
	}
	pl.seen[r.ID] = true
	lg.results++
	for _, c := range r.Trace {
		switch c.Stage {
		case runtime.StageDecode:
			seq, okS := c.Data.Int("frame_seq")
			fps, okF := c.Data.Int("frame_fps")
			if okS && okF && fps > 0 {
				pl.frames = append(pl.frames, frameRef{seq: seq, fps: fps})
			}
		case stages.StageDrift:
			if d, ok := c.Data.Float("drift"); ok {
				pl.drifts = append(pl.drifts, d)
			}
		}
	}
}

// consentGiven are the values of a guardian trace's consent input that
// mean yes: GLYPH v2's boolean, or the v1 tag's words.
var consentGiven = map[string]bool{"granted": true, "true": true, "yes": true}

func (lg *laneLog) addTrace(t *schemas.Trace) {
	if t.Stage != stages.StageGuardian {
		return
	}
	lg.decided++
	outcome, _ := t.Outputs.String("outcome")
	switch stages.Outcome(outcome) {
	case stages.OutcomeAllow, stages.OutcomePending, stages.OutcomeExecuted, stages.OutcomeUncertain:
	default:
		return
	}
	ok := false
	switch v := t.Inputs["consent"].(type) {
	case bool:
		ok = v
	case string:
		ok = consentGiven[strings.ToLower(strings.TrimSpace(v))]
	}
	if !ok {
		lg.consent = append(lg.consent, t.MsgID)
	}
}

func (lg *laneLog) addAction(kind topics.Kind, ev *schemas.Event) {
	id, _ := ev.Payload.String(stages.ApprovalActionKey)
	if id == "" {
		return
	}
	if kind == topics.KindApprovals {
		lg.approvals[id] = true
		return
	}
	status, _ := ev.Payload.String("status")
	switch status {
	case stages.ActionPreview:
		req, _ := ev.Payload["approval_required"].(bool)
		lg.previews[id] = lg.previews[id] || req
	case stages.ActionExecuted:
		approved, _ := ev.Payload["approved"].(bool)
		lg.executed[id] = approved
	}
}

func cmpFrame(a, b frameRef) int {
	as, bs := frameStart(a), frameStart(b)
	switch {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

// frameStart is a frame's start in ns since the epoch: frame n at fps f
// starts at ⌊n·1s/f⌋ (the tick's grid).
func frameStart(f frameRef) int64 { return f.seq * 1_000_000_000 / f.fps }
