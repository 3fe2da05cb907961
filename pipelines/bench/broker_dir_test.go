package bench

import (
	"os"
	"testing"
)

// TestBrokerLogDirIsATempDirRemovedAfter: by default the broker's log
// goes to a new directory that the cleanup removes; in memory there is
// none.
func TestBrokerLogDirIsATempDirRemovedAfter(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir, remove, err := brokerLogDir(false)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("broker log dir %q: %v", dir, err)
	}
	remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("after cleanup, stat %q: %v, want it gone", dir, err)
	}
	if dir, remove, err := brokerLogDir(true); err != nil || dir != "" {
		t.Fatalf("in memory: dir %q, err %v", dir, err)
	} else {
		remove()
	}
}

// TestBrokerLogDirReportsWhereItCannotMakeOne: a TMPDIR that is not a
// directory is an error naming what it was for.
func TestBrokerLogDirReportsWhereItCannotMakeOne(t *testing.T) {
	t.Setenv("TMPDIR", "/dev/null/none")
	if _, _, err := brokerLogDir(false); err == nil {
		t.Fatal("no error for a TMPDIR that cannot hold a directory")
	}
}
