package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// matrizEventKinds are the event kinds the MATRIZ plan names (§8), which
// the dev scenario's chain must make.
var matrizEventKinds = []schemas.EventKind{
	schemas.EventIntention, schemas.EventAction, schemas.EventMemoryWrite, schemas.EventReward, schemas.EventFlagChange,
}

// devLaneLog is what a test reads back from one lane's results and events.
type devLaneLog struct {
	mu        sync.Mutex
	kinds     map[schemas.EventKind]int
	dispatch  []bool          // DISPATCH_ENABLED of every flag_change, in log order of partition 0
	byRouter  int             // results the router wrote (log-only)
	byNode    int             // results a node wrote (dispatched)
	backToLog map[int32]int64 // partition → offset of a router result after a node result
	sawNode   map[int32]bool
}

func tailDevLane(t *testing.T, info DevInfo, lane schemas.Lane) *devLaneLog {
	t.Helper()
	client, err := serde.NewRegistryClient(info.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := serde.New(client)
	if err != nil {
		t.Fatal(err)
	}
	l := &devLaneLog{kinds: map[schemas.EventKind]int{}, backToLog: map[int32]int64{}, sawNode: map[int32]bool{}}
	events, err := topics.StartTail(t.Context(), info.Brokers, topics.Name(string(lane), topics.KindEvents), func(m topics.Message) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(context.Background(), codec.Lookup(), m.Value, &ev); err != nil {
			t.Errorf("event at %d/%d: %v", m.Partition, m.Offset, err)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.kinds[ev.Kind]++
		if ev.Kind == schemas.EventFlagChange && string(m.Header(runtime.HeaderSrcPartition)) == "0" {
			on, _ := ev.Payload[runtime.FlagDispatch].(bool)
			l.dispatch = append(l.dispatch, on)
		}
	}, func(err error) { t.Logf("events tail: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { events.Close() })
	// Action events (the guardian's previews and outcomes) have a topic of
	// their own, matriz.L.actions; they are the lane's events all the same.
	actions, err := topics.StartTail(t.Context(), info.Brokers, topics.Name(string(lane), topics.KindActions), func(m topics.Message) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(context.Background(), codec.Lookup(), m.Value, &ev); err != nil {
			t.Errorf("action at %d/%d: %v", m.Partition, m.Offset, err)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.kinds[ev.Kind]++
		if status, _ := ev.Payload.String("status"); status != "" {
			l.kinds[schemas.EventKind(string(ev.Kind)+"/"+status)]++
		}
	}, func(err error) { t.Logf("actions tail: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { actions.Close() })
	results, err := topics.StartTail(t.Context(), info.Brokers, topics.Name(string(lane), topics.KindResults), func(m topics.Message) {
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(context.Background(), codec.Lookup(), m.Value, &res); err != nil {
			t.Errorf("result at %d/%d: %v", m.Partition, m.Offset, err)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if res.Node == stages.RouterNode {
			l.byRouter++
			if l.sawNode[m.Partition] {
				l.backToLog[m.Partition] = m.Offset
			}
			return
		}
		l.byNode++
		l.sawNode[m.Partition] = true
	}, func(err error) { t.Logf("results tail: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { results.Close() })
	return l
}

func (l *devLaneLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("event kinds %v; partition 0 flag_change DISPATCH_ENABLED %v; results by router %d, by nodes %d", l.kinds, l.dispatch, l.byRouter, l.byNode)
}

// TestDevStartsLogOnlyAndTheScenarioSwitchesFlagsOn: matriz dev's lanes
// start with dispatch and external actions off, the scenario turns both on
// through matriz.control, the switch is in the log (the "flag changed"
// line and flag_change decisions on the events topic) and never goes back,
// and the lane's events (matriz.L.events and matriz.L.actions) then hold
// every event kind of the MATRIZ plan, an executed action among them.
func TestDevStartsLogOnlyAndTheScenarioSwitchesFlagsOn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	logs := &syncBuffer{}
	run := startDev(t, DevConfig{
		Rate: 200, Lanes: []schemas.Lane{schemas.LaneProd}, FlagsOnAfter: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	defer run.stop(t)
	prod := tailDevLane(t, run.info, schemas.LaneProd)

	switched := func() bool {
		prod.mu.Lock()
		defer prod.mu.Unlock()
		for _, k := range append(matrizEventKinds, "action/executed") {
			if prod.kinds[k] == 0 {
				return false
			}
		}
		return prod.byRouter > 0 && prod.byNode > 0 &&
			slices.Contains(prod.dispatch, false) && slices.Contains(prod.dispatch, true)
	}
	clocktest.WaitFor(t, 90*time.Second, "prod switched from log-only to dispatch, with every MATRIZ event kind on its events", switched, func() string {
		return prod.String() + "\n" + lastLines(logs.String(), 10)
	})
	t.Logf("prod: %v", prod)

	out := run.out.String()
	if !strings.Contains(out, "log-only: DISPATCH_ENABLED and EXT_ACTIONS_ENABLED off; the scenario turns them on through matriz.control in 2s") {
		t.Errorf("dev did not say it starts log-only:\n%s", out)
	}
	for _, flag := range []string{runtime.FlagDispatch, runtime.FlagExtActions} {
		if !strings.Contains(logs.String(), fmt.Sprintf("msg=\"flag changed\" lane=prod flag=%s from=false to=true", flag)) {
			t.Errorf("the log does not show %s switched on:\n%s", flag, lastLines(logs.String(), 20))
		}
	}
	prod.mu.Lock()
	defer prod.mu.Unlock()
	if first := prod.dispatch[0]; first {
		t.Errorf("partition 0's first flag_change has DISPATCH_ENABLED on: dev did not start log-only (%v)", prod.dispatch)
	}
	if i := slices.Index(prod.dispatch, true); slices.Contains(prod.dispatch[i:], false) {
		t.Errorf("DISPATCH_ENABLED went back off after the switch: %v", prod.dispatch)
	}
	if len(prod.backToLog) > 0 {
		t.Errorf("router results after node results (partition → offset): %v", prod.backToLog)
	}
}
