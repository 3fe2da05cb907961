package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// laneEnv is an in-process broker and registry with the prod lane deployed,
// for `matriz run` processes to work against, and the messages sent to it.
type laneEnv struct {
	*pipetest.Env
	brokers string
	regURL  string
	lane    schemas.Lane
	sent    []schemas.MatrizMessage
	gen     *devstack.Synthetic
}

func newLaneEnv(t *testing.T) *laneEnv {
	t.Helper()
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	return &laneEnv{Env: env, brokers: env.Brokers[0], regURL: env.RegistryURL, lane: lane, gen: devstack.NewSynthetic(lane, 11, 256)}
}

// produce writes n more valid messages with event times just behind now.
func (e *laneEnv) produce(t *testing.T, n int) {
	t.Helper()
	base := time.Now().Add(-2 * time.Second)
	msgs := make([]schemas.MatrizMessage, n)
	for i := range msgs {
		msgs[i] = e.gen.Next(base.Add(time.Duration(i) * 20 * time.Microsecond))
	}
	e.sent = append(e.sent, msgs...)
	e.Produce(t, e.lane, msgs, nil)
}

// result is one record of the results topic, reduced to what the tests check.
type result struct {
	msgID, outputID string
	partition       int32
	srcOffset       int64
}

// results reads the lane's results topic to its end.
func (e *laneEnv) results(t *testing.T) []result {
	t.Helper()
	var out []result
	for _, m := range e.ReadAll(t, topics.Name(string(e.lane), topics.KindResults)) {
		out = append(out, result{msgID: pipetest.Header(m, runtime.HeaderMsgID), outputID: pipetest.Header(m, runtime.HeaderOutputID),
			partition: int32(pipetest.HeaderInt(t, m, runtime.HeaderSrcPartition)), srcOffset: pipetest.HeaderInt(t, m, runtime.HeaderSrcOffset)})
	}
	return out
}

// waitAnswered waits until group has committed every sent message — a
// commit happens only after all of a message's outputs are acknowledged,
// so then every message is answered — and returns the results topic,
// checked to hold a result for every sent message.
func (e *laneEnv) waitAnswered(t *testing.T, group string, within time.Duration) []result {
	t.Helper()
	sum := int64(0)
	clocktest.WaitFor(t, within, fmt.Sprintf("group %s committed all %d messages", group, len(e.sent)), func() bool {
		sum = 0
		for _, off := range e.committed(t, group) {
			sum += max(off, 0)
		}
		return sum >= int64(len(e.sent))
	}, func() string { return fmt.Sprintf("%d committed", sum) })
	rs := e.results(t)
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.msgID] = true
	}
	for _, m := range e.sent {
		if !seen[m.MsgID] {
			t.Fatalf("message %s committed but has no result", m.MsgID)
		}
	}
	return rs
}

// committed returns the group's committed offset per partition.
func (e *laneEnv) committed(t *testing.T, group string) map[int]int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(e.brokers), Timeout: 10 * time.Second}
	topic := topics.Name(string(e.lane), topics.KindMessages)
	resp, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2, 3, 4, 5}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// runProc is a `matriz run` process.
type runProc struct {
	cmd    *exec.Cmd
	http   string
	stderr *strings.Builder
	mu     *sync.Mutex
	exited chan error
}

func (e *laneEnv) startRun(t *testing.T, group string) *runProc {
	t.Helper()
	return e.startRunWith(t, group, nil, nil)
}

// startRunWith starts `matriz run` with extra flags and environment.
func (e *laneEnv) startRunWith(t *testing.T, group string, extra, environ []string) *runProc {
	t.Helper()
	httpAddr := closedPort(t)
	cmd := exec.Command(binary, append([]string{"run", "--lane", string(e.lane), "--brokers", e.brokers, "--registry", e.regURL,
		"--group", group, "--http-addr", httpAddr, "--status-every", "0", "--session-timeout", "6s", "--debug"}, extra...)...)
	cmd.Env = append(os.Environ(), environ...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &runProc{cmd: cmd, http: httpAddr, stderr: &strings.Builder{}, mu: &sync.Mutex{}, exited: make(chan error, 1)}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	joined := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "matriz run: lane ") && strings.Contains(sc.Text(), "joined") {
				once.Do(func() { close(joined) })
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case <-joined:
	case err := <-p.exited:
		t.Fatalf("matriz run exited before joining: %v\n%s", err, p.log())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("matriz run did not join within 30s\n%s", p.log())
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

func (p *runProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// out returns the process's lukhas_messages_out_total.
func (p *runProc) out(t *testing.T) float64 {
	t.Helper()
	return p.metric(t, "lukhas_messages_out_total{")
}

// metric returns the value of the first series of the process's
// /metrics whose line starts with prefix, or 0.
func (p *runProc) metric(t *testing.T, prefix string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, prefix) {
			v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			return v
		}
	}
	return 0
}

// waitAnswered waits until the process has answered atLeast inputs: a
// result written, or the input dropped by decimation (read, decided and
// accounted by offset in a decimation event, not answered by a result).
func (p *runProc) waitAnswered(t *testing.T, atLeast float64, within time.Duration) {
	t.Helper()
	decimated := func() float64 { return p.metric(t, "lukhas_decimated_messages_total{") }
	clocktest.WaitFor(t, within, fmt.Sprintf("process answered %v inputs (results and decimated)", atLeast),
		func() bool { return p.out(t)+decimated() >= atLeast },
		func() string { return fmt.Sprintf("%v results, %v decimated\n%s", p.out(t), decimated(), p.log()) })
	t.Logf("answered: %v results, %v decimated", p.out(t), decimated())
}

func (p *runProc) waitOut(t *testing.T, atLeast float64, within time.Duration) {
	t.Helper()
	clocktest.WaitFor(t, within, fmt.Sprintf("process wrote %v results", atLeast), func() bool { return p.out(t) >= atLeast },
		func() string { return fmt.Sprintf("%v written\n%s", p.out(t), p.log()) })
}

// stop sends sig and returns the exit code.
func (p *runProc) stop(t *testing.T, sig os.Signal, within time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -int(ws.Signal())
			}
			return ee.ExitCode()
		}
		return 0
	case <-time.After(within):
		p.cmd.Process.Kill()
		t.Fatalf("matriz run did not exit within %v of %v\n%s", within, sig, p.log())
		return -1
	}
}

// duplicates counts results per msg id beyond the first.
func duplicates(rs []result) (n int, dup []result) {
	seen := map[string]int{}
	for _, r := range rs {
		seen[r.msgID]++
		if seen[r.msgID] > 1 {
			n++
			dup = append(dup, r)
		}
	}
	return n, dup
}

func TestRunKilledWorkerRestartsWithoutLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: kills a matriz run process (skipped with -short)")
	}
	e := newLaneEnv(t)
	e.produce(t, 30_000)
	const group = "kill-test"
	a := e.startRun(t, group)
	a.waitOut(t, 8_000, 2*time.Minute)
	if code := a.stop(t, syscall.SIGKILL, 10*time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("killed process exit %d", code)
	}
	committed := e.committed(t, group)
	before := len(e.results(t))

	b := e.startRun(t, group)
	rs := e.waitAnswered(t, group, 3*time.Minute)
	if code := b.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("restarted worker exited %d on SIGTERM\n%s", code, b.log())
	}
	n, dup := duplicates(rs)
	for _, d := range dup {
		if c, ok := committed[int(d.partition)]; ok && c >= 0 && d.srcOffset < c {
			t.Fatalf("duplicate result for %s at %d/%d, below the offset %d committed before the kill", d.msgID, d.partition, d.srcOffset, c)
		}
	}
	t.Logf("killed after %d results with committed offsets %v; after restart every one of %d messages has a result; %d duplicates, all at or after the last commit",
		before, committed, len(e.sent), n)
}

func TestRunTwoWorkersSplitPartitionsAndTakeOver(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: two matriz run processes in one group (skipped with -short)")
	}
	e := newLaneEnv(t)
	e.produce(t, 20_000)
	const group = "split-test"
	a := e.startRun(t, group)
	b := e.startRun(t, group)
	// A fast first worker can answer the whole first batch before the
	// second joins; a second batch, sent once b owns partitions, is split.
	clocktest.WaitFor(t, time.Minute, "worker b assigned partitions", func() bool {
		return strings.Contains(b.log(), `msg="partition assigned"`)
	}, b.log)
	e.produce(t, 20_000)
	rs := e.waitAnswered(t, group, 3*time.Minute)
	if a.out(t) == 0 || b.out(t) == 0 {
		t.Fatalf("one worker did nothing: a wrote %v results, b %v\na: %s\nb: %s", a.out(t), b.out(t), a.log(), b.log())
	}
	// The set of result ids is the one a single process produces: ids are
	// derived from msg id and node, and routing is log-only by default.
	want := map[string]bool{}
	for _, m := range e.sent {
		want[stages.ResultID(m.MsgID, "router")] = true
	}
	got := map[string]bool{}
	for _, r := range rs {
		got[r.outputID] = true
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("result id %s missing; got %d distinct ids for %d messages", id, len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d distinct result ids, want %d", len(got), len(want))
	}
	split := fmt.Sprintf("a wrote %v, b wrote %v", a.out(t), b.out(t))

	if code := a.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("worker a exited %d on SIGTERM\n%s", code, a.log())
	}
	e.produce(t, 10_000)
	e.waitAnswered(t, group, 3*time.Minute)
	if code := b.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("worker b exited %d\n%s", code, b.log())
	}
	t.Logf("two workers split the partitions (%s) and produced the %d result ids one process would; after a stopped, b took over and answered %d more", split, len(want), 10_000)
}

func TestRunSIGTERMUnderLoadCommitsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: SIGTERM to a matriz run process (skipped with -short)")
	}
	e := newLaneEnv(t)
	e.produce(t, 30_000)
	const group = "sigterm-test"
	a := e.startRun(t, group)
	a.waitOut(t, 8_000, 2*time.Minute)
	start := time.Now()
	if code := a.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("SIGTERM under load: exit %d, want 0\n%s", code, a.log())
	}
	stopTook := time.Since(start)
	b := e.startRun(t, group)
	rs := e.waitAnswered(t, group, 3*time.Minute)
	if code := b.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("restart exit %d", code)
	}
	if n, dup := duplicates(rs); n != 0 {
		t.Fatalf("%d duplicates after a clean SIGTERM, e.g. %+v", n, dup[0])
	}
	t.Logf("SIGTERM under load exited 0 in %v; after restart all %d messages have exactly one result", stopTook.Round(time.Millisecond), len(e.sent))
}

// TestRunMalformedSpecFailsBeforeConnecting: a spec the runtime would
// refuse — a value of the wrong type, or a setting a stage refuses (a fold
// fanout above the budget it must fit in) — stops `matriz run` with exit 2
// and one line naming the file, the line, the lane and the field, and no
// connection is made: the brokers and registry given are listeners that
// count who dials them.
func TestRunMalformedSpecFailsBeforeConnecting(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"not a number", "lanes:\n  prod:\n    drift:\n      warn: lots\n", ":4: lanes.prod.drift.warn: "},
		{"fanout over the budget", "lanes:\n  prod:\n    fold_guard:\n      max_fanout: 300\n", ":4: lanes.prod.fold_guard.max_fanout: budget 256: want at least the max fanout (300)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			brokers, dialsB := countingListener(t)
			registry, dialsR := countingListener(t)
			code, _, errOut := runCLI("run", "--lane", "prod", "--brokers", brokers, "--registry", "http://"+registry, "--pipeline", path)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errOut)
			}
			want := "matriz run: " + path + tc.want
			if !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("stderr %q, want one line starting %q", errOut, want)
			}
			if n := dialsB() + dialsR(); n != 0 {
				t.Fatalf("%d connections to the brokers or registry before the spec was refused", n)
			}
		})
	}
}
