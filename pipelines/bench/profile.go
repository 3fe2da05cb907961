package bench

// What a phase costs the process: allocations (runtime.MemStats Mallocs),
// resident memory (VmRSS sampled, VmHWM at the end), and optional CPU and
// allocation profiles of the chain phase. Everything runs in one process
// with the embedded broker, so these figures include the broker's share.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/observe"
)

// phaseCost measures one phase: start it, run the phase, stop it.
type phaseCost struct {
	mallocs0 uint64
	peak     int64
	mu       sync.Mutex
	stop     chan struct{}
	done     chan struct{}
}

// startCost starts counting allocations and sampling VmRSS every period.
func startCost(cl clock.Clock, period time.Duration) *phaseCost {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c := &phaseCost{mallocs0: ms.Mallocs, stop: make(chan struct{}), done: make(chan struct{})}
	c.sample()
	go func() {
		defer close(c.done)
		tk := cl.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tk.C():
				c.sample()
			}
		}
	}()
	return c
}

func (c *phaseCost) sample() {
	rss, err := observe.ProcessRSS()
	if err != nil {
		return // no /proc: the peak stays 0, reported as not measured
	}
	c.mu.Lock()
	c.peak = max(c.peak, rss)
	c.mu.Unlock()
}

// finish stops sampling; it returns the allocations since start and the
// largest VmRSS seen.
func (c *phaseCost) finish() (mallocs uint64, peakRSS uint64) {
	c.sample()
	close(c.stop)
	<-c.done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c.mu.Lock()
	defer c.mu.Unlock()
	return ms.Mallocs - c.mallocs0, uint64(c.peak)
}

// processHWM is the process's peak resident set (VmHWM) in bytes; 0 where
// /proc is not there.
func processHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	n, err := parseStatusKB(b, "VmHWM:")
	if err != nil {
		return 0
	}
	return n
}

// parseStatusKB reads a "<field>	  91236 kB" line of /proc/self/status.
func parseStatusKB(status []byte, field string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		num, ok := bytes.CutSuffix(bytes.TrimSpace(rest), []byte(" kB"))
		if !ok {
			return 0, fmt.Errorf("%s line %q: want \"<n> kB\"", field, sc.Text())
		}
		kb, err := strconv.ParseUint(string(bytes.TrimSpace(num)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s line %q: %w", field, sc.Text(), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line", field)
}

// profiles writes a CPU profile and an allocation profile of one phase.
type profiles struct {
	cpu   *os.File
	memTo string
}

// memProfileRate is runtime.MemProfileRate's default: one sample per
// 512 KiB allocated.
const memProfileRate = 512 * 1024

// quietMemProfile stops allocation sampling until startProfiles, so the
// allocation profile covers the profiled phase only (Run calls it first
// when a --memprofile is asked for).
func quietMemProfile() { runtime.MemProfileRate = 0 }

// startProfiles starts the CPU profile into cpuFile and the allocation
// sampling for memFile; empty names skip either.
func startProfiles(cpuFile, memFile string) (*profiles, error) {
	p := &profiles{memTo: memFile}
	if memFile != "" {
		runtime.MemProfileRate = memProfileRate
	}
	if cpuFile != "" {
		f, err := os.Create(cpuFile)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		p.cpu = f
	}
	return p, nil
}

// stop ends the CPU profile and writes the allocation profile.
func (p *profiles) stop() error {
	var errs []error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--cpuprofile: %w", err))
		}
		p.cpu = nil
	}
	if p.memTo != "" {
		// The profile shows allocations as of the last GC; collect so the
		// phase's last ones count.
		runtime.GC()
		err := writeAllocProfile(p.memTo)
		if err != nil {
			errs = append(errs, fmt.Errorf("--memprofile: %w", err))
		}
		p.memTo = ""
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func writeAllocProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
