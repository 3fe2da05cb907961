// Package topicstest holds what the tests of Kafka-facing code share: a
// check that the code under test closed every kafka-go transport it made.
//
// Why it matters: each pool of a kafka-go Transport runs a goroutine that
// asks its cluster for metadata every few seconds, over a connection of its
// own, until the transport is closed (CloseIdleConnections); kafka-go's
// Writer.Close leaves a transport it was given open. A transport made per
// generation, per Sink or per lookup and never closed is a goroutine, a
// connection and a stream of metadata requests for every one ever made,
// for as long as the process runs.
package topicstest

import (
	"bytes"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// discoverFrame is the function every open kafka-go pool's goroutine runs.
const discoverFrame = "github.com/segmentio/kafka-go.(*connPool).discover"

// Pools counts the kafka-go connection pools open in this process.
func Pools() int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return 0
	}
	return countPools(buf.String())
}

// countPools reads a goroutine profile in its grouped form (debug=1): a
// group is "N @ addresses" followed by one "#" line per frame.
func countPools(profile string) int {
	n, group := 0, 0
	for line := range strings.SplitSeq(profile, "\n") {
		if count, _, ok := strings.Cut(line, " @ "); ok {
			group, _ = strconv.Atoi(count)
			continue
		}
		if strings.Contains(line, discoverFrame+"+") {
			n += group
			group = 0 // a frame appears once per stack; count the group once
		}
	}
	return n
}

// CloseDefaultTransport closes the pools of kafka-go's default transport,
// which a test's own kafka.Client or kafka.Writer made without a transport
// share. Call it when the test's cluster is gone, before
// ExpectNoPoolsLeft: the code under test must close its own.
func CloseDefaultTransport() {
	if tr, ok := kafka.DefaultTransport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
}

// poolsCloseWithin bounds how long closed pools may take to stop: their
// goroutines return at once, but asynchronously.
const poolsCloseWithin = 5 * time.Second

// ExpectNoPoolsLeft fails t when more pools are open than before (Pools
// when the test began) once closed pools have had time to stop.
func ExpectNoPoolsLeft(t testing.TB, before int) {
	t.Helper()
	expectNoPoolsLeftWithin(t, before, poolsCloseWithin)
}

func expectNoPoolsLeftWithin(t testing.TB, before int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := Pools()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d kafka-go connection pools left open by this test (%d were open before it): a kafka.Transport was not closed with CloseIdleConnections, and each open pool keeps a goroutine and a connection asking for metadata for the life of the process", n-before, before)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
