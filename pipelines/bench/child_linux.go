package bench

import "syscall"

// childAttr has the kernel kill a child when the bench dies, even by
// SIGKILL, where no deferred kill runs: a lane left running would keep
// its group's partitions and its memory.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
