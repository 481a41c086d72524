// Package version carries the build's version and commit, stamped at link
// time with -ldflags "-X github.com/perch-gw/perch/gateway/version.Version=..."
package version

import "runtime/debug"

// Set by the linker; see the Makefile.
var (
	Version = "dev"
	Commit  = ""
)

// String returns "VERSION (COMMIT)", reading the commit from the Go build
// info when the linker did not stamp one.
func String() string {
	c := Commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			}
		}
	}
	if c == "" {
		return Version
	}
	return Version + " (" + c + ")"
}
