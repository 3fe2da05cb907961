package bench

import (
	"os"
	"testing"
)

func TestParseStatusKB(t *testing.T) {
	status := []byte("Name:\tmatriz\nVmPeak:\t  300000 kB\nVmHWM:\t   91236 kB\nVmRSS:\t   81236 kB\n")
	if n, err := parseStatusKB(status, "VmHWM:"); err != nil || n != 91236<<10 {
		t.Fatalf("VmHWM: %d, %v", n, err)
	}
	if n, err := parseStatusKB(status, "VmRSS:"); err != nil || n != 81236<<10 {
		t.Fatalf("VmRSS: %d, %v", n, err)
	}
	if _, err := parseStatusKB(status, "VmSwap:"); err == nil {
		t.Fatal("missing line: no error")
	}
	if _, err := parseStatusKB([]byte("VmHWM:\t12 MB\n"), "VmHWM:"); err == nil {
		t.Fatal("unit MB: no error")
	}
}

// TestProcessHWM: where /proc is there the peak is a real, positive size.
func TestProcessHWM(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		if hwm := processHWM(); hwm != 0 {
			t.Fatalf("no /proc but a peak of %d", hwm)
		}
		return
	}
	if hwm := processHWM(); hwm < 1<<20 {
		t.Fatalf("peak RSS %d bytes: want at least 1 MiB for a Go test binary", hwm)
	}
}
