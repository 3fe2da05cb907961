package bench

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCPUUseBetween: cores are CPU time over wall time; idle is the
// machine's idle share; the line names each process.
func TestCPUUseBetween(t *testing.T) {
	a := cpuSnapshot{procs: []time.Duration{time.Second, 0, 2 * time.Second}, machine: machineCPU{busy: 10, total: 50}}
	b := cpuSnapshot{procs: []time.Duration{3 * time.Second, 7 * time.Second, 8 * time.Second}, machine: machineCPU{busy: 29, total: 70}}
	u, err := cpuUseBetween(a, b, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if u.Cores[0] != 0.2 || u.Cores[1] != 0.7 || u.Cores[2] != 0.6 {
		t.Fatalf("cores %v, want [0.2 0.7 0.6]", u.Cores)
	}
	if u.MachineIdle < 0.049 || u.MachineIdle > 0.051 || u.MachineCores != 2 {
		t.Fatalf("machine idle %v of %v cores, want 0.05 of 2", u.MachineIdle, u.MachineCores)
	}
	want := "lane process(es) 0.70 + 0.60 cores, the bench process (broker) 0.20; the machine's 2 cores 5% idle"
	if s := u.String(); !strings.Contains(s, want) {
		t.Fatalf("%q, want it to hold %q", s, want)
	}
	if _, err := cpuUseBetween(a, a, 10*time.Second); err == nil {
		t.Fatal("snapshots of one moment: want an error")
	}
}

// TestTakeCPUSnapshotSeesThisProcessWork: CPU this process burns shows
// in its /proc time, and the machine's busy time moves with it.
func TestTakeCPUSnapshotSeesThisProcessWork(t *testing.T) {
	a, err := takeCPUSnapshot([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	x := uint64(1)
	for range 10_000 {
		for range 1 << 20 { // burn CPU
			x = x*6364136223846793005 + 1442695040888963407
		}
		b, err := takeCPUSnapshot([]int{0})
		if err != nil {
			t.Fatal(err)
		}
		if used := b.procs[0] - a.procs[0]; used >= 50*time.Millisecond {
			if b.machine.busy <= a.machine.busy || b.machine.total <= a.machine.total {
				t.Fatalf("machine %+v then %+v after this process used %v", a.machine, b.machine, used)
			}
			runtime.KeepAlive(x)
			return
		}
	}
	t.Fatalf("this process's /proc CPU time did not move: %v then the same after burning CPU", a.procs[0])
}
