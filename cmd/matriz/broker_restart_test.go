package main

// The broker restart test: `matriz broker` SIGKILLed under a producer and a
// running lane, and restarted on the same data dir and addresses; every
// record the producer got an acknowledgement for is on the topic after the
// restart and answered by the lane process, which was never restarted.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// brokerProc is a `matriz broker` process on fixed addresses and a data
// dir, so a restart comes back where its clients look for it.
type brokerProc struct {
	cmd    *exec.Cmd
	exited chan error
}

func startBrokerAt(t *testing.T, kafka, registry, dataDir string) *brokerProc {
	t.Helper()
	cmd := exec.Command(binary, "broker", "--listen", kafka, "--registry-listen", registry, "--data-dir", dataDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &brokerProc{cmd: cmd, exited: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			ready <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { b.exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "matriz broker ready: kafka "+kafka) {
			t.Fatalf("matriz broker: unexpected first line %q", line)
		}
	case err := <-b.exited:
		t.Fatalf("matriz broker exited before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("matriz broker printed no ready line within 60s")
	}
	return b
}

func (b *brokerProc) kill(t *testing.T) {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("matriz broker did not die within 10s of SIGKILL")
	}
}

// ackedProducer writes batches of messages to a lane and remembers the msg
// ids Kafka acknowledged; a batch the broker refuses or never answers is
// not remembered, and the producer goes on with the next one.
type ackedProducer struct {
	env  *pipetest.Env
	lane schemas.Lane
	gen  *devstack.Synthetic

	mu             sync.Mutex
	acked          map[string]bool
	sent, refused  int
	batchesRefused int
}

// batch writes n messages and records which were acknowledged.
func (p *ackedProducer) batch(t *testing.T, n int) {
	msgs := make([]schemas.MatrizMessage, n)
	now := time.Now()
	for i := range msgs {
		msgs[i] = p.gen.Next(now.Add(-time.Second + time.Duration(i)*20*time.Microsecond))
	}
	recs := p.env.Encode(t, p.lane, msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acks := make([]*topics.Ack, n)
	sink, err := topics.NewSink(ctx, p.env.Brokers)
	if err == nil {
		for i, m := range recs {
			acks[i] = topics.NewAck()
			m.Topic, m.Ack = topics.Name(string(p.lane), topics.KindMessages), acks[i]
			sink.In() <- m
		}
		close(sink.In())
		sink.AwaitCompletion()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	failed := 0
	for i, a := range acks {
		if a != nil && a.Resolved() && a.Err() == nil {
			p.acked[msgs[i].MsgID] = true
		} else {
			failed++
		}
	}
	p.refused += failed
	if failed > 0 {
		p.batchesRefused++
	}
}

func (p *ackedProducer) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// TestBrokerKilledUnderLoadLosesNoAckedRecord: a `matriz run` process
// answers a producer's stream through a `matriz broker` process, which is
// SIGKILLed mid-stream and restarted on its data dir; after the restart
// every acknowledged record is on the messages topic and the same lane
// process answers every one within a bound, by itself.
func TestBrokerKilledUnderLoadLosesNoAckedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: SIGKILLs a matriz broker process under load (skipped with -short)")
	}
	const (
		batchSize  = 500
		before     = 10_000 // acknowledged records before the kill
		after      = 20_000 // and after the restart
		downFor    = time.Second
		answeredIn = 2 * time.Minute
	)
	dir := t.TempDir()
	kafka, reg := closedPort(t), closedPort(t)
	broker := startBrokerAt(t, kafka, reg, dir)
	regURL := "http://" + reg
	lane := schemas.LaneProd
	cli(t, 0, "deploy", "--brokers", kafka, "--registry", regURL, "--lanes", string(lane))
	sd, err := serde.Open(context.Background(), regURL, serde.Subjects([]schemas.Lane{lane}))
	if err != nil {
		t.Fatal(err)
	}
	env := &pipetest.Env{Brokers: []string{kafka}, RegistryURL: regURL, Serde: sd}
	le := &laneEnv{Env: env, brokers: kafka, regURL: regURL, lane: lane}
	prod := &ackedProducer{env: env, lane: lane, gen: devstack.NewSynthetic(lane, 29, 256), acked: map[string]bool{}}

	prod.batch(t, batchSize)
	const group = "broker-restart"
	p := le.startRun(t, group)
	p.waitOut(t, 1, time.Minute)

	// The producer writes without pause while the broker is killed and
	// restarted under it.
	start := time.Now()
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			prod.batch(t, batchSize)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	clocktest.WaitFor(t, 2*time.Minute, "acknowledged records before the kill", func() bool { return prod.ackedCount() >= before })
	broker.kill(t)
	killedAt := time.Now()
	ackedAtKill := prod.ackedCount()
	for time.Since(killedAt) < downFor {
		time.Sleep(5 * time.Millisecond)
	}
	broker = startBrokerAt(t, kafka, reg, dir)
	restarted := time.Now()
	clocktest.WaitFor(t, 2*time.Minute, "acknowledged records after the restart", func() bool { return prod.ackedCount() >= ackedAtKill+after })
	close(stop)
	<-stopped
	produced := time.Since(start)
	t.Logf("broker SIGKILLed with %d records acknowledged, restarted on its data dir %v later", ackedAtKill, restarted.Sub(killedAt).Round(time.Millisecond))

	// Every acknowledged record is on the topic.
	onTopic := map[string]bool{}
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindMessages)) {
		var msg schemas.MatrizMessage
		if _, err := schemas.DecodeWire(context.Background(), sd.Lookup(), m.Value, &msg); err != nil {
			t.Fatalf("record %d/%d does not decode: %v", m.Partition, m.Offset, err)
		}
		onTopic[msg.MsgID] = true
	}
	var lost []string
	for id := range prod.acked {
		if !onTopic[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged records are not on the topic after the broker restart, e.g. %v", len(lost), len(prod.acked), lost[:min(5, len(lost))])
	}

	t.Logf("%d records sent, %d acknowledged (%d refused in %d batches); every acknowledged one is on %s after the restart",
		prod.sent, len(prod.acked), prod.refused, prod.batchesRefused, topics.Name(string(lane), topics.KindMessages))

	// The lane, never restarted, answers every one of them.
	var unanswered int
	clocktest.WaitFor(t, answeredIn, "the lane answered every acknowledged record", func() bool {
		select {
		case err := <-p.exited:
			t.Fatalf("matriz run exited (%v) after the broker restart instead of resuming\n%s", err, lastLines(p.log(), 30))
		default:
		}
		answered := map[string]bool{}
		for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
			answered[pipetest.Header(m, runtime.HeaderMsgID)] = true
		}
		unanswered = 0
		for id := range prod.acked {
			if !answered[id] {
				unanswered++
			}
		}
		return unanswered == 0
	}, func() string {
		return fmt.Sprintf("%d of %d acknowledged records unanswered\n%s", unanswered, len(prod.acked), lastLines(p.log(), 30))
	})
	answered := time.Since(restarted)
	if code := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("matriz run exited %d on SIGTERM after the broker restart\n%s", code, lastLines(p.log(), 30))
	}
	t.Logf("produced for %v; every acknowledged record answered by the same lane process %v after the broker restart",
		produced.Round(time.Millisecond), answered.Round(time.Millisecond))
}
