package bench

// Peak resident memory per phase. VmHWM in /proc/<pid>/status is the peak
// of the whole process's life, so a phase's peak is the largest VmRSS
// sampled while it runs — of this process, or of a lane process a phase
// started (so the figure is the lane's alone, not the embedded broker's).

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/matriz/pipelines/clock"
)

// rssEvery is how often the sampler reads VmRSS.
const rssEvery = 100 * time.Millisecond

// ErrNoRSS says /proc/<pid>/status held no VmRSS line (not Linux, or a
// process that has exited and is not yet reaped).
var ErrNoRSS = errors.New("no VmRSS in /proc/<pid>/status")

// parseVmRSS reads the VmRSS line of a /proc/<pid>/status text, in bytes.
func parseVmRSS(status string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want \"VmRSS: N kB\"", sc.Text())
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", sc.Text(), err)
		}
		return kb << 10, nil
	}
	return 0, ErrNoRSS
}

// readVmRSS reads process pid's VmRSS; pid 0 is this process.
func readVmRSS(pid int) (uint64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

// settledRSS collects garbage, returns what it can to the OS and reads
// VmRSS: what the process holds before a phase starts.
func settledRSS() uint64 {
	goruntime.GC()
	debug.FreeOSMemory()
	v, _ := readVmRSS(0)
	return v
}

// rssSampler keeps the largest VmRSS it sampled of one process.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	max  uint64
	err  error
	stop chan struct{}
	done chan struct{}
}

// sampleRSS samples process pid (0: this one) now and every rssEvery
// until stopped.
func sampleRSS(cl clock.Clock, pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		tk := cl.NewTicker(rssEvery)
		defer tk.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C():
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	v, err := readVmRSS(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		return
	}
	s.max = max(s.max, v)
}

// soFar samples once more and returns the largest VmRSS so far, sampling
// on: the overload phases read it as offering ends, to tell the peak while
// input was offered from the peak after, while the lane drains.
func (s *rssSampler) soFar() uint64 {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// peak stops sampling (once sampled a last time) and returns the peak.
func (s *rssSampler) peak() (uint64, error) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
		<-s.done
		s.sample()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, s.err
}

// mib renders bytes in MiB.
func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
