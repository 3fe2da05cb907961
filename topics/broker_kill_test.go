package topics

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// crashChildEnv names the data dir for the child half of
// TestBrokerKilledKeepsAckedRecordsAndCommits.
const crashChildEnv = "TOPICS_TEST_CRASH_CHILD_DIR"

// TestBrokerKilledKeepsAckedRecordsAndCommits checks the durability claim
// in Broker's doc for a process that dies without Close: a child process
// runs a broker on a data dir, produces 100 acked records and commits 40
// offsets, then is SIGKILLed; a broker reopened on the dir has them all.
func TestBrokerKilledKeepsAckedRecordsAndCommits(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokerKilledKeepsAckedRecordsAndCommits$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "READY") {
			ready = true
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Close, no flush
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !ready {
		t.Fatal("child broker never got ready")
	}

	b := newBroker(t, BrokerDataDir(dir))
	if got := endOffsets(t, b.Addrs(), "crash", 2); sum(got) != 100 {
		t.Fatalf("after kill: end offsets %v, want sum 100", got)
	}
	if got := committedOffsets(t, b.Addrs(), "g", "crash", 2); sum(got) != 40 {
		t.Fatalf("after kill: committed %v, want sum 40", got)
	}
}

func crashChild(t *testing.T, dir string) {
	b, err := StartBroker(BrokerDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("crash", 2))
	produce(t, addrs, "crash", 100)
	src, err := NewSource(context.Background(), addrs, "g", []string{"crash"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range take(t, src.Out(), 40) {
		m.Ack.Done(nil)
	}
	if err := src.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	select {} // wait for SIGKILL
}
