package rehearsal

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// source is one record of a lane's messages topic.
type source struct {
	partition int32
	offset    int64
}

func (s source) String() string { return fmt.Sprintf("%d@%d", s.partition, s.offset) }

// ledger is what a lane's topics say, read from the outside: where every
// input ended, the guardian's decisions and each action's records.
type ledger struct {
	lane       string
	inputs     int64
	results    int // inputs answered by a result (late ones included)
	dlq        int // inputs dead-lettered
	dropped    int // inputs a decimation event lists
	missing    []source
	dlqReasons map[string]int
	decisions  map[string]int // guardian decisions by outcome
	actions    map[string]*actionRecords
	approvals  map[string]string // action id → approver
}

// actionRecords counts one action's records on the actions topic by status.
type actionRecords struct {
	priority string
	dryRun   bool
	status   map[string]int
}

// called is the number of actions with an executing or executed record:
// the runtime writes executing right before it calls out.
func (l *ledger) called() int {
	n := 0
	for _, a := range l.actions {
		if a.status[stages.ActionExecuted]+a.status[stages.ActionExecuting] > 0 {
			n++
		}
	}
	return n
}

// executions is the number of actions with an executed record.
func (l *ledger) executions() int {
	n := 0
	for _, a := range l.actions {
		if a.status[stages.ActionExecuted] > 0 {
			n++
		}
	}
	return n
}

// twice names every action executed, or called, more than once.
func (l *ledger) twice() []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(l.actions)) {
		a := l.actions[id]
		if a.status[stages.ActionExecuted] > 1 || a.status[stages.ActionExecuting] > 1 {
			out = append(out, fmt.Sprintf("%s (executing %d, executed %d)", id, a.status[stages.ActionExecuting], a.status[stages.ActionExecuted]))
		}
	}
	return out
}

// readLedger reads lane's topics to their ends.
func readLedger(ctx context.Context, r reader, codec *serde.Serde, lane string) (*ledger, error) {
	l := &ledger{lane: lane, dlqReasons: map[string]int{}, decisions: map[string]int{}, actions: map[string]*actionRecords{}, approvals: map[string]string{}}
	read := func(kind topics.Kind) ([]topics.Message, error) {
		return r.readAll(ctx, topics.Name(lane, kind), 20*time.Second)
	}
	ends, err := r.ends(ctx, topics.Name(lane, topics.KindMessages))
	if err != nil {
		return nil, err
	}
	fates := map[source]string{}
	src := func(m topics.Message) (source, error) {
		p, err1 := strconv.ParseInt(string(m.Header(runtime.HeaderSrcPartition)), 10, 32)
		o, err2 := strconv.ParseInt(string(m.Header(runtime.HeaderSrcOffset)), 10, 64)
		if err1 != nil || err2 != nil {
			return source{}, fmt.Errorf("%s record %d@%d names no source offset", m.Topic, m.Partition, m.Offset)
		}
		return source{int32(p), o}, nil
	}
	results, err := read(topics.KindResults)
	if err != nil {
		return nil, err
	}
	for _, m := range results {
		s, err := src(m)
		if err != nil {
			return nil, err
		}
		if fates[s] == "" {
			fates[s] = "result"
			l.results++
		}
	}
	dlq, err := read(topics.KindDLQ)
	if err != nil {
		return nil, err
	}
	for _, m := range dlq {
		s, err := src(m)
		if err != nil {
			return nil, err
		}
		switch fates[s] {
		case "":
			fates[s] = "dlq"
			l.dlq++
			l.dlqReasons[string(m.Header(runtime.HeaderDLQReason))]++
		case "result":
			return nil, fmt.Errorf("lane %s: input %s has a result and a DLQ record", lane, s)
		}
	}
	events, err := read(topics.KindEvents)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, m := range events {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, codec.Lookup(), m.Value, &ev); err != nil {
			return nil, fmt.Errorf("%s record %d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		id := string(m.Header(runtime.HeaderOutputID))
		if id == "" {
			id = ev.ID
		}
		if seen[id] {
			continue // a copy written again after a restart
		}
		seen[id] = true
		switch ev.Kind {
		case schemas.EventGuardianDecision:
			outcome, _ := ev.Payload.String("outcome")
			l.decisions[outcome]++
		case schemas.EventDecimation:
			dec, err := operators.ParseDecimation(ev)
			if err != nil {
				return nil, err
			}
			for _, off := range dec.Offsets {
				if s := (source{dec.Partition, off}); fates[s] == "" {
					fates[s] = "dropped"
					l.dropped++
				}
			}
		}
	}
	actions, err := read(topics.KindActions)
	if err != nil {
		return nil, err
	}
	for _, m := range actions {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, codec.Lookup(), m.Value, &ev); err != nil || ev.Kind != schemas.EventAction {
			continue
		}
		id, _ := ev.Payload.String("action_id")
		a := l.actions[id]
		if a == nil {
			a = &actionRecords{status: map[string]int{}}
			l.actions[id] = a
		}
		status, _ := ev.Payload.String("status")
		a.status[status]++
		if p, ok := ev.Payload.String("priority"); ok && p != "" {
			a.priority = p
		}
		if d, ok := ev.Payload["dry_run"].(bool); ok && d {
			a.dryRun = true
		}
	}
	approvals, err := read(topics.KindApprovals)
	if err != nil {
		return nil, err
	}
	for _, m := range approvals {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, codec.Lookup(), m.Value, &ev); err != nil || ev.Kind != schemas.EventApproval {
			continue
		}
		id, _ := ev.Payload.String(stages.ApprovalActionKey)
		by, _ := ev.Payload.String("approver")
		l.approvals[id] = by
	}
	for p, end := range ends {
		l.inputs += end
		for off := range end {
			if s := (source{int32(p), off}); fates[s] == "" {
				l.missing = append(l.missing, s)
			}
		}
	}
	return l, nil
}

// claim is the group generation and member a runtime record was written
// under (runtime.HeaderGeneration, runtime.HeaderMember).
type claim struct {
	member     string
	generation string
}

// outputKinds are the topics a lane's workers write under their claims.
var outputKinds = []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions, topics.KindDLQ, topics.KindState, topics.KindCheckpoints}

// outputEnds returns the end offsets of every output topic of lane.
func outputEnds(ctx context.Context, r reader, lane string) (map[string]map[int]int64, error) {
	out := map[string]map[int]int64{}
	for _, k := range outputKinds {
		ends, err := r.ends(ctx, topics.Name(lane, k))
		if err != nil {
			return nil, err
		}
		out[topics.Name(lane, k)] = ends
	}
	return out, nil
}

// writtenAfter reads the records of lane's output topics past the ends in
// since that carry member's claim. The Sink stamps a fenced record with the
// time its fence admitted it, and asks the fence again before every
// attempt, so a record stamped after lost is one its worker wrote without
// its partitions: those are returned as zombie writes. A record stamped
// before lost that lands past since is a request that was on the wire
// when the worker was cut off and arrived later (late); it was written
// under a claim that held; lastLate is the latest such admission. after
// counts every record past since.
func writtenAfter(ctx context.Context, r reader, lane string, since map[string]map[int]int64, member string, lost time.Time) (zombie []string, late int, lastLate time.Time, after int, err error) {
	for _, k := range outputKinds {
		topic := topics.Name(lane, k)
		recs, err := r.readAll(ctx, topic, 20*time.Second)
		if err != nil {
			return nil, 0, time.Time{}, 0, err
		}
		for _, m := range recs {
			if m.Offset < since[topic][int(m.Partition)] {
				continue
			}
			after++
			if string(m.Header(runtime.HeaderMember)) != member {
				continue
			}
			if !m.Time.After(lost) {
				late++
				if m.Time.After(lastLate) {
					lastLate = m.Time
				}
				continue
			}
			zombie = append(zombie, fmt.Sprintf("%s %d@%d (generation %s, admitted %s)", topic, m.Partition, m.Offset,
				m.Header(runtime.HeaderGeneration), m.Time.UTC().Format("15:04:05.000")))
		}
	}
	return zombie, late, lastLate, after, nil
}
