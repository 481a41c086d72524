package config

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// Every problem Load and Validate report wraps one of these; several
// problems are joined (errors.Join), one per line. A file that cannot be
// read is reported with the os error instead (errors.Is(err, fs.ErrNotExist)).
var (
	// ErrInvalid: a value is out of its range or inconsistent with another
	// (Validate), or an item of devices or buckets is invalid (Validate and
	// Load: a missing, bad or repeated id, bad credentials, retention or
	// resolution).
	ErrInvalid = errors.New("invalid configuration")
	// ErrUnknownKey: the file has a key, or the environment a PERCH_*
	// variable, that names no configuration key.
	ErrUnknownKey = errors.New("unknown configuration key")
	// ErrBadValue: a value in the file or the environment does not parse as
	// its key's type (int, bool, duration, string, list of strings).
	ErrBadValue = errors.New("configuration value of the wrong type")
	// ErrSyntax: the file is not well-formed YAML, or not a mapping of keys.
	ErrSyntax = errors.New("malformed configuration file")
)

// problem is one thing wrong with one key.
type problem struct {
	where string // "/etc/perch/perch.yaml:7", "environment"; "" for Validate
	key   string // "mqtt.tls.address", or the variable's name for the environment
	msg   string
	kind  error // one of the ErrX sentinels
	line  int   // the line in where, for ordering; 0 when unknown
}

func (p *problem) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if p.where != "" {
		b.WriteString(p.where)
		b.WriteString(": ")
	}
	if p.key != "" {
		b.WriteString(showKey(p.key))
		b.WriteString(": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

func (p *problem) Unwrap() error { return p.kind }

// showKey prints a key as is when it is plain text, else quoted: keys in
// messages can come from a file or the environment.
func showKey(k string) string {
	if k == "" {
		return `""`
	}
	for _, r := range k {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return strconv.Quote(k)
		}
	}
	return k
}
