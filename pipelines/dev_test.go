package pipelines

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
)

// syncBuffer is an io.Writer safe for the dev loop and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scrape returns the value of every sample of metric on the /metrics page,
// keyed by its label set as written.
func scrape(t *testing.T, addr, metric string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[len(metric):i]] = v
	}
	return out
}

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type devRun struct {
	out    *syncBuffer
	info   DevInfo
	cancel context.CancelFunc
	done   chan error
}

func startDev(t *testing.T, dataDir string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &devRun{out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan DevInfo, 1)
	go func() {
		r.done <- Dev(ctx, DevConfig{
			DataDir: dataDir, HTTPAddr: "127.0.0.1:0", Rate: 300, Out: r.out,
			StatusEvery: 200 * time.Millisecond,
			Ready:       func(i DevInfo) { ready <- i },
		})
	}()
	select {
	case r.info = <-ready:
	case err := <-r.done:
		t.Fatalf("dev stopped before it was ready: %v\n%s", err, r.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("dev not ready within 30s:\n%s", r.out)
	}
	return r
}

func (r *devRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("dev returned %v after Ctrl-C, want nil (exit 0)\n%s", err, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("dev did not stop within 30s of Ctrl-C:\n%s", r.out)
	}
}

func TestDevFlowsOnEveryLaneAndResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	dir := t.TempDir()
	first := startDev(t, dir)
	start := time.Now()
	waitFor(t, 10*time.Second, "results on all three lanes", func() bool {
		outs := scrape(t, first.info.HTTPAddr, "lukhas_messages_out_total")
		for _, l := range schemas.Lanes {
			if outs[fmt.Sprintf(`{lane="%s"}`, l)] < 10 {
				return false
			}
		}
		return true
	})
	t.Logf("all lanes flowing %v after ready", time.Since(start).Round(time.Millisecond))
	firstIDs := subjectIDs(t, first.info.RegistryURL)
	first.stop(t)
	if !strings.Contains(first.out.String(), "topics 25 created") {
		t.Fatalf("first start did not create the lane topics:\n%s", first.out)
	}

	second := startDev(t, dir)
	waitFor(t, 10*time.Second, "results after restart", func() bool {
		return scrape(t, second.info.HTTPAddr, "lukhas_messages_out_total")[`{lane="prod"}`] > 0
	})
	secondIDs := subjectIDs(t, second.info.RegistryURL)
	second.stop(t)
	out := second.out.String()
	if !strings.Contains(out, "deploy: topics 26 exists; subjects 19 exists") {
		t.Fatalf("restart re-created topics or subjects:\n%s", out)
	}
	if fmt.Sprint(firstIDs) != fmt.Sprint(secondIDs) {
		t.Fatalf("schema ids changed across restart:\nfirst  %v\nsecond %v", firstIDs, secondIDs)
	}
}

// subjectIDs returns subject → id of the latest version, through the
// project's registry client.
func subjectIDs(t *testing.T, url string) map[string]int {
	t.Helper()
	cl, err := serde.NewRegistryClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subs, err := cl.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range subs {
		ss, err := cl.SchemaByVersion(ctx, s, -1)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = ss.ID
	}
	if len(out) != len(serde.Subjects(schemas.Lanes)) {
		t.Fatalf("registry has %d subjects, want %d", len(out), len(serde.Subjects(schemas.Lanes)))
	}
	return out
}
