package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// webhookCounter is an external system that counts each action's calls.
type webhookCounter struct {
	mu    sync.Mutex
	calls map[string]int
	bad   int // calls whose Idempotency-Key is not their action id
	srv   *httptest.Server
}

func newWebhookCounter(t *testing.T) *webhookCounter {
	w := &webhookCounter{calls: map[string]int{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var c ops.WebhookCall
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.calls[c.ActionID]++
		if r.Header.Get("Idempotency-Key") != c.ActionID {
			w.bad++
		}
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookCounter) badKeys() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bad
}

func (w *webhookCounter) snapshot() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.calls))
	for k, v := range w.calls {
		out[k] = v
	}
	return out
}

// e2eLane is one lane's live history for the replay test.
type e2eLane struct {
	*laneEnv
	t        *testing.T
	pipeline string
	hook     *webhookCounter
	base     time.Time
	at       time.Duration
}

func newE2ELane(t *testing.T, lane schemas.Lane) *e2eLane {
	t.Helper()
	env := pipetest.Start(t, lane)
	// A one-frame decimation ring, so the tick outruns the chain under a
	// backlog and drop-oldest has to decide.
	spec, err := os.ReadFile("../../pipelines/spec/matriz.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(spec), "k: 8}", "k: 1}")), 0o644); err != nil {
		t.Fatal(err)
	}
	return &e2eLane{
		laneEnv:  &laneEnv{Env: env, brokers: env.Brokers[0], regURL: env.RegistryURL, lane: lane, gen: devstack.NewSynthetic(lane, 23, 64)},
		t:        t,
		pipeline: path,
		hook:     newWebhookCounter(t),
		base:     time.Now().Add(-time.Hour).Truncate(time.Second),
	}
}

// produce writes n messages 400 µs of event time apart after a gap: every
// 37th pair swapped (out of order within the grace), every 101st 300 ms
// early (late), every 211th corrupt, every 97th asking for a P0 action.
func (l *e2eLane) produce(gap time.Duration, n int) {
	t := l.t
	t.Helper()
	l.at += gap
	msgs := make([]schemas.MatrizMessage, n)
	for i := range msgs {
		ts := l.base.Add(l.at + time.Duration(i)*400*time.Microsecond)
		if i%101 == 50 {
			ts = ts.Add(-300 * time.Millisecond)
		}
		msgs[i] = l.gen.Next(ts)
		if i%97 == 13 {
			msgs[i].Payload["action_kind"] = "notify"
			msgs[i].Payload["priority"] = "P0"
		}
	}
	for i := 36; i+1 < n; i += 37 {
		msgs[i], msgs[i+1] = msgs[i+1], msgs[i]
	}
	l.at += time.Duration(n) * 400 * time.Microsecond
	recs := l.Encode(t, l.lane, msgs)
	for i := 210; i < len(recs); i += 211 {
		recs[i].Value = append([]byte{0, 0, 0, 0, 9}, recs[i].Value[5:]...)
	}
	l.Produce(t, l.lane, nil, recs)
	l.sent = append(l.sent, msgs...)
}

func (l *e2eLane) start(group string, extra ...string) *runProc {
	return l.startRunWith(l.t, group, append([]string{"--pipeline", l.pipeline, "--actions-webhook", l.hook.srv.URL, "--checkpoint-every", "500ms"}, extra...),
		[]string{"EXT_ACTIONS_ENABLED=true"})
}

func (l *e2eLane) control(name string, on bool) {
	l.Write(l.t, topics.ControlTopic, []topics.Message{{Key: []byte(string(l.lane) + "/" + name), Value: fmt.Append(nil, on)}})
}

// waitAllCommitted waits until group committed every record produced.
func (l *e2eLane) waitAllCommitted(group string) {
	l.t.Helper()
	l.WaitCommitted(l.t, topics.Name(string(l.lane), topics.KindMessages), group, 3*time.Minute)
}

// approveWaiting approves every waiting action and returns their ids.
func (l *e2eLane) approveWaiting() []string {
	t := l.t
	acfg := ops.ActionsConfig{Lane: l.lane, Brokers: l.Brokers, RegistryURL: l.RegistryURL}
	acts, err := ops.ListActions(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range acts {
		if a.Waiting() {
			if _, err := ops.Approve(context.Background(), ops.ApproveConfig{ActionsConfig: acfg, ActionID: a.ID, Approver: "e2e"}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// actionStatuses reads the actions topic: each action's statuses in order.
func (l *e2eLane) actionStatuses() map[string][]string {
	t := l.t
	out := map[string][]string{}
	for _, m := range l.ReadAll(t, topics.Name(string(l.lane), topics.KindActions)) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(context.Background(), l.Serde.Lookup(), m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		id, _ := ev.Payload.String(stages.ApprovalActionKey)
		st, _ := ev.Payload.String("status")
		out[id] = append(out[id], st)
	}
	return out
}

// cli runs the command in process and fails the test on an exit code
// other than want.
func cli(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(args...)
	if code != want {
		t.Fatalf("matriz %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

// TestReplayAfterKillNineReproducesLive: a live history with out-of-order,
// late and corrupt records, idle gaps, decimation under load (experimental)
// or backpressure (prod), a flag change and a kill-switch change through
// matriz.control, approved P0 actions, a kill -9 of `matriz run` and a
// restart; then `matriz replay --from start` and `matriz replay diff` find
// no difference, and neither does a replay from a mid-run checkpoint. On
// prod, every approved action reached the external system exactly once
// although the kill -9 made the new process redo the frames that executed
// them.
func TestReplayAfterKillNineReproducesLive(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: matriz run processes, kill -9, replay and diff (skipped with -short)")
	}
	for _, lane := range []schemas.Lane{schemas.LaneExperimental, schemas.LaneProd} {
		t.Run(string(lane), func(t *testing.T) {
			l := newE2ELane(t, lane)
			const group = "e2e"
			brokers := []string{"--lane", string(lane), "--brokers", l.brokers, "--registry", l.regURL}

			// Run 1 commits nothing (an hour between commits): the kill -9
			// leaves everything it did to be redone by run 2.
			l.produce(0, 3000)
			a := l.start(group, "--commit-interval", "1h")
			a.waitOut(t, 500, 2*time.Minute)
			var approved []string
			if lane == schemas.LaneProd {
				// Approve the P0 actions the first records left waiting,
				// before the kill switch goes off: an action met while it is
				// off is decided dry and waits for nothing.
				clocktest.WaitFor(t, time.Minute, "P0 actions waiting for approval", func() bool {
					approved = append(approved, l.approveWaiting()...)
					return len(approved) > 0
				})
			}
			l.control(runtime.FlagDispatch, true)    // a flag change mid-run
			l.control(runtime.FlagExtActions, false) // the kill switch, off: approved actions keep waiting
			l.produce(2*time.Second, 2000)           // after an idle gap of two seconds of event time
			l.control(runtime.FlagExtActions, true)  // and on again: approved actions execute
			l.produce(time.Second, 1000)
			if lane == schemas.LaneProd {
				clocktest.WaitFor(t, time.Minute, "approved actions executed", func() bool {
					st := l.actionStatuses()
					for _, id := range approved {
						if !containsString(st[id], stages.ActionExecuted) {
							return false
						}
					}
					return true
				}, func() string {
					st := l.actionStatuses()
					calls := l.hook.snapshot()
					var b strings.Builder
					for _, id := range approved {
						if !containsString(st[id], stages.ActionExecuted) {
							fmt.Fprintf(&b, "%s: statuses %v, calls %d\n", id, st[id], calls[id])
						}
					}
					return b.String() + a.log()[max(0, len(a.log())-3000):]
				})
			} else {
				// Experimental drops the oldest frames of the backlog
				// (a one-frame ring): a dropped input is answered by its
				// decimation event, not by a result.
				a.waitAnswered(t, 2000, 2*time.Minute)
			}
			if code := a.stop(t, syscall.SIGKILL, 10*time.Second); code != -int(syscall.SIGKILL) {
				t.Fatalf("kill -9: exit %d", code)
			}
			calls := l.hook.snapshot()
			for p, off := range l.committed(t, group) {
				if off >= 0 {
					t.Fatalf("run 1 committed %d on partition %d: the restart would not redo its frames", off, p)
				}
			}

			b := l.start(group)
			l.waitAllCommitted(group)
			mid := time.Now().UTC() // records produced from here on are read after a checkpoint
			time.Sleep(5 * time.Millisecond)
			l.produce(2*time.Second, 2000)
			l.waitAllCommitted(group)
			if code := b.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
				t.Fatalf("run 2 exit %d on SIGTERM\n%s", code, b.log())
			}
			if lane == schemas.LaneProd {
				after := l.hook.snapshot()
				for _, id := range approved {
					if calls[id] != 1 || after[id] != 1 {
						t.Fatalf("action %s reached the external system %d times before the kill and %d in all, want once", id, calls[id], after[id])
					}
				}
				t.Logf("%d approved P0 actions each executed once across the kill -9 and redelivery", len(approved))
			}

			l.requireDecisions()
			out := cli(t, 0, append([]string{"replay", "--from", "start", "--into", "r1", "--pipeline", l.pipeline}, brokers...)...)
			t.Logf("%s", strings.TrimSpace(out))
			diff := cli(t, 0, append([]string{"replay", "diff", "r1"}, brokers...)...)
			t.Logf("diff live r1:\n%s", diff)

			// From a mid-run checkpoint: each partition starts at its
			// checkpoint at or before the records produced after mid.
			from := mid.Format(time.RFC3339Nano)
			out = cli(t, 0, append([]string{"replay", "--from", from, "--into", "r2", "--pipeline", l.pipeline}, brokers...)...)
			if !strings.Contains(out, "(checkpoint ") {
				t.Fatalf("no partition started at a checkpoint:\n%s", out)
			}
			t.Logf("%s", strings.TrimSpace(out))
			diff = cli(t, 0, append([]string{"replay", "diff", "r2", "--from", from}, brokers...)...)
			t.Logf("diff live r2 (from %s):\n%s", from, diff)
		})
	}
}

// requireDecisions fails unless the live run recorded every kind of
// decision the scenario is built to provoke.
func (l *e2eLane) requireDecisions() {
	t := l.t
	t.Helper()
	kinds := map[schemas.EventKind]int{}
	_, err := replay.ScanEvents(context.Background(), replay.EventQuery{Brokers: l.Brokers, RegistryURL: l.RegistryURL, Lane: l.lane, Kinds: replay.DecisionKinds}, func(r replay.EventRecord) error {
		if r.Header(runtime.HeaderDecision) != nil && r.Event.Payload["initial"] != true {
			kinds[r.Event.Kind]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.EventKind{schemas.EventLate, schemas.EventWatermark, schemas.EventFlagChange}
	if l.lane == schemas.LaneProd {
		want = append(want, schemas.EventApprovalApplied)
	} else {
		want = append(want, schemas.EventDecimation)
	}
	for _, k := range want {
		if kinds[k] == 0 {
			t.Fatalf("the live run recorded no %s decision (recorded: %v): the scenario does not exercise it", k, kinds)
		}
	}
	t.Logf("decisions the live runs recorded: %v", kinds)
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
