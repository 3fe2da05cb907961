package replay

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// This file turns one side's topic of one kind into its records by output
// id (the last copy wins), and decodes a record for comparison.

// diffRecord is the winning copy of one output id on one side.
type diffRecord struct {
	id        string
	partition int32
	offset    int64
	value     []byte
	headers   []topics.Header
	action    *schemas.Event // actions are decoded as they are read
}

// diffSet is one side's records of one kind, by output id.
type diffSet struct {
	byID  map[string]*diffRecord
	stats SideStats
}

// differ holds what a Diff shares across kinds.
type differ struct {
	lookup      *schemas.SchemaLookup
	registryURL string
	scope       []runtime.ReplayRange
}

// inScope reports whether a left record only there belongs to the scope.
func (d *differ) inScope(r *diffRecord) bool {
	if d.scope == nil {
		return true
	}
	var p, off int64
	var okP, okO bool
	for _, h := range r.headers {
		switch h.Key {
		case runtime.HeaderSrcPartition:
			p, okP = parseInt(h.Value)
		case runtime.HeaderSrcOffset:
			off, okO = parseInt(h.Value)
		}
	}
	if !okP || !okO {
		return false
	}
	for _, rg := range d.scope {
		if int64(rg.Partition) != p {
			continue
		}
		if off >= rg.To {
			return false
		}
		if rg.Checkpoint != nil {
			return !rg.Checkpoint.Done(off)
		}
		return off >= rg.From
	}
	return false
}

func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// read scans topic and keeps the last copy of each output id.
func (d *differ) read(ctx context.Context, brokers []string, topic string, k topics.Kind, ranges []diffRange, sem chan struct{}) (*diffSet, error) {
	var mu sync.Mutex
	// Each record is cut down to what the diff compares as it arrives:
	// the scan of a big topic holds its values, not every record's
	// headers (a 100,000-input soak's outputs carry a dozen each).
	parts := map[int32][]diffRecord{}
	laneEvents := 0
	err := diffScan(ctx, brokers, topic, ranges, sem, func(m topics.Message) {
		if len(m.Header(runtime.HeaderLaneEvent)) > 0 {
			mu.Lock()
			laneEvents++ // about the lane, not a frame: a replay makes none
			mu.Unlock()
			return
		}
		rec := diffRecord{id: outputID(k, m), partition: m.Partition, offset: m.Offset, value: m.Value}
		if k == topics.KindDLQ {
			rec.headers = m.Headers
		}
		mu.Lock()
		parts[m.Partition] = append(parts[m.Partition], rec)
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	set := &diffSet{byID: map[string]*diffRecord{}}
	set.stats.Ignored = laneEvents
	fail := func(format string, args ...any) {
		if set.stats.FirstError == "" {
			set.stats.FirstError = fmt.Sprintf(format, args...)
		}
	}
	// Partitions in order, each in offset order: the last copy of an id
	// wins. All copies of an id share its key and so its partition.
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		recs := parts[p]
		for i := range recs {
			rec := &recs[i]
			set.stats.Records++
			id := rec.id
			if id == "" {
				set.stats.MissingID++
				fail("%s partition %d offset %d has no %s header", topic, rec.partition, rec.offset, runtime.HeaderOutputID)
				continue
			}
			if k == topics.KindActions {
				var ev schemas.Event
				if _, err := schemas.DecodeWire(ctx, d.lookup, rec.value, &ev); err != nil {
					if registryFailed(err) {
						return nil, d.registryError(err)
					}
					set.stats.Undecodable++
					fail("%s partition %d offset %d: %v", topic, rec.partition, rec.offset, err)
					continue
				}
				if bookkeeping(&ev) {
					set.stats.Ignored++
					continue
				}
				rec.action = &ev
			}
			if _, ok := set.byID[id]; ok {
				set.stats.Superseded++
			}
			set.byID[id] = rec
		}
	}
	return set, nil
}

// outputID is a record's id across sides: the output id the runtime
// stamps; for a DLQ record without one, its source partition and offset,
// which a replay of the same input shares.
func outputID(k topics.Kind, m topics.Message) string {
	if id := m.Header(runtime.HeaderOutputID); len(id) > 0 {
		return string(id)
	}
	if k != topics.KindDLQ {
		return ""
	}
	p, o := m.Header(runtime.HeaderSrcPartition), m.Header(runtime.HeaderSrcOffset)
	if len(p) == 0 || len(o) == 0 {
		return ""
	}
	return "src " + string(p) + "@" + string(o)
}

// Action statuses that need normalising. A replay never executes an
// external action: where live wrote status "executed", the replay writes
// the same id with "would_execute" — the same decision, so the two compare
// equal. "executing" (written and acknowledged before the external call,
// so a new owner never calls twice) and "uncertain" (a crash left it
// unknown whether the call happened) are delivery bookkeeping around the
// call, not decisions: a replay writes neither, so both sides drop them and
// count them as ignored.
const (
	actionExecuted     = "executed"
	actionWouldExecute = "would_execute"
	actionExecuting    = "executing"
	actionUncertain    = "uncertain"
)

// bookkeeping reports whether an action record is delivery bookkeeping,
// and otherwise normalises would_execute to executed.
func bookkeeping(ev *schemas.Event) bool {
	switch s, _ := ev.Payload.String("status"); s {
	case actionExecuting, actionUncertain:
		return true
	case actionWouldExecute:
		ev.Payload["status"] = actionExecuted
	}
	return false
}

// decoded is one record decoded for comparison, with its stage.
type decoded struct {
	value   any
	stage   string
	outcome string // results: the guardian crumb's outcome
}

// dlqRecord is what a DLQ record is compared on: the original input and
// why it was refused.
type dlqRecord struct {
	Value  string `avro:"value"`
	Reason string `avro:"reason"`
	Stage  string `avro:"stage"`
	Detail string `avro:"detail"`
}

func (d *differ) decode(ctx context.Context, k topics.Kind, r *diffRecord) (decoded, error) {
	switch k {
	case topics.KindResults:
		var v schemas.MatrizResult
		if _, err := schemas.DecodeWire(ctx, d.lookup, r.value, &v); err != nil {
			return decoded{}, err
		}
		return decoded{value: &v, stage: v.Node, outcome: guardianOutcome(&v)}, nil
	case topics.KindEvents:
		var v schemas.Event
		if _, err := schemas.DecodeWire(ctx, d.lookup, r.value, &v); err != nil {
			return decoded{}, err
		}
		return decoded{value: &v, stage: v.Stage}, nil
	case topics.KindTraces:
		var v schemas.Trace
		if _, err := schemas.DecodeWire(ctx, d.lookup, r.value, &v); err != nil {
			return decoded{}, err
		}
		return decoded{value: &v, stage: v.Stage}, nil
	case topics.KindActions:
		return decoded{value: r.action, stage: r.action.Stage}, nil
	default: // DLQ
		h := func(key string) string { return string(topics.Message{Headers: r.headers}.Header(key)) }
		v := dlqRecord{Value: string(r.value), Reason: h(runtime.HeaderDLQReason), Stage: h(runtime.HeaderDLQStage), Detail: h(runtime.HeaderDLQDetail)}
		return decoded{value: &v, stage: v.Stage}, nil
	}
}

// guardianOutcome is the outcome on a result's last guardian crumb.
func guardianOutcome(r *schemas.MatrizResult) string {
	for i := len(r.Trace) - 1; i >= 0; i-- {
		if r.Trace[i].Stage == stages.StageGuardian {
			s, _ := r.Trace[i].Data.String("outcome")
			return s
		}
	}
	return ""
}
