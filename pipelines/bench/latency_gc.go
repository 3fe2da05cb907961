package bench

// How much of the process's CPU garbage collection took during a phase:
// the embedded broker, the producers and the chain share this process's
// heap, so their GC work competes with the chain (and with
// --broker-in-memory every record is on that heap too).

import (
	"fmt"
	"runtime/metrics"
)

// gcCPU is a reading of the runtime's cumulative CPU and GC figures.
type gcCPU struct{ gc, total, cycles float64 }

var gcMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/cpu/classes/total:cpu-seconds", "/gc/cycles/total:gc-cycles"}

func readGCCPU() gcCPU {
	s := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) float64 {
		switch s[i].Value.Kind() {
		case metrics.KindFloat64:
			return s[i].Value.Float64()
		case metrics.KindUint64:
			return float64(s[i].Value.Uint64())
		}
		return 0
	}
	return gcCPU{gc: v(0), total: v(1), cycles: v(2)}
}

// gcShare is the GC's part of the CPU between two readings.
type gcShare struct {
	Share  float64 // of the process's CPU time
	Cycles int
}

func (r gcCPU) since(before gcCPU) gcShare {
	s := gcShare{Cycles: int(r.cycles - before.cycles)}
	if d := r.total - before.total; d > 0 {
		s.Share = (r.gc - before.gc) / d
	}
	return s
}

func (s gcShare) String() string {
	return fmt.Sprintf("%.0f%% of the process's CPU, %d cycles", 100*s.Share, s.Cycles)
}
