package main

import "runtime/debug"

// DefaultRunMemoryLimitMiB is `matriz run`'s soft heap limit: none. Under
// overload a lane's GC, marking slowly on a busy machine, counts what was
// allocated meanwhile as live and sets its next goal at twice that: the
// experimental lane's resident set reached 300-760 MiB at 10× overload.
// A 200 MiB limit held it near 216-300 MiB, but a lane with a backlog on
// all six partitions holds more than that live (the ring's frames, the
// readers' queues, outputs in flight), and with any limit up to 240 MiB
// its GC ran without pause: one process with a backlog answered 2,000
// msgs/s instead of 7,600-8,900 (measured pairwise, same machine). So the
// limit is the operator's choice, for lanes sized to stay under it.
const DefaultRunMemoryLimitMiB = 0

// setMemoryLimit sets the process's soft memory limit to mib MiB unless
// GOMEMLIMIT is set (the runtime applied it already) or mib is 0.
func setMemoryLimit(mib int, getenv func(string) string) {
	if mib <= 0 || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(int64(mib) << 20)
}
