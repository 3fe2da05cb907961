package runtime

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// replayScenario is a live run with every kind of decision time alone does
// not determine, on one lane: out-of-order and late records, corrupt ones,
// an idle gap longer than a frame, a one-frame decimation ring under load,
// a flag change through matriz.control, P0 actions approved mid-run, and a
// restart in the middle.
type replayScenario struct {
	t      *testing.T
	env    *pipetest.Env
	lane   schemas.Lane
	spec   *spec.Spec
	gen    *devstack.Synthetic
	group  string
	getenv func(string) string
	base   time.Time
	sent   int
	p0     []string // msg ids asking for a P0 action
}

func newReplayScenario(t *testing.T, lane schemas.Lane) *replayScenario {
	t.Helper()
	s, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	s.Lanes[lane].Decimate.K = 1 // a frame of backlog: the tick outruns the chain
	env := map[string]string{FlagExtActions: "true"}
	return &replayScenario{t: t, env: pipetest.Start(t, lane), lane: lane, spec: s, gen: devstack.NewSynthetic(lane, 5, 64),
		group: "replay-" + string(lane), getenv: envMap(env), base: time.Now().Add(-time.Hour).Truncate(time.Second)}
}

// produce writes n messages from event time at on, 400 µs apart: every
// 37th swapped with its neighbour (out of order within the grace), every
// 101st stamped 300 ms early (late), every 211th corrupt, and every 97th
// asking for a P0 action in prod.
func (s *replayScenario) produce(at time.Duration, n int) time.Duration {
	t := s.t
	t.Helper()
	msgs := make([]schemas.MatrizMessage, n)
	for i := range msgs {
		ts := s.base.Add(at + time.Duration(i)*400*time.Microsecond)
		if i%101 == 50 {
			ts = ts.Add(-300 * time.Millisecond)
		}
		msgs[i] = s.gen.Next(ts)
		if s.lane == schemas.LaneProd && i%97 == 13 {
			msgs[i].Payload["action_kind"] = "notify"
			msgs[i].Payload["priority"] = "P0"
			s.p0 = append(s.p0, msgs[i].MsgID)
		}
	}
	for i := 36; i+1 < n; i += 37 {
		msgs[i], msgs[i+1] = msgs[i+1], msgs[i]
	}
	recs := s.env.Encode(t, s.lane, msgs)
	for i := 210; i < len(recs); i += 211 {
		recs[i].Value = append([]byte{0, 0, 0, 0, 9}, recs[i].Value[5:]...) // an unknown schema id
	}
	s.env.Produce(t, s.lane, nil, recs)
	s.sent += n
	return at + time.Duration(n)*400*time.Microsecond
}

// run starts the lane's live runtime.
func (s *replayScenario) run() func() error {
	return runLane(s.t, s.env, Config{Lane: s.lane, Spec: s.spec, Group: s.group, Getenv: s.getenv, IdleAfter: 50 * time.Millisecond, CommitInterval: 200 * time.Millisecond})
}

// waitCommitted waits until the group committed every record sent.
func (s *replayScenario) waitCommitted() {
	t := s.t
	t.Helper()
	var got int64
	clocktest.WaitFor(t, 2*time.Minute, fmt.Sprintf("group %s committed all %d records", s.group, s.sent), func() bool {
		got = 0
		for _, off := range s.env.Committed(t, topics.Name(string(s.lane), topics.KindMessages), s.group) {
			got += max(off, 0)
		}
		return got >= int64(s.sent)
	}, func() string { return fmt.Sprintf("%d committed", got) })
}

// setFlag writes a lane flag to matriz.control.
func (s *replayScenario) setFlag(name string, on bool) {
	s.env.Write(s.t, topics.ControlTopic, []topics.Message{{Key: []byte(string(s.lane) + "/" + name), Value: fmt.Append(nil, on)}})
}

// approveWaiting approves every action waiting on the lane and returns how many.
func (s *replayScenario) approveWaiting() int {
	t := s.t
	acfg := s.actionsConfig()
	acts, err := ops.ListActions(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range acts {
		if a.Waiting() {
			if _, err := ops.Approve(context.Background(), ops.ApproveConfig{ActionsConfig: acfg, ActionID: a.ID, Approver: "test"}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}

func TestReplayReproducesLiveOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a live run with every kind of decision, then a replay (skipped with -short)")
	}
	for _, lane := range []schemas.Lane{schemas.LaneExperimental, schemas.LaneProd} {
		t.Run(string(lane), func(t *testing.T) {
			s := newReplayScenario(t, lane)
			at := s.produce(0, 3000)
			stop := s.run()
			s.waitCommitted()
			s.setFlag(FlagDispatch, true)
			approved := 0
			if lane == schemas.LaneProd {
				clocktest.WaitFor(t, time.Minute, "P0 actions waiting", func() bool { return s.approveWaiting() > 0 || approved > 0 })
				approved++
			}
			at = s.produce(at+2*time.Second, 2000) // an idle gap of two seconds of event time
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			stop = s.run() // a restart mid-run: it resumes from its cut and re-decides what was decided past it
			at = s.produce(at+time.Second, 2000)
			s.waitCommitted()
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			live := readOutputs(t, s.env, string(lane), "")
			stats, err := Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: s.env.Brokers, RegistryURL: s.env.RegistryURL, Spec: s.spec,
				Getenv: s.getenv, Name: "r1", Ranges: fullRanges(t, s.env, lane)})
			if err != nil {
				t.Fatal(err)
			}
			replayed := readOutputs(t, s.env, string(lane), "r1")
			kinds := decisionKinds(live)
			t.Logf("%s: %d records replayed in %v with %d decisions; live decisions by kind %v", lane, sum(stats.Records), stats.Took.Round(time.Millisecond), stats.Decisions, kinds)
			for _, k := range []schemas.EventKind{schemas.EventLate, schemas.EventWatermark, schemas.EventFlagChange} {
				if kinds[k] == 0 {
					t.Fatalf("the live run recorded no %s decision: the scenario does not exercise it", k)
				}
			}
			if lane == schemas.LaneExperimental && kinds[schemas.EventDecimation] == 0 {
				t.Fatal("no decimation under load on the drop-oldest lane")
			}
			if lane == schemas.LaneProd && kinds[schemas.EventApprovalApplied] == 0 {
				t.Fatal("no approval applied on prod")
			}
			compareOutputs(t, live, replayed)
		})
	}
}

// outputSet is a namespace's outputs by kind and output id, last copy wins.
type outputSet map[topics.Kind]map[string]any

func readOutputs(t *testing.T, env *pipetest.Env, lane, name string) outputSet {
	t.Helper()
	out := outputSet{}
	for _, k := range []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions} {
		topic := topics.Name(lane, k)
		if name != "" {
			topic = topics.ReplayName(lane, name, k)
		}
		byID := map[string]any{}
		for _, m := range env.ReadAll(t, topic) {
			if pipetest.Header(m, HeaderLaneEvent) != "" {
				continue // about the lane, not a frame: a replay makes none
			}
			id := pipetest.Header(m, HeaderOutputID)
			var v any
			var err error
			ctx, lookup := context.Background(), env.Serde.Lookup()
			switch k {
			case topics.KindResults:
				r := &schemas.MatrizResult{}
				_, err = schemas.DecodeWire(ctx, lookup, m.Value, r)
				v = r
			case topics.KindTraces:
				r := &schemas.Trace{}
				_, err = schemas.DecodeWire(ctx, lookup, m.Value, r)
				v = r
			default:
				r := &schemas.Event{}
				_, err = schemas.DecodeWire(ctx, lookup, m.Value, r)
				v = r
			}
			if err != nil {
				t.Fatalf("%s@%d/%d: %v", topic, m.Partition, m.Offset, err)
			}
			if ev, ok := v.(*schemas.Event); ok && k == topics.KindActions {
				switch ev.Payload["status"] {
				case stages.ActionExecuting, stages.ActionUncertain:
					continue // delivery bookkeeping around an external call, not a decision
				case stages.ActionWouldExecute:
					ev.Payload["status"] = stages.ActionExecuted
				}
			}
			byID[id] = v
		}
		out[k] = byID
	}
	return out
}

func compareOutputs(t *testing.T, live, replayed outputSet) {
	t.Helper()
	for kind, l := range live {
		r := replayed[kind]
		var onlyLive, onlyReplay, changed []string
		for id, v := range l {
			rv, ok := r[id]
			switch {
			case !ok:
				onlyLive = append(onlyLive, id)
			case !reflect.DeepEqual(v, rv):
				changed = append(changed, id)
			}
		}
		for id := range r {
			if _, ok := l[id]; !ok {
				onlyReplay = append(onlyReplay, id)
			}
		}
		if len(onlyLive)+len(onlyReplay)+len(changed) > 0 {
			msg := fmt.Sprintf("%s: %d live, %d replayed: %d only live, %d only replayed, %d changed", kind, len(l), len(r), len(onlyLive), len(onlyReplay), len(changed))
			for _, id := range slices.Concat(onlyLive[:min(3, len(onlyLive))], onlyReplay[:min(3, len(onlyReplay))]) {
				if v, ok := l[id]; ok {
					msg += fmt.Sprintf("\n  only live %s: %+v", id, v)
				} else {
					msg += fmt.Sprintf("\n  only replayed %s: %+v", id, r[id])
				}
			}
			for _, id := range changed[:min(2, len(changed))] {
				msg += fmt.Sprintf("\n  changed %s:\n    live   %+v\n    replay %+v", id, l[id], r[id])
			}
			t.Fatal(msg)
		}
		t.Logf("%s: %d outputs identical", kind, len(l))
	}
}

func decisionKinds(o outputSet) map[schemas.EventKind]int {
	k := map[schemas.EventKind]int{}
	for _, v := range o[topics.KindEvents] {
		ev := v.(*schemas.Event)
		if isDecision(ev.Kind) {
			if ev.Kind == schemas.EventFlagChange && ev.Payload["initial"] == true {
				continue
			}
			k[ev.Kind]++
		}
	}
	return k
}

func fullRanges(t *testing.T, env *pipetest.Env, lane schemas.Lane) []ReplayRange {
	t.Helper()
	ends, err := topics.PartitionEnds(context.Background(), env.Brokers, topics.Name(string(lane), topics.KindMessages))
	if err != nil {
		t.Fatal(err)
	}
	var rs []ReplayRange
	for p, end := range ends {
		rs = append(rs, ReplayRange{Partition: int32(p), From: 0, To: end})
	}
	return rs
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
