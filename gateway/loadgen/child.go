package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a broker gets to exit after SIGTERM before it is
// killed.
const stopTimeout = 5 * time.Second

// child is a broker process started by this package. Its output goes to a
// log file, whose tail explains an early exit.
type child struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once Wait has returned
	waitErr error         // set before exited is closed

	stopOnce sync.Once
}

// startChild starts bin with args, its output to logPath and env as its
// environment (nil: ours). The goroutine that waits for the process is
// awaited by stop.
func startChild(bin string, args []string, env []string, logPath string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: log file: %v", ErrBroker, err)
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = env
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %v", ErrBroker, bin, err)
	}
	c := &child{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// pid returns the process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// hasExited reports whether the process has ended.
func (c *child) hasExited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// exitError describes an early exit, with the tail of the log.
func (c *child) exitError() error {
	<-c.exited
	return fmt.Errorf("%w: %s exited: %v\n%s", ErrBroker, c.cmd.Path, c.waitErr, c.logTail(2048))
}

// logTail returns the last n bytes of the log.
func (c *child) logTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(bytes.TrimSpace(b))
}

// stop sends SIGTERM, kills the process if it has not exited within
// stopTimeout, and waits for it. It may be called more than once.
func (c *child) stop() {
	c.stopOnce.Do(func() {
		if c.hasExited() {
			return
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(stopTimeout)
		defer t.Stop()
		select {
		case <-c.exited:
		case <-t.C:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	<-c.exited
}
