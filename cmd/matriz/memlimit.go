package main

import "runtime/debug"

// DefaultRunMemoryLimitMiB is `matriz run`'s soft heap limit. A lane's
// live data is bounded (source queues, the decimation ring, outputs in
// flight: about 100 MiB at 10× overload), but on a busy machine a GC
// cycle that marks slowly sees everything allocated meanwhile as live and
// sets the next goal at twice that: without a limit the heap, and the
// resident set, grew past 700 MiB under overload. The limit has the GC
// start early instead, which keeps the process under the 256 MiB the lane
// is held to, stacks and runtime overhead included.
const DefaultRunMemoryLimitMiB = 200

// setMemoryLimit sets the process's soft memory limit to mib MiB unless
// GOMEMLIMIT is set (the runtime applied it already) or mib is 0.
func setMemoryLimit(mib int, getenv func(string) string) {
	if mib <= 0 || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(int64(mib) << 20)
}
