package bench

// CPU use over a measuring window, from /proc through prometheus/procfs:
// each process's user and system time (every thread, live or exited) and
// the machine's busy and idle time. The scale-out goal assumes cores to
// spare; these say whether the window had any, so a missed ratio reads as
// the lanes' cost or as a machine with nothing left.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// errNoWindow says two CPU snapshots do not bracket a stretch of time.
var errNoWindow = errors.New("CPU snapshots that do not bracket a window")

// machineCPU is the machine's CPU time since boot, all cores, in seconds.
type machineCPU struct{ busy, total float64 }

// cpuSnapshot is the CPU time of some processes and of the machine at one
// moment.
type cpuSnapshot struct {
	procs   []time.Duration // by the pids given to takeCPUSnapshot
	machine machineCPU
}

// takeCPUSnapshot reads the CPU time of pids (0: this process) and of the
// machine.
func takeCPUSnapshot(pids []int) (cpuSnapshot, error) {
	var s cpuSnapshot
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return s, err
	}
	for _, pid := range pids {
		p, err := fs.Self()
		if pid != 0 {
			p, err = fs.Proc(pid)
		}
		if err != nil {
			return s, err
		}
		st, err := p.Stat()
		if err != nil {
			return s, err
		}
		s.procs = append(s.procs, time.Duration(st.CPUTime()*float64(time.Second)))
	}
	st, err := fs.Stat()
	if err != nil {
		return s, err
	}
	c := st.CPUTotal // guest time is inside user already
	s.machine.busy = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	s.machine.total = s.machine.busy + c.Idle + c.Iowait
	return s, nil
}

// cpuUse is CPU use between two snapshots over a wall-clock window.
type cpuUse struct {
	Cores        []float64 // each process's CPU time over the window, in cores
	MachineIdle  float64   // the machine's idle share of its CPU time, 0..1
	MachineCores float64   // the machine's CPU time over the window, in cores: how many it has
}

// cpuUseBetween is what a and b, taken window apart, say of CPU use.
func cpuUseBetween(a, b cpuSnapshot, window time.Duration) (cpuUse, error) {
	total := b.machine.total - a.machine.total
	if window <= 0 || len(a.procs) != len(b.procs) || total <= 0 {
		return cpuUse{}, errNoWindow
	}
	var u cpuUse
	for i := range a.procs {
		u.Cores = append(u.Cores, (b.procs[i]-a.procs[i]).Seconds()/window.Seconds())
	}
	u.MachineIdle = 1 - (b.machine.busy-a.machine.busy)/total
	u.MachineCores = total / window.Seconds()
	return u, nil
}

// String is the use as a report line's tail: each lane process's cores,
// this process's (the embedded broker's, mostly) and the machine's idle
// share of its cores.
func (u cpuUse) String() string {
	if len(u.Cores) == 0 {
		return "CPU not measured"
	}
	lanes := make([]string, 0, len(u.Cores)-1)
	for _, c := range u.Cores[1:] {
		lanes = append(lanes, strconv.FormatFloat(c, 'f', 2, 64))
	}
	return fmt.Sprintf("CPU over the window: lane process(es) %s cores, the bench process (broker) %.2f; the machine's %.0f cores %.0f%% idle",
		strings.Join(lanes, " + "), u.Cores[0], u.MachineCores, 100*u.MachineIdle)
}
