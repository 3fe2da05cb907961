package main

// The crash soak: a lane's `matriz run` process SIGKILLed at random points
// (some of them right after it wrote a state record) and restarted, over
// 100,000 messages on prod and on experimental; then, read from outside,
// every input offset ended in exactly one place, the only duplicates are
// of offsets a killed run had not committed, every approved action reached
// the external system once, a clean replay of the same input finds no
// difference in the outputs, and each partition's final state (drift,
// breakthrough, fold-guard, guardian) is the one a clean run over the same
// input reaches. MATRIZ_SOAK_SEED repeats a run's kill timing;
// MATRIZ_SOAK_KILLS=0 runs the same load without kills (a control: it
// passes when the runtime and the replay are deterministic);
// MATRIZ_SOAK_LOGS=dir keeps every run's log there (the accounting names
// the run that wrote each output it complains about).

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

const (
	soakMessages = 100_000 // per lane
	// soakBatches is the fewest batches the messages are produced in, one
	// before each kill: with more kills than that, as many batches as
	// kills, so a process killed right after a state write always has
	// work that makes it write one.
	soakBatches = 10
	// soakPartitions is the messages topic's partitions (matriz deploy's
	// default): each calls at most one action at a time.
	soakPartitions = 6
)

// soakKills is how many times each lane's process is killed: 20, or
// MATRIZ_SOAK_KILLS (0 makes the same run without kills, to tell what the
// kills did from what the load does).
func soakKills(t *testing.T) int {
	if s := os.Getenv("MATRIZ_SOAK_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("MATRIZ_SOAK_KILLS=%q: want a count", s)
		}
		return n
	}
	return 20
}

// soakSeed is the kill timing's seed: MATRIZ_SOAK_SEED, or the clock.
func soakSeed(t *testing.T) uint64 {
	if s := os.Getenv("MATRIZ_SOAK_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MATRIZ_SOAK_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// soakRun is one process's life: the committed offsets it started from
// and, once it was killed, the ends of the output topics (what it wrote
// lies below them).
type soakRun struct {
	started map[int]int64
	ends    map[topics.Kind]map[int]int64
	how     string
}

// soakKinds are the output topics the accounting reads.
var soakKinds = []topics.Kind{topics.KindResults, topics.KindDLQ, topics.KindEvents}

func TestCrashSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: 20 SIGKILLs of matriz run per lane over 100,000 messages (skipped with -short)")
	}
	seed := soakSeed(t)
	t.Logf("seed %d (MATRIZ_SOAK_SEED=%d repeats the kill timing)", seed, seed)
	// One lane after the other: each holds its whole log, a clean replay
	// of it and the diff of the two in this process at its end.
	for i, lane := range []schemas.Lane{schemas.LaneExperimental, schemas.LaneProd} {
		t.Run(string(lane), func(t *testing.T) {
			soakLane(t, lane, rand.New(rand.NewPCG(seed, uint64(i))))
		})
	}
}

func soakLane(t *testing.T, lane schemas.Lane, rng *rand.Rand) {
	start := time.Now()
	l := newE2ELane(t, lane)
	const group = "soak"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the state tail (its Close could wait on a stuck fetch)

	// The process armed here is SIGKILLed as soon as a state record
	// appears: the kill falls between its state write and its commit.
	var armed atomic.Pointer[runProc]
	var killedByTail atomic.Bool
	var armedAt atomic.Int64
	tail, err := topics.StartTail(ctx, l.Brokers, topics.Name(string(lane), topics.KindState), func(m topics.Message) {
		if m.Time.UnixNano() < armedAt.Load() {
			return // written before the arming: the tail was behind
		}
		if p := armed.Swap(nil); p != nil {
			p.cmd.Process.Signal(syscall.SIGKILL)
			killedByTail.Store(true)
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = tail

	approved, declined := map[string]bool{}, map[string]bool{}
	approve := func() {
		if lane != schemas.LaneProd {
			return
		}
		// About half the waiting actions are approved, at most five a
		// round (an approval reads the whole actions topic); the rest wait.
		var waiting []string
		if !l.within(t, "matriz actions", func(ctx context.Context) (err error) { waiting, err = l.waitingActions(ctx); return err }) {
			return
		}
		n := 0
		for _, id := range waiting {
			if approved[id] || declined[id] || n == 5 {
				continue
			}
			if rng.IntN(2) == 1 {
				declined[id] = true
				continue
			}
			if !l.within(t, "matriz approve "+id, func(ctx context.Context) error { return l.approve(ctx, id) }) {
				return
			}
			approved[id] = true
			n++
		}
	}

	var runs []soakRun
	var resumes []string // each run's restores and decision scans, printed on failure
	kills := soakKills(t)
	batches, batch := max(soakBatches, kills), 0
	produce := func() {
		if batch < batches {
			gap := time.Duration(0)
			if batch%3 == 2 {
				gap = 2 * time.Second // an idle gap of event time
			}
			l.produce(gap, soakMessages/batches)
			batch++
		}
	}
	produce()
	p := l.start(group, "--commit-interval", "200ms")
	restarted := time.Now()
	runs = append(runs, soakRun{started: l.committed(t, group)})
	idleKills := 0
	for k := range kills {
		var how string
		if k%2 == 0 {
			// Killed by the tail the moment a state record of this
			// process appears: between its state write and its commit.
			how = "right after a state write"
			killedByTail.Store(false)
			armedAt.Store(time.Now().UnixNano())
			armed.Store(p)
			produce()
			approve()
			deadline := time.Now().Add(2 * time.Minute)
			for checked := time.Now(); !killedByTail.Load(); {
				if batch == batches && time.Since(checked) > 5*time.Second {
					// A process with nothing left to do (everything
					// produced is committed) writes no state record:
					// killed at a random point instead.
					checked = time.Now()
					if l.allCommitted(t, group) && armed.Swap(nil) != nil {
						d := time.Duration(rng.IntN(2000)) * time.Millisecond
						how = fmt.Sprintf("%v after it was found with nothing left to do", d)
						idleKills++
						time.Sleep(d)
						break
					}
				}
				if time.Now().After(deadline) {
					armed.Store(nil)
					p.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, to see where it stands
					select {
					case <-p.exited:
					case <-time.After(10 * time.Second):
					}
					t.Fatalf("kill %d: the process wrote no state record within two minutes (restarted %v ago)\n%s", k+1, time.Since(restarted).Round(time.Millisecond), p.log())
				}
				time.Sleep(5 * time.Millisecond)
			}
		} else {
			// At a random point after the process got its partitions.
			d := time.Duration(rng.IntN(4000)) * time.Millisecond
			how = fmt.Sprintf("%v after it got its partitions", d)
			produce()
			approve()
			clocktest.WaitFor(t, 2*time.Minute, "the restarted process got its partitions", func() bool {
				return strings.Contains(p.log(), "msg=\"partition assigned\"")
			}, func() string { return lastLines(p.log(), 10) })
			for deadline := time.Now().Add(d); time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if code := p.stop(t, syscall.SIGKILL, 10*time.Second); code != -int(syscall.SIGKILL) {
			t.Fatalf("kill %d: exit %d\n%s", k+1, code, p.log())
		}
		runs[len(runs)-1].ends = l.outputEnds(t)
		runs[len(runs)-1].how = how
		saveRunLog(t, lane, len(runs)-1, p)
		resumes = append(resumes, resumeLines(len(runs)-1, p.log())...)
		p = l.start(group, "--commit-interval", "200ms")
		restarted = time.Now()
		runs = append(runs, soakRun{started: l.committed(t, group)})
		t.Logf("kill %d %s (%v in): committed %v", k+1, how, time.Since(start).Round(time.Millisecond), runs[len(runs)-1].started)
	}
	for batch < batches {
		produce()
	}
	approve()
	// A last batch without actions lets every partition apply the approvals.
	l.produce(time.Second, 2000)
	l.waitAllCommitted(group)
	if lane == schemas.LaneProd {
		// Every approved action executes (once: counted below).
		var notRun []string
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			st := l.actionStatuses()
			notRun = notRun[:0]
			for id := range approved {
				if !containsString(st[id], stages.ActionExecuted) {
					notRun = append(notRun, fmt.Sprintf("%s: statuses %v", id, st[id]))
				}
			}
			if len(notRun) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(notRun) > 0 {
			slices.Sort(notRun)
			t.Errorf("%d of %d approved actions not executed a minute after every input was committed, e.g.:\n  %s",
				len(notRun), len(approved), strings.Join(notRun[:min(10, len(notRun))], "\n  "))
		}
	}
	if code := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("the last run exited %d on SIGTERM\n%s", code, p.log())
	}
	saveRunLog(t, lane, len(runs)-1, p)
	resumes = append(resumes, resumeLines(len(runs)-1, p.log())...)
	soaked := time.Since(start)

	acc := l.account(t, runs)
	if lane == schemas.LaneProd {
		// The webhook is idempotent by action id (its Idempotency-Key): an
		// action whose call a kill interrupted before its outcome was
		// recorded is called again by the next owner, and the receiver
		// performs it once. So each approved action is performed exactly
		// once (one distinct key), no other one is called at all, and a
		// repeated call is owed to a kill: at most one per partition and
		// kill, since a partition calls one action at a time.
		calls := l.hook.snapshot()
		repeats := 0
		for id, n := range calls {
			if !approved[id] {
				t.Errorf("action %s reached the external system %d times without an approval", id, n)
			}
			repeats += n - 1
		}
		for id := range approved {
			if calls[id] < 1 {
				t.Errorf("approved action %s never reached the external system", id)
			}
		}
		if bad := l.hook.badKeys(); bad != 0 {
			t.Errorf("%d webhook calls had an Idempotency-Key other than their action id", bad)
		}
		if limit := kills * soakPartitions; repeats > limit {
			t.Errorf("%d repeated webhook calls after %d kills, want at most %d (one per partition and kill)", repeats, kills, limit)
		}
		t.Logf("%d of %d P0 actions approved; each approved one performed exactly once (%d calls repeated after a kill, deduplicated by Idempotency-Key), no other one called", len(approved), len(approved)+len(declined), repeats)
	}

	// A clean replay of the same input gives the same outputs.
	brokers := []string{"--lane", string(lane), "--brokers", l.brokers, "--registry", l.regURL}
	replayStart := time.Now()
	out := cli(t, 0, append([]string{"replay", "--from", "start", "--into", "clean", "--pipeline", l.pipeline}, brokers...)...)
	t.Logf("%s", strings.TrimSpace(out))
	var diverged []divergence
	if code, diff, errOut := runCLI(append([]string{"replay", "diff", "clean"}, brokers...)...); code != 0 {
		diverged = l.locateDivergence(t, "clean", brokers, runs)
		var where strings.Builder
		for _, d := range diverged {
			fmt.Fprintf(&where, "  %s\n", d)
		}
		t.Errorf("a clean replay of the soak's input differs from the soak's outputs: matriz replay diff exit %d\n%s%s%s", code, where.String(), diff, errOut)
	} else {
		t.Logf("%s", strings.TrimSpace(diff))
	}
	replayed := time.Since(replayStart)

	// The state the soak left equals the state a clean run over the same
	// input reaches: a new group, with the lane's state cleared, reads the
	// whole log again, re-deciding what the soak decided from the event log.
	cleanStart := time.Now()
	l.compareCleanRun(t)
	cleaned := time.Since(cleanStart)

	t.Logf("%s: %d records in %d batches, %d SIGKILLs (%d right after a state write, %d of a process with nothing left to do), %d runs; soak %v, replay and diff %v, clean run %v",
		lane, acc.total, batches, kills, (kills+1)/2-idleKills, idleKills, len(runs), soaked.Round(time.Second), replayed.Round(time.Second), cleaned.Round(time.Second))
	t.Logf("by fate: %v; duplicate writes: %v (all of offsets their earlier run had not committed)", acc.counts, acc.copies)
	if t.Failed() {
		// Last, so that a report cut to its head and tail keeps it: what
		// each run said about the partitions whose results differ.
		t.Logf("the %d decisions on the event log (late ones left out), in log order:\n  %s", len(acc.decisions), strings.Join(acc.decisions, "\n  "))
		t.Logf("where each killed run resumed, what it re-decided, and its warnings%s:\n  %s", aboutPartitions(diverged), strings.Join(linesAbout(resumes, diverged), "\n  "))
	}
}

// saveRunLog writes run's log to MATRIZ_SOAK_LOGS/<lane>-run<run>.log
// when that is set: the accounting names the runs that wrote each output.
func saveRunLog(t *testing.T, lane schemas.Lane, run int, p *runProc) {
	saveLog(t, fmt.Sprintf("%s-run%02d.log", lane, run), p)
}

// saveLog writes p's log to MATRIZ_SOAK_LOGS/name when that is set.
func saveLog(t *testing.T, name string, p *runProc) {
	dir := os.Getenv("MATRIZ_SOAK_LOGS")
	if dir == "" {
		return
	}
	// The directory is made if need be: a soak that failed is run again
	// with MATRIZ_SOAK_LOGS set, and a missing directory must not cost the
	// logs that run was for.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(p.log()), 0o644); err != nil {
		t.Error(err)
	}
}

// allCommitted reports whether group committed every record of the
// lane's messages topic.
func (l *e2eLane) allCommitted(t *testing.T, group string) bool {
	t.Helper()
	ends, err := topics.PartitionEnds(context.Background(), l.Brokers, topics.Name(string(l.lane), topics.KindMessages))
	if err != nil {
		t.Fatal(err)
	}
	committed := l.committed(t, group)
	for p, end := range ends {
		if committed[p] < end {
			return false
		}
	}
	return true
}

// within runs an operator's command and fails t unless it returns,
// without an error, within a minute: a command that hangs is reported, and
// the soak goes on without it.
func (l *e2eLane) within(t *testing.T, what string, fn func(context.Context) error) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return false
		}
		return true
	case <-time.After(time.Minute + 10*time.Second):
		t.Errorf("%s did not return within a minute, its context ended or not: a stalled operator command", what)
		return false
	}
}

// waitingActions returns the ids of the actions waiting for a human.
func (l *e2eLane) waitingActions(ctx context.Context) ([]string, error) {
	acts, err := ops.ListActions(ctx, l.actionsConfig())
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, a := range acts {
		if a.Waiting() {
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}

func (l *e2eLane) actionsConfig() ops.ActionsConfig {
	return ops.ActionsConfig{Lane: l.lane, Brokers: l.Brokers, RegistryURL: l.RegistryURL}
}

// approve approves one action as an operator would.
func (l *e2eLane) approve(ctx context.Context, id string) error {
	_, err := ops.Approve(ctx, ops.ApproveConfig{ActionsConfig: l.actionsConfig(), ActionID: id, Approver: "soak"})
	return err
}

// outputEnds returns the end offsets of the accounted output topics.
func (l *e2eLane) outputEnds(t *testing.T) map[topics.Kind]map[int]int64 {
	t.Helper()
	out := map[topics.Kind]map[int]int64{}
	for _, k := range soakKinds {
		ends, err := topics.PartitionEnds(context.Background(), l.Brokers, topics.Name(string(l.lane), k))
		if err != nil {
			t.Fatal(err)
		}
		out[k] = ends
	}
	return out
}

// soakAccount is what the accounting found.
type soakAccount struct {
	total  int64
	counts map[string]int
	copies map[topics.Kind]int
	// decisions are the decision events in log order, one line each with
	// the run that wrote it: printed when the soak fails, since the
	// embedded broker holding them is gone after the test.
	decisions []string
}

// soakSrc is one record of the messages topic.
type soakSrc struct {
	partition int32
	offset    int64
}

func (o soakSrc) String() string { return fmt.Sprintf("%d@%d", o.partition, o.offset) }

// account reads the lane's outputs and checks that every input offset
// ended in exactly one place — a result, a late side-output, a DLQ record
// or a decimation drop — and that every second copy of an output was
// written by a run that started below its source offset: a killed run had
// not committed it.
// soakDecision is the first copy of a decision event and the run that
// wrote it.
type soakDecision struct {
	ev schemas.Event
	at string
}

func (l *e2eLane) account(t *testing.T, runs []soakRun) soakAccount {
	t.Helper()
	ctx, lookup := context.Background(), l.Serde.Lookup()
	ends, err := topics.PartitionEnds(ctx, l.Brokers, topics.Name(string(l.lane), topics.KindMessages))
	if err != nil {
		t.Fatal(err)
	}
	acc := soakAccount{counts: map[string]int{}, copies: map[topics.Kind]int{}}
	for _, e := range ends {
		acc.total += e
	}
	runOf := func(k topics.Kind, m topics.Message) int { return runOfOutput(runs, k, m) }
	var bad []string
	// copyOf checks a second copy of an output: the run that wrote it
	// started below its source, so the source was not committed before.
	copyOf := func(k topics.Kind, m topics.Message, src soakSrc, what string) {
		acc.copies[k]++
		r := runOf(k, m)
		if c, ok := runs[r].started[int(src.partition)]; ok && c > src.offset {
			bad = append(bad, fmt.Sprintf("%s from %s written again by run %d, which started at committed offset %d", what, src, r, c))
		}
	}
	fates := map[soakSrc]string{}
	where := map[soakSrc]string{} // which run wrote the fate, and its frame
	var conflicts []string
	put := func(o soakSrc, fate, at string) {
		if prev, ok := fates[o]; ok {
			conflicts = append(conflicts, fmt.Sprintf("%s is a %s (%s) and also a %s (%s)", o, prev, where[o], fate, at))
			return
		}
		fates[o], where[o] = fate, at
		acc.counts[fate]++
	}
	srcOf := func(m topics.Message) soakSrc {
		return soakSrc{int32(pipetest.HeaderInt(t, m, runtime.HeaderSrcPartition)), pipetest.HeaderInt(t, m, runtime.HeaderSrcOffset)}
	}

	results := map[string]soakSrc{}
	late := map[soakSrc]bool{}
	for _, m := range l.ReadAll(t, topics.Name(string(l.lane), topics.KindResults)) {
		id, src := pipetest.Header(m, runtime.HeaderOutputID), srcOf(m)
		if prev, ok := results[id]; ok {
			if prev != src {
				t.Fatalf("result %s names source %s in one copy and %s in another", id, prev, src)
			}
			copyOf(topics.KindResults, m, src, "result "+id)
			continue
		}
		results[id] = src
		at := fmt.Sprintf("run %d", runOf(topics.KindResults, m))
		if pipetest.Header(m, runtime.HeaderLate) == "true" {
			late[src] = true
			put(src, "late side-output", at)
		} else {
			put(src, "result", at)
		}
	}
	dlq := map[soakSrc]bool{}
	for _, m := range l.ReadAll(t, topics.Name(string(l.lane), topics.KindDLQ)) {
		src := srcOf(m)
		if dlq[src] {
			copyOf(topics.KindDLQ, m, src, "DLQ record")
			continue
		}
		dlq[src] = true
		put(src, "DLQ", fmt.Sprintf("run %d", runOf(topics.KindDLQ, m)))
	}
	events := map[string]bool{}
	decisions := map[string]soakDecision{}
	var changedDecisions []string
	listedBy := map[soakSrc]string{}
	lateDecided := map[soakSrc]string{}
	for _, m := range l.ReadAll(t, topics.Name(string(l.lane), topics.KindEvents)) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &ev); err != nil {
			t.Fatalf("event at %d/%d does not decode: %v", m.Partition, m.Offset, err)
		}
		id := pipetest.Header(m, runtime.HeaderOutputID)
		if pipetest.Header(m, runtime.HeaderDecision) != "" {
			// A decision made again from the log is the same decision:
			// a copy that says otherwise is one a replay may meet first.
			at := fmt.Sprintf("run %d", runOf(topics.KindEvents, m))
			if ev.Kind != schemas.EventLate {
				acc.decisions = append(acc.decisions, fmt.Sprintf("p%s %s %s @%d: %s %v", pipetest.Header(m, runtime.HeaderSrcPartition), at, ev.Kind, m.Offset, id[:8], ev.Payload))
			}
			if first, ok := decisions[id]; !ok {
				decisions[id] = soakDecision{ev, at}
			} else if !reflect.DeepEqual(first.ev, ev) {
				changedDecisions = append(changedDecisions, fmt.Sprintf("%s %s: %s wrote %v, %s wrote %v", ev.Kind, id, first.at, first.ev.Payload, at, ev.Payload))
			}
		}
		if ev.Kind != schemas.EventDecimation && ev.Kind != schemas.EventLate {
			continue
		}
		switch ev.Kind {
		case schemas.EventDecimation:
			dec, err := operators.ParseDecimation(ev)
			if err != nil {
				t.Fatal(err)
			}
			if events[id] {
				if len(dec.Offsets) > 0 {
					copyOf(topics.KindEvents, m, soakSrc{dec.Partition, dec.Offsets[0]}, "decimation "+id)
				}
				continue
			}
			events[id] = true
			for _, off := range dec.Offsets {
				src := soakSrc{dec.Partition, off}
				if other, ok := listedBy[src]; ok {
					conflicts = append(conflicts, fmt.Sprintf("%s dropped by two decimation events, %s and %s", src, other, id))
					continue
				}
				listedBy[src] = id
				put(src, "decimation drop", fmt.Sprintf("run %d, frame %d/%d", runOf(topics.KindEvents, m), dec.FPS, dec.Seq))
			}
		case schemas.EventLate:
			p, ok1 := ev.Payload.Int("partition")
			off, ok2 := ev.Payload.Int("offset")
			if !ok1 || !ok2 {
				t.Fatalf("late event %s without partition and offset: %v", id, ev.Payload)
			}
			src := soakSrc{int32(p), off}
			if events[id] {
				copyOf(topics.KindEvents, m, src, "late decision "+id)
				continue
			}
			events[id] = true
			if other, ok := lateDecided[src]; ok {
				conflicts = append(conflicts, fmt.Sprintf("%s judged late by two events, %s and %s", src, other, id))
			}
			lateDecided[src] = id
		}
	}

	if len(changedDecisions) > 0 {
		t.Errorf("%d decisions written again with other content, e.g.:\n  %s", len(changedDecisions), strings.Join(changedDecisions[:min(10, len(changedDecisions))], "\n  "))
	}
	if len(conflicts) > 0 {
		t.Errorf("%d offsets in two places, e.g.:\n  %s", len(conflicts), strings.Join(conflicts[:min(10, len(conflicts))], "\n  "))
	}
	if len(bad) > 0 {
		t.Errorf("%d outputs written again by a run that started past their source (committed, then redone), e.g.:\n  %s",
			len(bad), strings.Join(bad[:min(10, len(bad))], "\n  "))
	}
	var missing []string
	nMissing := 0
	for p, end := range ends {
		for off := range end {
			if _, ok := fates[soakSrc{int32(p), off}]; !ok {
				nMissing++
				if len(missing) < 10 {
					missing = append(missing, soakSrc{int32(p), off}.String())
				}
			}
		}
	}
	if nMissing > 0 {
		t.Errorf("%d of %d offsets lost (accounted for nowhere), e.g. %v", nMissing, acc.total, missing)
	}
	if int64(len(fates)) != acc.total && nMissing == 0 {
		var outside []string
		for o := range fates {
			if end, ok := ends[int(o.partition)]; !ok || o.offset < 0 || o.offset >= end {
				outside = append(outside, o.String())
			}
		}
		slices.Sort(outside)
		t.Errorf("%d offsets accounted for, %d sent: outputs name offsets the topic does not hold: %v", len(fates), acc.total, outside[:min(10, len(outside))])
	}
	for src := range late {
		if lateDecided[src] == "" {
			t.Errorf("late result from %s has no late decision event", src)
		}
	}
	if acc.total < soakMessages {
		t.Fatalf("%d records on the messages topic, want at least %d", acc.total, soakMessages)
	}
	if t.Failed() {
		t.FailNow()
	}
	return acc
}

// lastCuts returns each partition's latest checkpoint on the lane's state
// topic.
func (l *e2eLane) lastCuts(t *testing.T) map[string]*runtime.Checkpoint {
	t.Helper()
	out := map[string]*runtime.Checkpoint{}
	for _, m := range l.ReadAll(t, topics.Name(string(l.lane), topics.KindState)) {
		if len(m.Value) == 0 {
			delete(out, string(m.Key))
			continue
		}
		cp, err := runtime.DecodeCheckpoint(m.Value)
		if err != nil {
			t.Fatalf("state record %q at %d/%d: %v", m.Key, m.Partition, m.Offset, err)
		}
		out[string(m.Key)] = cp
	}
	return out
}

// compareCleanRun reads the state the soak left, clears it, runs the lane
// once more from the first offset in a new group to the end, and fails
// unless every partition's stage state, approvals and offsets are the
// soak's. Actions the soak executed are not executed again (the webhook
// counts stay at one).
func (l *e2eLane) compareCleanRun(t *testing.T) {
	t.Helper()
	soaked := l.lastCuts(t)
	if len(soaked) == 0 {
		t.Fatal("the soak left no state on the state topic")
	}
	var tombstones []topics.Message
	for key := range soaked {
		tombstones = append(tombstones, topics.Message{Key: []byte(key)})
	}
	l.Write(t, topics.Name(string(l.lane), topics.KindState), tombstones)
	if n := len(l.lastCuts(t)); n != 0 {
		t.Fatalf("%d partitions still have state after the tombstones", n)
	}
	calls := l.hook.snapshot()
	const clean = "clean"
	p := l.start(clean)
	l.waitAllCommitted(clean)
	if code := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("the clean run exited %d on SIGTERM\n%s", code, p.log())
	}
	saveLog(t, string(l.lane)+"-clean.log", p)
	// A clean run that differs says what it met: a lagging approvals
	// tail, say, which once made it wake partitions the soak had not.
	defer func() {
		if t.Failed() {
			t.Logf("the clean run's warnings and errors:\n  %s", strings.Join(warnings(p.log()), "\n  "))
		}
	}()
	cleaned := l.lastCuts(t)
	for key, s := range soaked {
		c := cleaned[key]
		switch {
		case c == nil:
			t.Errorf("partition %s: the clean run left no state", key)
			continue
		case s.Resume != c.Resume || s.Next != c.Next:
			t.Errorf("partition %s: the soak's state is at %d..%d, the clean run's at %d..%d", key, s.Resume, s.Next, c.Resume, c.Next)
		case !slices.Equal(sortedCopy(s.Approved), sortedCopy(c.Approved)):
			t.Errorf("partition %s: the soak holds approvals %v, the clean run %v", key, s.Approved, c.Approved)
		}
		for stage, b := range s.State {
			if string(c.State[stage]) != string(b) {
				t.Errorf("partition %s: stage %s state differs after the soak and after a clean run:\nsoak:  %.300s\nclean: %.300s", key, stage, b, c.State[stage])
			}
		}
		for stage := range c.State {
			if _, ok := s.State[stage]; !ok {
				t.Errorf("partition %s: stage %s has state after the clean run only", key, stage)
			}
		}
	}
	if after := l.hook.snapshot(); !maps.Equal(after, calls) {
		t.Errorf("the clean run called the external system again: %d actions before, %d after", len(calls), len(after))
	}
	if !t.Failed() {
		t.Logf("state after the soak equals a clean run's on %d partitions (stages %v)", len(soaked), stageNames(soaked))
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func stageNames(cuts map[string]*runtime.Checkpoint) []string {
	seen := map[string]bool{}
	for _, c := range cuts {
		for st := range c.State {
			seen[st] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// warnings are the WARN and ERROR lines of a run's log.
func warnings(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if isWarning(line) {
			out = append(out, line)
		}
	}
	return out
}

func isWarning(line string) bool {
	return strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")
}

// resumeLines are the lines of run's log that say where a partition
// resumed from and which recorded decisions it read.
func resumeLines(run int, log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "state restored") || strings.Contains(line, "re-deciding") || strings.Contains(line, "committed the restored cut") ||
			isWarning(line) {
			out = append(out, fmt.Sprintf("run %d: %s", run, line))
		}
	}
	return out
}
