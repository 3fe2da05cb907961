package bench

import (
	"fmt"
	"os"
)

// brokerLogDir makes the temporary directory the bench's embedded broker
// writes its log to, and returns it with the function that removes it;
// inMemory gives no directory, so the broker keeps its log in memory.
//
// Files are the default: kfake's in-memory log grows each segment by
// doubling and copying it under one lock shared by every partition. In a
// BenchmarkLaneChain profile that copying was 21% of the process's CPU,
// and it kept every record on the bench's heap (a 9.5 GiB peak RSS over a
// --short run, against 0.35 GiB with files).
func brokerLogDir(inMemory bool) (string, func(), error) {
	if inMemory {
		return "", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "matriz-bench-broker-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: the broker's log directory: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
