package observe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// The status line ends with the data dir's size and the resident memory,
// measured again only once a period has passed on the caller's clock.
func TestStatusLineShowsDiskAndRSSMeasuredEveryPeriod(t *testing.T) {
	var c LaneCounters
	var out bytes.Buffer
	disk, rss, measured := int64(120e6), int64(90e6), 0
	res := NewResources("/data", 5*time.Second)
	res.diskUsage = func(dir string) (int64, error) {
		if dir != "/data" {
			t.Errorf("measured %q, want /data", dir)
		}
		measured++
		return disk, nil
	}
	res.rss = func() (int64, error) { return rss, nil }
	line := NewStatusLine(&out, []schemas.Lane{schemas.LaneProd}, func(schemas.Lane) *LaneCounters { return &c }, nil).WithResources(res)

	t0 := time.Unix(1_800_000_000, 0)
	line.Print(t0)
	disk, rss = 2_400e6, 350e6
	line.Print(t0.Add(4 * time.Second)) // within the period: the old figures
	line.Print(t0.Add(5 * time.Second))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{" | disk 120MB rss 90MB", " | disk 120MB rss 90MB", " | disk 2.4GB rss 350MB"}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d = %q, want it to end with %q", i, lines[i], w)
		}
	}
	if measured != 2 {
		t.Errorf("measured the dir %d times over 3 lines 5 s apart at most, want 2", measured)
	}
}

// A figure that cannot be measured is left out, not shown as zero.
func TestResourcesLeaveOutWhatCannotBeMeasured(t *testing.T) {
	res := NewResources("", time.Second) // in memory: no disk figure
	res.rss = func() (int64, error) { return 0, errors.New("no /proc") }
	if got := res.String(time.Unix(0, 0)); got != "" {
		t.Fatalf("no dir, no rss: %q, want empty", got)
	}
	res.rss = func() (int64, error) { return 81e6, nil }
	if got := res.String(time.Unix(1, 0)); got != "rss 81MB" {
		t.Fatalf("no dir: %q, want rss 81MB", got)
	}
}

func TestDirSizeAddsTheFilesUnderTheDir(t *testing.T) {
	dir := t.TempDir()
	for name, n := range map[string]int{"a": 1000, "p/0.dat": 2500, "p/q/0.idx": 15} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := DirSize(dir); err != nil || got != 3515 {
		t.Fatalf("DirSize = %d, %v; want 3515", got, err)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tmatriz\nVmPeak:\t  900000 kB\nVmRSS:\t   91236 kB\nThreads:\t12\n"
	if got, err := parseVmRSS([]byte(status)); err != nil || got != 91236*1024 {
		t.Fatalf("parseVmRSS = %d, %v; want %d", got, err, 91236*1024)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Fatal("no VmRSS line accepted")
	}
	if _, err := parseVmRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Fatal("a VmRSS line in MB accepted")
	}
	if rss, err := ProcessRSS(); err == nil && rss <= 0 {
		t.Fatalf("ProcessRSS = %d on this system, want positive", rss)
	}
}
