//go:build !unix

package journal

// lockDir does nothing where flock is missing: the gateway runs on Linux,
// other systems only build it for development.
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }
