// Package acl matches MQTT topics against topic filters and holds a device's
// compiled access rules.
//
// The matching functions implement MQTT 3.1.1 and 5.0 §4.7: '/' separates
// levels, '+' matches exactly one level (possibly empty), '#' matches the
// rest of the topic including its parent level ("sport/#" matches "sport"),
// and a wildcard in the first level never matches a topic beginning with '$'.
//
// The broker consults a [Compiled] rule set once per delivered message per
// subscriber, so [Match], [Compiled.CanReceive] and the other checks allocate
// nothing and run in O(len(topic) + number of rules).
package acl

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidFilter is wrapped by errors reporting a malformed topic filter,
// shared subscription or access rule.
var ErrInvalidFilter = errors.New("acl: invalid topic filter")

// ErrInvalidTopic is wrapped by errors reporting a malformed topic name.
var ErrInvalidTopic = errors.New("acl: invalid topic name")

// maxLen is the longest topic or filter MQTT can carry (a two-byte length prefix).
const maxLen = 65535

// Reasons reported after the sentinel; kept as constants so the hot path can
// return them without allocating.
const (
	reasonEmpty      = "empty"
	reasonTooLong    = "longer than 65535 bytes"
	reasonUTF8       = "not valid UTF-8"
	reasonNUL        = "contains NUL"
	reasonHashLast   = "'#' must be the last level"
	reasonHashLevel  = "'#' must occupy a whole level"
	reasonPlusLevel  = "'+' must occupy a whole level"
	reasonWildcard   = "contains a wildcard ('+' or '#')"
	reasonShareShape = "shared subscription must be $share/<group>/<filter>"
	reasonShareGroup = "share group must not contain '+' or '#'"
)

// sharePrefix starts a shared subscription. mochi recognises it regardless of
// case, and so do we, so that the ACL checks the filter the broker subscribes.
const sharePrefix = "$share"

// ValidFilter reports whether f is a valid MQTT topic filter: non-empty, at
// most 65535 bytes of valid UTF-8 without NUL, '+' alone in its level and '#'
// alone in the last level. The error wraps [ErrInvalidFilter] and gives the reason.
func ValidFilter(f string) error {
	if p := filterProblem(f); p != "" {
		return fmt.Errorf("%w %s: %s", ErrInvalidFilter, quote(f), p)
	}
	return nil
}

// ValidTopic reports whether t is a valid MQTT topic name: non-empty, at most
// 65535 bytes of valid UTF-8 without NUL or wildcards. The error wraps
// [ErrInvalidTopic] and gives the reason.
func ValidTopic(t string) error {
	if p := topicProblem(t); p != "" {
		return fmt.Errorf("%w %s: %s", ErrInvalidTopic, quote(t), p)
	}
	return nil
}

// filterProblem returns why f is not a valid topic filter, or "".
func filterProblem(f string) string {
	switch {
	case f == "":
		return reasonEmpty
	case len(f) > maxLen:
		return reasonTooLong
	case strings.IndexByte(f, 0) >= 0:
		return reasonNUL
	case !utf8.ValidString(f):
		return reasonUTF8
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '+':
			if !aloneInLevel(f, i) {
				return reasonPlusLevel
			}
		case '#':
			if !aloneInLevel(f, i) {
				return reasonHashLevel
			}
			if i != len(f)-1 {
				return reasonHashLast
			}
		}
	}
	return ""
}

// aloneInLevel reports whether the byte at i is the whole of its level.
func aloneInLevel(f string, i int) bool {
	return (i == 0 || f[i-1] == '/') && (i == len(f)-1 || f[i+1] == '/')
}

// topicProblem returns why t is not a valid topic name, or "". It is on the
// publish path, so it uses the vectorised string functions rather than a
// byte loop.
func topicProblem(t string) string {
	switch {
	case t == "":
		return reasonEmpty
	case len(t) > maxLen:
		return reasonTooLong
	case strings.IndexByte(t, 0) >= 0:
		return reasonNUL
	case strings.IndexByte(t, '+') >= 0 || strings.IndexByte(t, '#') >= 0:
		return reasonWildcard
	case !utf8.ValidString(t):
		return reasonUTF8
	}
	return ""
}

// quote quotes s for an error message, eliding the middle of long input.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…(%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// level splits s at its first '/': the first level, the rest after the
// separator, and whether there was a separator.
func level(s string) (first, rest string, more bool) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// Match reports whether the topic name matches the topic filter, following
// MQTT §4.7: "sport/#" matches "sport" and "sport/x/y", "+/+" matches "/",
// and "#" or "+/..." never match a topic beginning with '$'.
//
// Match expects a valid filter and a valid topic name (see [ValidFilter] and
// [ValidTopic]); for other input the result is unspecified, but Match does not
// panic. It does not allocate.
func Match(filter, topic string) bool {
	if filter == "" || topic == "" {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		fl, frest, fmore := level(filter)
		if fl == "#" {
			return true
		}
		tl, trest, tmore := level(topic)
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "sport/#" matches "sport"
		}
		filter, topic = frest, trest
	}
}

// Covers reports whether every topic that filter sub matches is also matched
// by filter allowed, so that a subscription to sub may be granted under an ACL
// entry allowed. For example "a/#" covers "a/+/b", "a/+/c" covers "a/b/c",
// but "a/+" does not cover "a/#" and "#" does not cover "$SYS/#".
// For a topic name t (no wildcards), Covers(f, t) equals Match(f, t).
// Covers is exact, not merely safe, and is false when either filter is invalid.
func Covers(allowed, sub string) bool {
	if filterProblem(allowed) != "" || filterProblem(sub) != "" {
		return false
	}
	return covers(allowed, sub)
}

// covers is Covers for filters known to be valid.
func covers(allowed, sub string) bool {
	if sub[0] == '$' && (allowed[0] == '+' || allowed[0] == '#') {
		return false // sub can match '$' topics, allowed cannot
	}
	whole := sub
	for {
		al, arest, amore := level(allowed)
		if al == "#" {
			return true
		}
		sl, srest, smore := level(sub)
		switch {
		case sl == "#":
			// '#' matches the parent level and any number of levels below,
			// where al matches exactly one. Only "+/#" can cover it, and only
			// when the parent would be the empty, invalid, topic: for sub
			// "#" or "/#".
			parent := whole[:len(whole)-len(sub)]
			return al == "+" && amore && arest == "#" && (parent == "" || parent == "/")
		case al == "+":
			// one level covers one level, literal or '+'
		case al != sl:
			return false // a literal covers only itself
		}
		switch {
		case !amore:
			return !smore
		case !smore:
			return arest == "#"
		}
		allowed, sub = arest, srest
	}
}

// SharedFilter strips a shared-subscription prefix "$share/<group>/" from f
// and returns the underlying filter, and whether there was such a prefix. The
// prefix is recognised regardless of case, as mochi does. The underlying
// filter is validated; the error wraps [ErrInvalidFilter].
func SharedFilter(f string) (filter string, shared bool, err error) {
	filter, shared, p := splitShared(f)
	if p != "" {
		return "", shared, fmt.Errorf("%w %s: %s", ErrInvalidFilter, quote(f), p)
	}
	return filter, shared, nil
}

// splitShared is SharedFilter returning the reason for an invalid filter
// instead of an error, so it does not allocate.
func splitShared(f string) (filter string, shared bool, problem string) {
	first, rest, more := level(f)
	if !strings.EqualFold(first, sharePrefix) {
		return f, false, filterProblem(f)
	}
	if !more {
		return "", true, reasonShareShape // [MQTT-4.8.2-1]
	}
	if len(f) > maxLen {
		return "", true, reasonTooLong
	}
	group, filter, more := level(rest)
	if group == "" || !more {
		return "", true, reasonShareShape // [MQTT-4.8.2-1]
	}
	if strings.ContainsAny(group, "+#") {
		return "", true, reasonShareGroup // [MQTT-4.8.2-2]
	}
	if p := filterProblem(filter); p != "" {
		return "", true, p
	}
	if filterProblem(group) != "" {
		return "", true, reasonShareShape // NUL or invalid UTF-8 in the group
	}
	return filter, true, ""
}
