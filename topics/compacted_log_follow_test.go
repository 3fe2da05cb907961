package topics

import (
	"context"
	"fmt"
	"testing"
)

// TestCompactedLogReadFromFollowsAppends: ReadFrom reads only what was
// appended since the offset it is given and returns the offset to read
// from next, so a follower reads each record once.
func TestCompactedLogReadFromFollowsAppends(t *testing.T) {
	b := newBroker(t)
	l := openLog(t, b.Addrs(), "_schemas_follow")
	readFrom := func(from int64) ([]string, int64) {
		t.Helper()
		var got []string
		end, err := l.ReadFrom(context.Background(), from, func(off int64, key, _ []byte) error {
			got = append(got, fmt.Sprintf("%d:%s", off, key))
			return nil
		})
		if err != nil {
			t.Fatalf("ReadFrom(%d): %v", from, err)
		}
		return got, end
	}
	if got, end := readFrom(0); len(got) != 0 || end != 0 {
		t.Fatalf("empty log: %v, end %d", got, end)
	}
	appendAll(t, l, kv{Key: "a", Value: []byte("1")}, kv{Key: "b", Value: []byte("2")}, kv{Key: "c", Value: []byte("3")})
	got, end := readFrom(0)
	if fmt.Sprint(got) != "[0:a 1:b 2:c]" || end != 3 {
		t.Fatalf("first read: %v, end %d", got, end)
	}
	appendAll(t, l, kv{Key: "d", Value: []byte("4")}, kv{Key: "a"})
	if got, next := readFrom(end); fmt.Sprint(got) != "[3:d 4:a]" || next != 5 {
		t.Fatalf("read from %d: %v, end %d", end, got, next)
	}
	if got, next := readFrom(5); len(got) != 0 || next != 5 {
		t.Fatalf("nothing new: %v, end %d", got, next)
	}
}
