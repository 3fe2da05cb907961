//go:build unix

package topics

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive flock on dir/matriz-broker.lock so two brokers
// never write one data dir (kfake itself does not guard against it, and two
// writers would interleave its logs). The kernel drops the lock when the
// process dies, so a crash never leaves a stale lock behind.
func lockDir(dir string) (func() error, error) {
	path := filepath.Join(dir, "matriz-broker.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another running broker: stop it or pass another --data-dir", ErrDataDirInUse, dir)
		}
		return nil, fmt.Errorf("broker data dir lock: %w", err)
	}
	return f.Close, nil
}
