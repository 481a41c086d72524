//go:build linux || darwin || freebsd

package health

import "syscall"

// diskSpace is the size and the space free to unprivileged users of the
// file system holding path.
func diskSpace(path string) (total, free uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Blocks) * uint64(st.Bsize), uint64(st.Bavail) * uint64(st.Bsize), nil
}
