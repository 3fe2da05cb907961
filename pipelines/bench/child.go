package bench

// A process a phase starts (a `matriz run` lane): the phase owns it until
// stop, and it never outlives the bench. It is killed when the phase's
// context ends (SIGINT and SIGTERM cancel the bench's context), when its
// start fails, and — by the kernel, see child_linux.go — when the bench
// itself dies. One that exits before it is stopped is an error naming it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/matriz/pipelines/clock"
)

// childPoll is how often a wait for a child checks its deadline.
const childPoll = 10 * time.Millisecond

// childTail is how many of a child's last output lines an error quotes.
const childTail = 12

// child is a started process.
type child struct {
	name     string
	cmd      *exec.Cmd
	exited   chan struct{} // closed once Wait returned
	waitErr  error         // Wait's result, set before exited closes
	stopping atomic.Bool   // stop or kill asked for the exit
	ready    chan struct{} // closed at the first output line holding the ready text
	outDone  chan struct{} // closed once the output is read to its end

	mu   sync.Mutex
	tail []string
}

// startChild starts path with args and waits until a line of its output
// (stdout or stderr) contains readyText, within; it kills the child when
// ctx ends. name is what errors call it.
func startChild(ctx context.Context, cl clock.Clock, name, path string, args, env []string, readyText string, within time.Duration) (*child, error) {
	c := &child{name: name, exited: make(chan struct{}), ready: make(chan struct{}), outDone: make(chan struct{})}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = env
	c.cmd.SysProcAttr = childAttr()
	pr, pw := io.Pipe()
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go c.readOutput(pr, readyText)
	go func() {
		c.waitErr = c.cmd.Wait()
		pw.Close()
		close(c.exited)
	}()
	go func() {
		select {
		case <-ctx.Done():
			c.kill()
		case <-c.exited:
		}
	}()
	tk := cl.NewTicker(childPoll)
	defer tk.Stop()
	deadline := cl.Now().Add(within)
	for {
		select {
		case <-c.ready:
			return c, nil
		case <-c.exited:
			<-c.outDone
			return nil, fmt.Errorf("%s exited before it was ready (%v)%s", c, c.waitErr, c.lastOutput())
		case now := <-tk.C():
			if now.Before(deadline) {
				continue
			}
			c.kill()
			return nil, fmt.Errorf("%s not ready within %v%s", c, within, c.lastOutput())
		case <-ctx.Done():
			c.kill()
			return nil, ctx.Err()
		}
	}
}

func (c *child) String() string {
	if c.cmd.Process == nil {
		return c.name
	}
	return fmt.Sprintf("%s (pid %d)", c.name, c.cmd.Process.Pid)
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) readOutput(r io.Reader, readyText string) {
	defer close(c.outDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	isReady := false
	for sc.Scan() {
		line := sc.Text()
		c.mu.Lock()
		c.tail = append(c.tail, line)
		if len(c.tail) > childTail {
			c.tail = c.tail[len(c.tail)-childTail:]
		}
		c.mu.Unlock()
		if !isReady && strings.Contains(line, readyText) {
			isReady = true
			close(c.ready)
		}
	}
	io.Copy(io.Discard, r) // a line too long for the scanner must not block the child
}

// lastOutput is the child's last output lines, for an error.
func (c *child) lastOutput() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tail) == 0 {
		return "; it printed nothing"
	}
	return "; its last output:\n  " + strings.Join(c.tail, "\n  ")
}

// err is nil while the child runs or once it was stopped; a child that
// exited on its own is an error naming it.
func (c *child) err() error {
	select {
	case <-c.exited:
		if c.stopping.Load() {
			return nil
		}
		<-c.outDone
		return fmt.Errorf("%s exited early (%v)%s", c, c.waitErr, c.lastOutput())
	default:
		return nil
	}
}

// stop asks the child to finish (SIGTERM: a lane closes its frames,
// flushes, commits and leaves its group) and waits for it; after grace it
// is killed. An exit that is not clean is an error naming the child.
func (c *child) stop(cl clock.Clock, grace time.Duration) error {
	if err := c.err(); err != nil {
		return err
	}
	c.stopping.Store(true)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.kill()
		return fmt.Errorf("stop %s: %w", c, err)
	}
	tk := cl.NewTicker(childPoll)
	defer tk.Stop()
	deadline := cl.Now().Add(grace)
wait:
	for {
		select {
		case <-c.exited:
			break wait
		case now := <-tk.C():
			if !now.Before(deadline) {
				c.kill()
				return fmt.Errorf("%s did not stop within %v of SIGTERM: killed%s", c, grace, c.lastOutput())
			}
		}
	}
	<-c.outDone
	if c.waitErr != nil {
		return fmt.Errorf("%s stopped with %v%s", c, c.waitErr, c.lastOutput())
	}
	return nil
}

// kill kills the child and waits until it is gone; killing one that has
// exited does nothing.
func (c *child) kill() {
	c.stopping.Store(true)
	c.cmd.Process.Kill()
	<-c.exited
}
