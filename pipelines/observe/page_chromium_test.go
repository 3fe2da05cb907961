package observe_test

// The live page in a real browser: `matriz dev` in process with its three
// lanes and scenario traffic, the page loaded by headless Chromium. The
// test lives here rather than in pipelines/ (whose root holds three files
// at most) as an external test package, so it may start the whole dev
// stack.

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
)

// lockedBuffer is the dev loop's output, read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// chromium runs headless Chromium on url with extra flags and returns its
// stdout.
func chromium(t *testing.T, bin, url string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--window-size=1440,980"}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox") // Chromium refuses to run as root inside its sandbox
	}
	args = append(append(args, flags...), url)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, lastLines(stderr.String(), 20))
	}
	return stdout.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var (
	laneSection = regexp.MustCompile(`<section class="lane [a-z]+" data-lane="([a-z]+)">`)
	figure      = regexp.MustCompile(`data-k="([a-z0-9_.]+)" data-v="([^"]*)"`)
)

// pageFigures reads the rendered page: lane → figure key → value, from the
// raw values the page keeps in data-v (empty: shown as "–").
func pageFigures(dom string) map[string]map[string]string {
	out := map[string]map[string]string{}
	idx := laneSection.FindAllStringSubmatchIndex(dom, -1)
	for i, m := range idx {
		end := len(dom)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		lane := dom[m[2]:m[3]]
		figs := map[string]string{}
		for _, f := range figure.FindAllStringSubmatch(dom[m[1]:end], -1) {
			figs[f[1]] = f[2]
		}
		out[lane] = figs
	}
	return out
}

func figureOf(t *testing.T, figs map[string]map[string]string, lane, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(figs[lane][key], 64)
	if err != nil {
		t.Fatalf("lane %s shows no number for %s (%q): %v", lane, key, figs[lane][key], err)
	}
	return v
}

// TestLivePageInChromium: with `matriz dev` running its three lanes, the
// page rendered by headless Chromium shows every lane with its figures,
// and two renderings some seconds apart show the counts grown. It saves a
// screenshot to $MATRIZ_SCREENSHOT_DIR (else the test's temp dir).
func TestLivePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: the dev stack and three Chromium runs take 20-30s on a loaded 2-core machine (skipped with -short)")
	}
	bin := pipetest.RequireTool(t, "chromium", "chromium")
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	ready := make(chan pipelines.DevInfo, 1)
	done := make(chan error, 1)
	go func() {
		done <- pipelines.Dev(ctx, pipelines.DevConfig{
			Rate: 200, HTTPAddr: "127.0.0.1:0", Out: out, Ready: func(i pipelines.DevInfo) { ready <- i },
		})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("dev did not stop within 30s")
		}
	}()
	var info pipelines.DevInfo
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("dev stopped before it was ready: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		t.Fatalf("dev not ready within 60s:\n%s", out)
	}
	url := "http://" + info.HTTPAddr + "/"
	lanes := []string{"experimental", "candidate", "prod"}

	// beyond reports whether the JSON endpoint shows every lane's in and
	// out counts above the ones in figs (nil: above zero).
	beyond := func(figs map[string]map[string]string) bool {
		resp, err := http.Get(url + "api/lanes")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var snap observe.PageSnapshot
		if json.NewDecoder(resp.Body).Decode(&snap) != nil || len(snap.Lanes) != len(lanes) {
			return false
		}
		for _, l := range snap.Lanes {
			for k, v := range map[string]*float64{"in_total": l.InTotal, "out_total": l.OutTotal} {
				was, _ := strconv.ParseFloat(figs[l.Lane][k], 64)
				if v == nil || *v <= was {
					return false
				}
			}
		}
		return true
	}
	// Results on every lane before the browser looks, so there is something to move.
	clocktest.WaitFor(t, 30*time.Second, "results on every lane", func() bool { return beyond(nil) }, out.String)

	// The page polls once a second; a virtual-time budget lets its timers
	// run before the DOM is dumped.
	dump := func() map[string]map[string]string {
		dom := chromium(t, bin, url, "--virtual-time-budget=2500", "--dump-dom")
		figs := pageFigures(dom)
		for _, l := range lanes {
			if figs[l] == nil {
				t.Fatalf("lane %s not rendered; the page:\n%.3000s", l, dom)
			}
		}
		if len(figs) != len(lanes) {
			t.Fatalf("lanes rendered %v, want %v", figs, lanes)
		}
		return figs
	}
	first := dump()
	clocktest.WaitFor(t, 20*time.Second, "more traffic than the first rendering showed", func() bool { return beyond(first) }, out.String)
	second := dump()
	for _, l := range lanes {
		for _, k := range []string{"in_total", "out_total"} {
			a, b := figureOf(t, first, l, k), figureOf(t, second, l, k)
			if a <= 0 || b <= a {
				t.Errorf("lane %s %s: %v then %v, want a count above 0 that grows", l, k, a, b)
			}
		}
		for _, k := range []string{"in_rate", "out_rate", "tick_p95_ms", "fps", "drift_ema", "decisions.allow"} {
			figureOf(t, second, l, k)
		}
		t.Logf("lane %s: out %s → %s, in/s %s, p95 %s ms, fps %s, drift %s", l, first[l]["out_total"], second[l]["out_total"],
			second[l]["in_rate"], second[l]["tick_p95_ms"], second[l]["fps"], second[l]["drift_ema"])
	}

	dir := os.Getenv("MATRIZ_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "matriz-live-page.png")
	chromium(t, bin, url, "--virtual-time-budget=2500", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1440 || b.Dy() != 980 {
		t.Errorf("screenshot is %v, want 1440×980", b)
	}
	t.Logf("screenshot: %s", shot)
	t.Logf("the whole test took %v", time.Since(start).Round(time.Millisecond))
}
