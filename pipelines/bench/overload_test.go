package bench

import (
	"errors"
	"testing"
)

// TestParseVmRSS reads the resident set from a /proc status text in bytes
// and refuses a text without it or with a unit it does not know.
func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS("Name:\tbench\nVmHWM:\t  300000 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n")
	if err != nil || got != 123456*1024 {
		t.Fatalf("parseVmRSS = %d, %v; want %d", got, err, 123456*1024)
	}
	if _, err := parseVmRSS("Name:\tbench\n"); !errors.Is(err, ErrNoRSS) {
		t.Fatalf("no VmRSS line: err %v, want ErrNoRSS", err)
	}
	if _, err := parseVmRSS("VmRSS:\t12 MB\n"); err == nil {
		t.Fatal("VmRSS in MB: want an error")
	}
}

// TestReadVmRSSOfThisProcess: on Linux the sampler reads a plausible
// figure for the test process itself.
func TestReadVmRSSOfThisProcess(t *testing.T) {
	v, err := readVmRSS()
	if err != nil {
		t.Fatal(err)
	}
	if v < 1<<20 || v > 64<<30 {
		t.Fatalf("VmRSS %d bytes: not a resident set a test process has", v)
	}
}

// TestOffsetSets: offsets are kept per partition, across word boundaries,
// and an offset never added (or negative) is not in the set.
func TestOffsetSets(t *testing.T) {
	s := offsetSets{}
	for _, o := range []int64{0, 63, 64, 1000} {
		s.add(2, o)
	}
	s.add(2, -1)
	for _, o := range []int64{0, 63, 64, 1000} {
		if !s.has(2, o) {
			t.Errorf("offset %d of partition 2 missing", o)
		}
	}
	for _, c := range []struct {
		p int32
		o int64
	}{{2, 1}, {2, 65}, {2, 999}, {2, 1001}, {2, 1 << 20}, {2, -1}, {1, 0}} {
		if s.has(c.p, c.o) {
			t.Errorf("partition %d offset %d: in the set, never added", c.p, c.o)
		}
	}
}
