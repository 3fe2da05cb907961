//go:build !linux

package bench

import "syscall"

// childAttr: only Linux can tie a child's life to its parent's; elsewhere
// a child is killed by the bench's own exits alone.
func childAttr() *syscall.SysProcAttr { return nil }
