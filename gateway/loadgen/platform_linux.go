package loadgen

import (
	"fmt"
	"syscall"
	"time"
)

// selfCPU returns the user plus system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RaiseFileLimit raises this process's soft RLIMIT_NOFILE to at least n
// (never above the hard limit) and returns the new soft limit. It always
// sets the limit explicitly, so that processes started afterwards inherit
// it (Go otherwise gives children the limit the process started with). It
// returns an error wrapping ErrFileLimit when the hard limit is below n.
func RaiseFileLimit(n uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("loadgen: get RLIMIT_NOFILE: %w", err)
	}
	want := max(lim.Cur, min(n, lim.Max))
	lim.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("loadgen: set RLIMIT_NOFILE to %d: %w", want, err)
	}
	if want < n {
		return want, fmt.Errorf("%w: need %d open files, hard limit is %d (raise it with ulimit -Hn as root)", ErrFileLimit, n, lim.Max)
	}
	return want, nil
}

// childAttr puts a broker in its own process group, so a Ctrl-C on the
// terminal reaches only us and we stop it in order, and asks the kernel to
// kill it if we die without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
