package topicstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestCountPoolsReadsGroupedProfiles: groups whose stack runs the pool's
// discover loop count with their size; others do not count.
func TestCountPoolsReadsGroupedProfiles(t *testing.T) {
	profile := "goroutine profile: total 10\n" +
		"7 @ 0x49084e 0x46c6e5 0xcb64e8 0x498ce1\n" +
		"#\t0xcb64e7\t" + discoverFrame + "+0x467\t/mod/kafka-go/transport.go:631\n" +
		"\n" +
		"2 @ 0x49084e 0x41ea6e\n" +
		"#\t0xcba6b9\tgithub.com/segmentio/kafka-go.(*conn).run+0x99\t/mod/kafka-go/transport.go:1257\n" +
		"\n" +
		"1 @ 0x49084e\n" +
		"#\t0x1\tmain.discoverSomething+0x1\t/x.go:1\n"
	if n := countPools(profile); n != 7 {
		t.Fatalf("counted %d pools, want 7", n)
	}
}

// TestPoolsSeesATransportUntilItIsClosed: a transport's pool is counted
// from its first request until CloseIdleConnections, and the check fails
// a test that leaves one open.
func TestPoolsSeesATransportUntilItIsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and hold: the request below waits for its timeout
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	before := Pools()
	tr := &kafka.Transport{DialTimeout: time.Second}
	cl := &kafka.Client{Addr: kafka.TCP(ln.Addr().String()), Timeout: 20 * time.Millisecond, Transport: tr}
	_, _ = cl.Metadata(context.Background(), &kafka.MetadataRequest{})
	if n := Pools(); n != before+1 {
		t.Fatalf("%d pools open after one transport's request, want %d", n, before+1)
	}
	leaky := &recorder{TB: t}
	expectNoPoolsLeftWithin(leaky, before, 50*time.Millisecond)
	if !leaky.failed {
		t.Fatal("the check passed with a transport left open")
	}
	tr.CloseIdleConnections()
	ExpectNoPoolsLeft(t, before)
}

// recorder is a testing.TB that notes a failure instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}
