//go:build !(linux || darwin || freebsd)

package health

import "errors"

func diskSpace(string) (uint64, uint64, error) {
	return 0, 0, errors.New("free disk space is not available on this system")
}
