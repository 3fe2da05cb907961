package main

import (
	"errors"
	"runtime/debug"
	"strconv"
)

// `matriz run`'s default soft memory limit is sized by the lane's
// partitions: a lane process holds, per partition it works, a frame or
// two in the decimation ring and one in the chain, their outputs on the
// way to the Sink, and the Acks of what it read since its last commit —
// 15-18 MiB of live heap per partition under 10x overload, measured with
// `matriz bench --lane-memprofile` (about 110 MiB for 6 partitions). Left
// to GOGC=100 alone the heap grows to twice the live set, and more while
// a busy machine starves the GC's marking: 300-540 MiB resident for the
// same 110 MiB live. The limit keeps the heap near live + headroom:
// 96 MiB plus 20 MiB a partition, 216 MiB for the embedded spec's 6,
// the whole lane in one process. A process of a bigger lane, or one that
// holds more partitions than its lane's spec says, gets a limit to match
// with --memory-limit; a limit below the live set makes the GC run
// without pause (up to half the CPU) rather than fail.
const (
	memoryLimitBaseMiB         = 96
	memoryLimitPerPartitionMiB = 20
)

// defaultMemoryLimitMiB is the soft memory limit of a process running a
// lane of partitions partitions.
func defaultMemoryLimitMiB(partitions int) int {
	return memoryLimitBaseMiB + memoryLimitPerPartitionMiB*max(partitions, 1)
}

// laneGCPercent is the GOGC of a process whose heap the limit matriz
// sets bounds. Below the limit a lane's heap is small, and GOGC=100
// collects each time it doubles: in `matriz bench`'s steady phase, 20,000
// msgs/s with the lane in the bench's process, that was 14% of the
// process's CPU (94-117 cycles in 10 s), and more of its seconds had a
// p99 over 100 ms. The limit, not GOGC, is what keeps memory
// bounded, so GOGC can let the heap grow toward it: 400 made it 3-4%
// (26-29 cycles), and under overload, where the live set nears the limit,
// the limit sets the pace as before (peak RSS 231-235 MiB with either).
const laneGCPercent = 400

// setMemoryLimit sets the process's soft memory limit to mib MiB unless
// GOMEMLIMIT is set (the runtime applied it already) or mib is 0. With the
// limit it sets, GOGC is laneGCPercent unless GOGC is set: a GOMEMLIMIT
// from the environment may be sized for anything, so under it the GC is
// left as the environment made it.
func setMemoryLimit(mib int, getenv func(string) string) {
	if mib <= 0 || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(int64(mib) << 20)
	setLaneGC(getenv)
}

// setLaneGC sets GOGC to laneGCPercent unless GOGC or GOMEMLIMIT is set,
// and says what GOGC is in force.
func setLaneGC(getenv func(string) string) string {
	if v := getenv("GOGC"); v != "" {
		return "GOGC " + v + " (from the environment)"
	}
	if getenv("GOMEMLIMIT") != "" {
		return "GOGC 100 (GOMEMLIMIT is set: the GC is left as the environment made it)"
	}
	debug.SetGCPercent(laneGCPercent)
	return "GOGC " + strconv.Itoa(laneGCPercent) + " (as `matriz run` under its memory limit; GOGC or GOMEMLIMIT in the environment wins)"
}

// memoryLimitFlag is --memory-limit: MiB, or the lane's default when not
// given.
type memoryLimitFlag struct {
	mib int
	set bool
}

func (f *memoryLimitFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.Itoa(f.mib)
}

func (f *memoryLimitFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return errors.New("want MiB ≥ 0")
	}
	f.mib, f.set = n, true
	return nil
}

// orDefault is the limit given, or the default for a lane of partitions.
func (f *memoryLimitFlag) orDefault(partitions int) int {
	if f.set {
		return f.mib
	}
	return defaultMemoryLimitMiB(partitions)
}
