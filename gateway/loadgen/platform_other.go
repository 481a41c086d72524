//go:build !linux

package loadgen

import (
	"fmt"
	"runtime"
	"syscall"
	"time"
)

func selfCPU() time.Duration { return 0 }

// RaiseFileLimit is only implemented on Linux.
func RaiseFileLimit(n uint64) (uint64, error) {
	return 0, fmt.Errorf("%w: %s", ErrFileLimit, runtime.GOOS)
}

func childAttr() *syscall.SysProcAttr { return nil }
