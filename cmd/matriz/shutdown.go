package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownBound is how long a command may take to finish after SIGINT or
// SIGTERM. A lane finishes its open frames, flushes and commits within its
// drain timeout; whatever still holds it past this bound (an executor that
// does not answer, a broker gone mid-drain) is not worth hanging a
// deployment's rollout on, nor being ended by SIGKILL without a word.
// Nothing is lost by leaving then: an offset commits only after its
// outputs, so the partitions' next owner redoes what was not committed.
const shutdownBound = 15 * time.Second

// boundShutdown waits for the signal that ends ctx, then exits the process
// with code 1 and one line on stderr when the command has not returned
// within bound, or at once on a second signal.
func boundShutdown(ctx context.Context, stderr io.Writer, bound time.Duration, exit func(int)) {
	<-ctx.Done()
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-t.C:
		fmt.Fprintf(stderr, "matriz: still stopping %v after the signal; exiting without finishing: what was not committed is redone by the next owner of its partition\n", bound)
	case s := <-again:
		fmt.Fprintf(stderr, "matriz: second %v; exiting without finishing: what was not committed is redone by the next owner of its partition\n", s)
	}
	exit(1)
}
