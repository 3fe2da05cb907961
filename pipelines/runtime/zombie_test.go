package runtime

// The zombie test: a lane runtime in a child process is stopped with
// SIGSTOP (its heartbeats stop mid-work), a second member joins and is
// given every partition once the coordinator evicted the first, and the
// first is resumed with SIGCONT. Everything it writes names its claim in
// headers (fence.go), so the test counts what the evicted member wrote
// under its old claim after the eviction: it must be nothing — no result,
// event, trace, action, DLQ record, state or checkpoint.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// zombieChildEnv carries "<brokers>|<registry url>|<group>" to the child
// half of TestZombieOwnerWritesNothingAfterEviction.
const zombieChildEnv = "RUNTIME_TEST_ZOMBIE_CHILD"

// zombieSession is both members' session timeout: short, so eviction is
// quick (the broker refuses less than 6s); the drain timeout defaults to half of it.
const zombieSession = 6 * time.Second

// zombieKinds are the topics a worker writes under its claim.
var zombieKinds = []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions, topics.KindDLQ, topics.KindState, topics.KindCheckpoints}

// childGen is a generation the child reported: "GEN <id> <partitions> <member>".
type childGen struct {
	id         int32
	member     string
	partitions int
}

func TestZombieOwnerWritesNothingAfterEviction(t *testing.T) {
	if arg := os.Getenv(zombieChildEnv); arg != "" {
		zombieChild(t, arg)
		return
	}
	if testing.Short() {
		t.Skip("integration test: a lane process paused past its session while a second member takes over (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	const group = "zombie"
	messages := topics.Name(string(lane), topics.KindMessages)

	// Member A: a child process.
	logf, err := os.Create(t.TempDir() + "/child.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestZombieOwnerWritesNothingAfterEviction$", "-test.count=1")
	cmd.Env = append(os.Environ(), zombieChildEnv+"="+strings.Join([]string{strings.Join(env.Brokers, ","), env.RegistryURL, group}, "|"))
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	childLog := func() string {
		b, _ := os.ReadFile(logf.Name())
		return lastLines(string(b), 30)
	}
	var mu sync.Mutex
	var gens []childGen
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 4) // the member id has spaces: it comes last
			if len(f) == 4 && f[0] == "GEN" {
				id, _ := strconv.Atoi(f[1])
				n, _ := strconv.Atoi(f[2])
				mu.Lock()
				gens = append(gens, childGen{int32(id), f[3], n})
				mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	lastGen := func() (childGen, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(gens) == 0 {
			return childGen{}, 0
		}
		return gens[len(gens)-1], len(gens)
	}

	// A steady stream over many glyphs (every partition), P0 asks among
	// them, so a worker always has frames to finish and actions to write.
	gen := devstack.NewSynthetic(lane, 41, 64)
	ctx, stopProducing := context.WithCancel(context.Background())
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ctx.Err() == nil; i++ {
			batch := nowBatch(gen, 20)
			batch[0] = p0Action(gen, time.Now())
			env.Produce(t, lane, batch, nil)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() { stopProducing(); <-produced }()

	clocktest.WaitFor(t, time.Minute, "the child holding every partition and committing", func() bool {
		g, _ := lastGen()
		if g.partitions == 0 {
			return false
		}
		for _, off := range env.Committed(t, messages, group) {
			if off > 0 {
				return true
			}
		}
		return false
	}, childLog)
	a, nA := lastGen()

	// Pause A: its heartbeats stop mid-work. B joins; the coordinator
	// waits for A until A's session times out, then gives B everything.
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The Sink stamps a fenced record when the fence admits it: one
	// stamped after this was admitted after the pause; one stamped before
	// it and written after the eviction was in the Kafka client's hands
	// when the process froze (its produce request went out on SIGCONT).
	// The stop takes effect thread by thread after the signal is sent, and
	// a thread on the other core may admit a batch meanwhile: the pause is
	// the moment every thread of the child is seen stopped.
	clocktest.WaitFor(t, 10*time.Second, "every thread of the child stopped", func() bool { return allStopped(t, cmd.Process.Pid) })
	paused := time.Now()
	var bMu sync.Mutex
	var bGens []topics.GenerationInfo
	runLane(t, env, Config{Lane: lane, Group: group, SessionTimeout: zombieSession, CommitInterval: 100 * time.Millisecond,
		Getenv: envMap(map[string]string{FlagExtActions: "true"}),
		OnGeneration: func(g topics.GenerationInfo) {
			bMu.Lock()
			bGens = append(bGens, g)
			bMu.Unlock()
		}})
	ends := env.Ends(t, messages)
	clocktest.WaitFor(t, time.Minute, "the second member given every partition (the first evicted)", func() bool {
		bMu.Lock()
		defer bMu.Unlock()
		return len(bGens) > 0 && bGens[len(bGens)-1].ID > a.id && len(bGens[len(bGens)-1].Partitions[messages]) == len(ends)
	}, func() string { return fmt.Sprintf("second member's generations: %+v", bGens) })
	evicted := time.Since(paused)
	// What every topic holds at the eviction: A wrote it, or B did.
	before := map[string]map[int]int64{}
	for _, k := range zombieKinds {
		topic := topics.Name(string(lane), k)
		before[topic] = env.Ends(t, topic)
	}

	// Resume A: it finds out it was evicted at its next heartbeat, drains
	// its old claim — fenced, writing nothing — and joins again as a new
	// member.
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	clocktest.WaitFor(t, time.Minute, "the resumed child joined again", func() bool {
		g, n := lastGen()
		return n > nA && g.id > a.id
	}, childLog)
	time.Sleep(2 * zombieSession) // let it work a while in the new generation
	stopProducing()
	<-produced
	env.WaitCommitted(t, messages, group, 2*time.Minute)

	after, earlier, inFlight := map[string]int{}, map[string]int{}, map[string]int{}
	total := 0
	for _, k := range zombieKinds {
		topic := topics.Name(string(lane), k)
		for _, m := range env.ReadAll(t, topic) {
			g, id, member, ok := claimOf(m)
			if !ok {
				t.Fatalf("%s/%d@%d has no claim headers", topic, m.Partition, m.Offset)
			}
			if g != group || id != a.id || member != a.member {
				continue
			}
			switch {
			case m.Offset < before[topic][int(m.Partition)]:
				earlier[string(k)]++
			case !m.Time.After(paused):
				inFlight[string(k)]++
			default:
				after[string(k)]++
				total++
			}
		}
	}
	t.Logf("member %s held %d partitions in generation %d; paused, it was evicted after %v; records it wrote under that claim: before the eviction %v; admitted before the pause and landed after the eviction (in the Kafka client when it froze) %v; admitted after the pause %v",
		a.member, a.partitions, a.id, evicted.Round(time.Millisecond), earlier, inFlight, after)
	if earlier[string(topics.KindResults)] == 0 || earlier[string(topics.KindState)] == 0 {
		t.Fatalf("the child wrote no results or state under its claim before the pause (%v): the test does not exercise it", earlier)
	}
	if total != 0 {
		t.Fatalf("the evicted member wrote %d records under its old claim after the eviction: %v\n%s", total, after, childLog())
	}
}

// zombieChild is member A: the lane's runtime, reporting its generations
// on stdout, until it is killed.
func zombieChild(t *testing.T, arg string) {
	parts := strings.Split(arg, "|")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err := Run(context.Background(), Config{
		Lane: schemas.LaneProd, Brokers: strings.Split(parts[0], ","), RegistryURL: parts[1], Group: parts[2],
		SessionTimeout: zombieSession, CommitInterval: 100 * time.Millisecond, Logger: log,
		Getenv: envMap(map[string]string{FlagExtActions: "true"}),
		OnGeneration: func(g topics.GenerationInfo) {
			n := 0
			for _, ps := range g.Partitions {
				n += len(ps)
			}
			fmt.Printf("GEN %d %d %s\n", g.ID, n, g.MemberID)
		},
	})
	t.Fatalf("lane runtime returned: %v", err)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// allStopped reports whether every thread of process pid is in the
// stopped state (T in /proc/<pid>/task/<tid>/stat).
func allStopped(t *testing.T, pid int) bool {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(dir + "/" + task.Name() + "/stat")
		if err != nil {
			return false // a thread that just exited: look again
		}
		// The state follows the command name, which is in parentheses
		// and may hold spaces.
		_, rest, ok := strings.Cut(string(b), ") ")
		if !ok || !strings.HasPrefix(rest, "T") {
			return false
		}
	}
	return len(tasks) > 0
}
