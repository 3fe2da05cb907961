package topics

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCompactedLogReadsFromASlowBroker: every fetch is answered 25 ms
// late, as a broker on a loaded machine answers. The log is still read to
// its end: a late answer is asked again, never taken for an empty log or
// waited on until the load timeout (a kafka-go Reader with a 10 ms MaxWait
// read nothing here until its deadline).
func TestCompactedLogReadsFromASlowBroker(t *testing.T) {
	b := newBroker(t)
	l := openLog(t, b.Addrs(), "_schemas_slow", CompactedLogLoadTimeout(10*time.Second))
	appendAll(t, l, kv{Key: "a", Value: []byte("1")}, kv{Key: "b", Value: []byte("2")})

	var late atomic.Int64
	b.cluster.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		late.Add(1)
		wake := time.NewTimer(25 * time.Millisecond)
		b.cluster.SleepControl(func() { <-wake.C })
		return nil, nil, false
	})
	var got []string
	end, err := l.ReadFrom(context.Background(), 0, func(_ int64, key, _ []byte) error {
		got = append(got, string(key))
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFrom with fetches answered 25ms late: %v", err)
	}
	if end != 2 || len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("read %v, end %d; want [a b], end 2", got, end)
	}
	if late.Load() == 0 {
		t.Fatal("no fetch went through the slow broker")
	}
}
