package acl

import (
	"errors"
	"fmt"
	"strings"
)

// Rules is a device's access rules in stored form: topic filters that may
// contain the placeholders %c, replaced by the client (device) id, and %u,
// replaced by the user (account) name, anywhere in a level. Any other '%' is
// an ordinary character. An empty list grants nothing.
type Rules struct {
	// Publish lists the filters a device may publish to. Topics beginning
	// with '$' are never granted, whatever the rules say.
	Publish []string `json:"publish" yaml:"publish"`
	// Subscribe lists the filters a device may subscribe within, and so the
	// topics it may receive.
	Subscribe []string `json:"subscribe" yaml:"subscribe"`
}

// DefaultRules returns the rules of a device with no explicit ACL: publish
// and subscribe to every topic not beginning with '$'.
func DefaultRules() Rules {
	return Rules{Publish: []string{"#"}, Subscribe: []string{"#"}}
}

// RuleError reports an invalid entry of a [Rules]. It wraps [ErrInvalidFilter].
type RuleError struct {
	List   string // "publish" or "subscribe"
	Index  int    // position in the list
	Filter string // the entry as stored, before substitution
	Reason string // why it is invalid
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("acl: %s[%d] %s: %s", e.List, e.Index, quote(e.Filter), e.Reason)
}

// Unwrap returns [ErrInvalidFilter].
func (e *RuleError) Unwrap() error { return ErrInvalidFilter }

// sampleID stands in for %c and %u when validating stored rules; it has the
// shape of a Perch device id.
const sampleID = "device-1"

const reasonDollarPublish = "devices may never publish to '$' topics"

// Validate checks that every entry is a valid topic filter once %c and %u are
// substituted with a device id, and that no Publish entry begins with '$'
// (such an entry could never grant anything). It returns one [*RuleError] per
// invalid entry, joined with [errors.Join], or nil.
func (r Rules) Validate() error {
	var errs []error
	check := func(list string, entries []string) {
		for i, e := range entries {
			f, _ := expand(e, sampleID, sampleID) // always ok for sampleID
			reason := filterProblem(f)
			if reason == "" && list == "publish" && e[0] == '$' {
				reason = reasonDollarPublish
			}
			if reason != "" {
				errs = append(errs, &RuleError{List: list, Index: i, Filter: e, Reason: reason})
			}
		}
	}
	check("publish", r.Publish)
	check("subscribe", r.Subscribe)
	return errors.Join(errs...)
}

// expand substitutes %c and %u in tmpl. It reports false when a placeholder
// present in tmpl cannot be substituted safely: the value is empty or contains
// '/', '+', '#' or NUL (it would change the level structure or add a
// wildcard), or it would turn the first level of a template that does not
// begin with '$' into a '$' level.
func expand(tmpl, clientID, username string) (string, bool) {
	if !strings.Contains(tmpl, "%") {
		return tmpl, true
	}
	var b strings.Builder
	b.Grow(len(tmpl) + len(clientID) + len(username))
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] == '%' && i+1 < len(tmpl) {
			v, placeholder := "", true
			switch tmpl[i+1] {
			case 'c':
				v = clientID
			case 'u':
				v = username
			default:
				placeholder = false
			}
			if placeholder {
				if !safeValue(v) {
					return "", false
				}
				b.WriteString(v)
				i++
				continue
			}
		}
		b.WriteByte(tmpl[i])
	}
	f := b.String()
	if tmpl[0] != '$' && f[0] == '$' {
		return "", false
	}
	return f, true
}

// safeValue reports whether v can stand for a placeholder without changing
// the meaning of the filter around it.
func safeValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, "/+#\x00")
}

// Compiled is a [Rules] with %c and %u substituted for one session, ready for
// the broker's checks. The zero value, and a nil *Compiled, grant nothing.
// A Compiled is immutable and safe for concurrent use.
type Compiled struct {
	pub       []rule // publish filters; none begins with '$'
	pubAll    bool   // pub grants every topic not beginning with '$'
	sub       []rule // subscribe filters not beginning with '$'
	subAll    bool   // sub grants every topic not beginning with '$'
	subDollar []rule // subscribe filters beginning with '$'
}

// rule is one compiled filter with its literal head: the text before its
// first wildcard level (without the '/' before a '#', which also matches the
// parent level). Every topic the filter matches begins with the head, so most
// non-matching rules are rejected with one prefix comparison.
type rule struct {
	filter, head string
}

func newRule(f string) rule {
	for pos := 0; ; {
		l, _, more := level(f[pos:])
		switch l {
		case "+":
			return rule{f, f[:pos]}
		case "#":
			return rule{f, f[:max(pos-1, 0)]}
		}
		if !more {
			return rule{f, f}
		}
		pos += len(l) + 1
	}
}

func (r rule) match(topic string) bool {
	return strings.HasPrefix(topic, r.head) && Match(r.filter, topic)
}

// Compile substitutes clientID for %c and username for %u in r and prepares
// the result for matching.
//
// Compile never widens access. An entry is dropped, so that it grants
// nothing, when it is not a valid filter after substitution, when it uses a
// placeholder whose value is empty or contains '/', '+', '#' or NUL (which
// would add levels or wildcards), or when substitution makes its first level
// begin with '$'. Perch device ids ([A-Za-z0-9_-]{1,64}) are always safe.
// Publish entries beginning with '$' are dropped too. Entries covered by
// another entry are dropped as redundant, which does not change any decision.
func Compile(r Rules, clientID, username string) *Compiled {
	c := new(Compiled)
	var pub, sub, subDollar []string
	for _, e := range r.Publish {
		if f, ok := compileEntry(e, clientID, username); ok && f[0] != '$' {
			pub = append(pub, f)
		}
	}
	for _, e := range r.Subscribe {
		if f, ok := compileEntry(e, clientID, username); ok {
			if f[0] == '$' {
				subDollar = append(subDollar, f)
			} else {
				sub = append(sub, f)
			}
		}
	}
	c.pub, c.pubAll = prune(pub)
	c.sub, c.subAll = prune(sub)
	c.subDollar, _ = prune(subDollar)
	return c
}

// compileEntry expands one stored entry, reporting false if it must be dropped.
func compileEntry(e, clientID, username string) (string, bool) {
	f, ok := expand(e, clientID, username)
	if !ok || filterProblem(f) != "" {
		return "", false
	}
	return f, true
}

// prune returns fs without the filters covered by another filter of fs
// (keeping the first of equivalent ones), and whether the result grants
// every topic not beginning with '$'.
func prune(fs []string) (rules []rule, all bool) {
	var kept []string
	for i, f := range fs {
		redundant := false
		for j, g := range fs {
			if j != i && covers(g, f) && (j < i || !covers(f, g)) {
				redundant = true
				break
			}
		}
		if !redundant {
			kept = append(kept, f)
		}
	}
	for _, f := range kept {
		if f == "#" || f == "+/#" {
			return []rule{newRule(f)}, true
		}
	}
	for _, f := range kept {
		rules = append(rules, newRule(f))
	}
	return rules, false
}

// CanPublish reports whether the device may publish to topic. It is false
// for an invalid topic name and for any topic beginning with '$'.
func (c *Compiled) CanPublish(topic string) bool {
	if c == nil || topicProblem(topic) != "" || topic[0] == '$' {
		return false
	}
	return c.pubAll || matchAny(c.pub, topic)
}

// CanSubscribe reports whether the device may subscribe to filter, which may
// be a shared subscription "$share/<group>/<f>" (f is checked): some
// Subscribe rule must cover the whole filter (see [Covers]). It is false for
// an invalid filter.
func (c *Compiled) CanSubscribe(filter string) bool {
	f, _, p := splitShared(filter)
	if c == nil || p != "" {
		return false
	}
	if f[0] == '$' {
		return coversAny(c.subDollar, f)
	}
	return c.subAll || coversAny(c.sub, f)
}

// CanReceive reports whether a message published to topic may be delivered to
// the device: whether topic matches some Subscribe rule. topic is expected to
// be a valid topic name, as the broker delivers; it is not validated again.
func (c *Compiled) CanReceive(topic string) bool {
	if c == nil || topic == "" {
		return false
	}
	if topic[0] == '$' {
		return matchAny(c.subDollar, topic)
	}
	return c.subAll || matchAny(c.sub, topic)
}

func matchAny(rules []rule, topic string) bool {
	for _, r := range rules {
		if r.match(topic) {
			return true
		}
	}
	return false
}

func coversAny(rules []rule, sub string) bool {
	for _, r := range rules {
		if covers(r.filter, sub) {
			return true
		}
	}
	return false
}
