package observe

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Resources measures what the process holds for the status line: the size
// of a data directory on disk and the resident memory. Both are measured
// at most once per period (walking a data dir every second would cost more
// than it tells), at the times the caller passes in.
type Resources struct {
	dir   string
	every time.Duration
	// diskUsage and rss are the measurements; tests replace them.
	diskUsage func(dir string) (int64, error)
	rss       func() (int64, error)

	measured   time.Time
	disk, mem  int64
	diskErr    error
	memErr     error
	haveSample bool
}

// NewResources measures dir (empty: no disk figure) and the process's
// resident set, at most once per every.
func NewResources(dir string, every time.Duration) *Resources {
	return &Resources{dir: dir, every: every, diskUsage: DirSize, rss: ProcessRSS}
}

// String renders "disk 120MB rss 90MB" as of now, measuring again when the
// last measurement is a period old. A figure that cannot be measured is
// left out.
func (r *Resources) String(now time.Time) string {
	if !r.haveSample || now.Sub(r.measured) >= r.every {
		r.measured, r.haveSample = now, true
		if r.dir != "" {
			r.disk, r.diskErr = r.diskUsage(r.dir)
		}
		r.mem, r.memErr = r.rss()
	}
	s := ""
	if r.dir != "" && r.diskErr == nil {
		s = "disk " + fmtBytes(r.disk)
	}
	if r.memErr == nil {
		if s != "" {
			s += " "
		}
		s += "rss " + fmtBytes(r.mem)
	}
	return s
}

// DirSize returns the bytes of the regular files under dir. Files that
// vanish during the walk (a segment deleted by retention) are skipped.
func DirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// ProcessRSS returns the process's resident set size in bytes, from
// /proc/self/status (Linux; elsewhere an error).
func ProcessRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS reads the VmRSS line ("VmRSS:	  91236 kB") of a
// /proc/<pid>/status file.
func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want \"<n> kB\"", sc.Text())
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", sc.Text(), err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// fmtBytes renders a size compactly in decimal units: 950kB, 120MB, 2.4GB.
func fmtBytes(n int64) string {
	switch {
	case n >= 10e9:
		return fmt.Sprintf("%.0fGB", float64(n)/1e9)
	case n >= 1e9:
		return fmt.Sprintf("%.1fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0fMB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.0fkB", float64(n)/1e3)
	}
}
