package acl

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestValidFilter(t *testing.T) {
	tests := []struct {
		filter string
		reason string // "" when valid
	}{
		{"#", ""},
		{"+", ""},
		{"/", ""},
		{"//", ""},
		{"a", ""},
		{"a/b/c", ""},
		{"sport/tennis/player1/#", ""},
		{"sport/+/player1", ""},
		{"+/+", ""},
		{"/+", ""},
		{"+/#", ""},
		{"$SYS/#", ""},
		{"a/+/+/#", ""},
		{"a b/ü/日本", ""},
		{"$share/g/a", ""}, // a plain filter too
		{"%c/x", ""},       // '%' is an ordinary character
		{"", reasonEmpty},
		{strings.Repeat("a", maxLen), ""},
		{strings.Repeat("a", maxLen+1), reasonTooLong},
		{"a\x00b", reasonNUL},
		{"a/\xffb", reasonUTF8},
		{"a/\xed\xa0\x80", reasonUTF8}, // UTF-16 surrogate U+D800
		{"a/#/b", reasonHashLast},
		{"#/", reasonHashLast},
		{"sport/tennis#", reasonHashLevel},
		{"#a", reasonHashLevel},
		{"a/#b", reasonHashLevel},
		{"##", reasonHashLevel},
		{"sport+", reasonPlusLevel},
		{"a/+b/c", reasonPlusLevel},
		{"a/b+", reasonPlusLevel},
		{"++", reasonPlusLevel},
		{"+#", reasonPlusLevel},
	}
	for _, tt := range tests {
		t.Run(tt.filter[:min(len(tt.filter), 32)], func(t *testing.T) {
			err := ValidFilter(tt.filter)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ValidFilter(%q) = %v, want nil", tt.filter, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("ValidFilter(%q) = %v, want ErrInvalidFilter", tt.filter, err)
			}
			if !strings.HasSuffix(err.Error(), ": "+tt.reason) {
				t.Errorf("ValidFilter(%q) = %q, want reason %q", tt.filter, err, tt.reason)
			}
		})
	}
}

func TestValidFilterMessage(t *testing.T) {
	err := ValidFilter("a/#/b")
	want := `acl: invalid topic filter "a/#/b": '#' must be the last level`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// Long input is elided in the message.
	err = ValidFilter(strings.Repeat("x", 100) + "#")
	if err == nil || len(err.Error()) > 160 || !strings.Contains(err.Error(), "(101 bytes)") {
		t.Errorf("long filter message: %v", err)
	}
}

func TestValidTopic(t *testing.T) {
	tests := []struct {
		topic  string
		reason string
	}{
		{"a", ""},
		{"/", ""},
		{"a/b/c", ""},
		{"$SYS/broker", ""},
		{"a//b/", ""},
		{"ü/日本", ""},
		{"%c", ""},
		{strings.Repeat("a", maxLen), ""},
		{"", reasonEmpty},
		{strings.Repeat("a", maxLen+1), reasonTooLong},
		{"a/+", reasonWildcard},
		{"a/#", reasonWildcard},
		{"a+b", reasonWildcard},
		{"#", reasonWildcard},
		{"a\x00", reasonNUL},
		{"\xc3", reasonUTF8},
		{"\xc0\xaf", reasonUTF8}, // overlong '/'
	}
	for _, tt := range tests {
		t.Run(tt.topic[:min(len(tt.topic), 32)], func(t *testing.T) {
			err := ValidTopic(tt.topic)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ValidTopic(%q) = %v, want nil", tt.topic, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidTopic) || !strings.HasSuffix(err.Error(), ": "+tt.reason) {
				t.Fatalf("ValidTopic(%q) = %v, want ErrInvalidTopic with reason %q", tt.topic, err, tt.reason)
			}
		})
	}
}

// matchTests are shared by TestMatch and the fuzz seeds. Most come from the
// examples in MQTT 5.0 §4.7.
var matchTests = []struct {
	filter, topic string
	want          bool
}{
	// §4.7.1.2 multi-level wildcard.
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/tennis/player1/#", "sport/tennis/player2", false},
	{"sport/tennis/player1/#", "sport/tennis", false},
	{"sport/#", "sport", true},
	{"sport/#", "sport/", true},
	{"sport/#", "sports", false},
	{"#", "sport", true},
	{"#", "/", true},
	{"#", "a/b/c", true},
	// §4.7.1.3 single-level wildcard.
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+", "sport", true},
	{"+", "/", false},
	{"+/+", "/finance", true},
	{"+/+", "/", true},
	{"/+", "/finance", true},
	{"/+", "finance", false},
	{"+", "/finance", false},
	{"+/tennis/#", "sport/tennis/player1", true},
	{"sport/+/player1", "sport/tennis/player1", true},
	{"sport/+/player1", "sport//player1", true},
	{"+/+/+", "a/b", false},
	{"+/#", "a", true},
	{"+/#", "a/b/c", true},
	{"a/+/#", "a", false},
	{"a/+/#", "a/b", true},
	// §4.7.2 topics beginning with '$'.
	{"#", "$SYS", false},
	{"#", "$SYS/x", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"+/#", "$SYS/x", false},
	{"$SYS/#", "$SYS/x", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"$SYS/+", "$SYS/monitor/Clients", false},
	{"a/#", "a/$b", true},
	{"a/+", "a/$b", true},
	// Exact and case-sensitive.
	{"ACCOUNTS", "Accounts", false},
	{"a/b", "a/b", true},
	{"a/b", "a/b/", false},
	{"a/b/", "a/b", false},
	{"a//b", "a//b", true},
	{"a//b", "a/b", false},
	{"ü/+", "ü/日本", true},
	// Degenerate input.
	{"", "a", false},
	{"a", "", false},
	{"", "", false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		t.Run(tt.filter+"|"+tt.topic, func(t *testing.T) {
			if got := Match(tt.filter, tt.topic); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
			}
			if ValidFilter(tt.filter) == nil && ValidTopic(tt.topic) == nil {
				if ref := refMatch(tt.filter, tt.topic); ref != tt.want {
					t.Errorf("refMatch(%q, %q) = %v, want %v", tt.filter, tt.topic, ref, tt.want)
				}
			}
		})
	}
}

var coversTests = []struct {
	allowed, sub string
	want         bool
}{
	{"#", "#", true},
	{"#", "+", true},
	{"#", "a/b/c", true},
	{"#", "a/+/#", true},
	{"+/#", "#", true}, // equivalent at the top level
	{"+/#", "+", true},
	{"+/#", "a", true},
	{"+", "#", false},
	{"+", "+", true},
	{"+", "a", true},
	{"+", "a/b", false},
	{"+", "/", false},
	{"+/+", "/", true},
	{"a/#", "a/+/b", true},
	{"a/#", "a", true},
	{"a/#", "a/#", true},
	{"a/#", "a/+", true},
	{"a/#", "b/#", false},
	{"a/#", "+/b", false},
	{"a/#", "#", false},
	{"a/+", "a/#", false}, // "a/#" also matches "a" and "a/b/c"
	{"a/+", "a/+", true},
	{"a/+", "a/b", true},
	{"a/+", "a/", true},
	{"a/+", "a", false},
	{"a/+", "a/b/c", false},
	{"a/+/c", "a/b/c", true},
	{"a/+/c", "a/+/c", true},
	{"a/+/c", "a/+/d", false},
	{"a/b/c", "a/+/c", false},
	{"a/+/#", "a/#", false}, // "a/#" matches "a"
	{"a/+/#", "a/b/#", true},
	{"a/+/#", "a/b", true},
	{"a/+/#", "a/+", true},
	{"a/b", "a/b/#", false},
	{"a/b/#", "a/b", true},
	{"a/b/#", "a", false},
	{"a/+/+", "a/+", false},
	{"a/+", "a/+/+", false},
	{"+/+/#", "+/#", false},
	{"+/+/#", "#", false},
	{"/+/#", "/#", true}, // "/#" would match the empty topic, which is invalid
	{"+/+/#", "/#", true},
	{"//+/#", "//#", false}, // "//#" matches "/"
	{"+/+/#", "+/+", true},
	// '$' topics.
	{"#", "$SYS/#", false},
	{"#", "$SYS", false},
	{"+/#", "$SYS/#", false},
	{"+/x", "$SYS/x", false},
	{"$SYS/#", "$SYS/#", true},
	{"$SYS/#", "$SYS/+/x", true},
	{"$SYS/#", "#", false},
	{"$SYS/#", "+/x", false},
	{"$SYS/+", "$SYS/x", true},
	{"a/#", "a/$SYS/x", true},
	{"a/+/#", "a/$x", true},
	// Invalid filters are never covered nor covering.
	{"#", "", false},
	{"#", "a/#/b", false},
	{"a/#/b", "a/x/b", false},
	{"", "a", false},
	{"#", "a+", false},
}

func TestCovers(t *testing.T) {
	for _, tt := range coversTests {
		t.Run(tt.allowed+"|"+tt.sub, func(t *testing.T) {
			if got := Covers(tt.allowed, tt.sub); got != tt.want {
				t.Errorf("Covers(%q, %q) = %v, want %v", tt.allowed, tt.sub, got, tt.want)
			}
		})
	}
}

// TestCoversExhaustive compares Covers with the set inclusion it stands for,
// by brute force over a universe of short filters and topics. Topic levels
// include "z", which no filter names, to stand for any other level, and
// topics are longer than any filter, so the universe tells filters apart as
// well as all topics do: Covers must be exact, not only safe.
func TestCoversExhaustive(t *testing.T) {
	filterLevels := []string{"a", "$a", "", "+", "#"}
	topicLevels := []string{"a", "$a", "", "z"}
	const maxFilterLevels = 3
	filters := expandLevels(filterLevels, maxFilterLevels, func(f string) bool { return ValidFilter(f) == nil })
	topics := expandLevels(topicLevels, maxFilterLevels+1, func(t string) bool { return ValidTopic(t) == nil })
	if testing.Short() {
		filters = filters[:len(filters)/4]
	}
	matched := make([][]bool, len(filters))
	for i, f := range filters {
		matched[i] = make([]bool, len(topics))
		for j, tp := range topics {
			matched[i][j] = Match(f, tp)
		}
	}
	for i, a := range filters {
		for k, s := range filters {
			want := true
			for j := range topics {
				if matched[k][j] && !matched[i][j] {
					want = false
					break
				}
			}
			if got := Covers(a, s); got != want {
				t.Errorf("Covers(%q, %q) = %v, want %v", a, s, got, want)
			}
		}
	}
}

// expandLevels returns every join of 1..n levels, filtered by keep if non-nil.
func expandLevels(levels []string, n int, keep func(string) bool) []string {
	var out []string
	cur := [][]string{nil}
	for range n {
		var next [][]string
		for _, p := range cur {
			for _, l := range levels {
				next = append(next, append(slices.Clone(p), l))
			}
		}
		for _, parts := range next {
			if s := strings.Join(parts, "/"); keep == nil || keep(s) {
				out = append(out, s)
			}
		}
		cur = next
	}
	return out
}

// TestCoversProperty checks that Covers(a, s) implies Match(a, t) for topics
// t generated from s by replacing its wildcards.
func TestCoversProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var filters []string
	for _, tt := range coversTests {
		filters = append(filters, tt.allowed, tt.sub)
	}
	for _, tt := range matchTests {
		filters = append(filters, tt.filter)
	}
	for range 200 {
		filters = append(filters, randomFilter(rng))
	}
	checked := 0
	for _, a := range filters {
		for _, s := range filters {
			if !Covers(a, s) {
				continue
			}
			for range 8 {
				tp := topicFrom(rng, s)
				if !Match(s, tp) {
					t.Fatalf("generated topic %q does not match its filter %q", tp, s)
				}
				if !Match(a, tp) {
					t.Fatalf("Covers(%q, %q) but Match(%q, %q) is false", a, s, a, tp)
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d covered pairs checked", checked)
	}
}

// randomFilter returns a valid filter of up to 5 levels from a small alphabet.
func randomFilter(rng *rand.Rand) string {
	levels := []string{"a", "b", "", "$s", "+", "+", "#"}
	n := 1 + rng.IntN(5)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = levels[rng.IntN(len(levels)-1)]
	}
	if rng.IntN(3) == 0 {
		parts[n-1] = "#"
	}
	return strings.Join(parts, "/")
}

// topicFrom returns a topic name that filter s (assumed valid) matches,
// replacing each '+' with one level and '#' with zero or more levels, using
// rng for the choices.
func topicFrom(rng *rand.Rand, s string) string {
	fill := []string{"a", "b", "x", "", "$s", "ü"}
	pick := func(first bool) string {
		for {
			l := fill[rng.IntN(len(fill))]
			if !first || !strings.HasPrefix(l, "$") {
				return l
			}
		}
	}
	for {
		if t := topicFromOnce(rng, s, pick); t != "" {
			return t
		}
	}
}

func topicFromOnce(rng *rand.Rand, s string, pick func(first bool) string) string {
	parts := strings.Split(s, "/")
	var out []string
	for i, p := range parts {
		first := i == 0
		switch p {
		case "+":
			out = append(out, pick(first))
		case "#":
			n := rng.IntN(4)
			for k := range n {
				out = append(out, pick(first && k == 0))
			}
		default:
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

func TestSharedFilter(t *testing.T) {
	tests := []struct {
		in     string
		filter string
		shared bool
		reason string
	}{
		{"a/b", "a/b", false, ""},
		{"#", "#", false, ""},
		{"$SYS/#", "$SYS/#", false, ""},
		{"$sharex/g/a", "$sharex/g/a", false, ""},
		{"a/$share/g/b", "a/$share/g/b", false, ""},
		{"$share/g/a/b", "a/b", true, ""},
		{"$share/g/#", "#", true, ""},
		{"$share/g/+/x", "+/x", true, ""},
		{"$share/g/$SYS/#", "$SYS/#", true, ""},
		{"$share/g//", "/", true, ""},
		{"$SHARE/g/a", "a", true, ""}, // mochi folds case
		{"$Share/grp-1/a/#", "a/#", true, ""},
		{"$share/g/a/#/b", "", true, reasonHashLast},
		{"a/#/b", "", false, reasonHashLast},
		{"", "", false, reasonEmpty},
		{"$share", "", true, reasonShareShape},
		{"$share/", "", true, reasonShareShape},
		{"$share/g", "", true, reasonShareShape},
		{"$share//a", "", true, reasonShareShape},
		{"$share/g/", "", true, reasonEmpty},
		{"$share/+/a", "", true, reasonShareGroup},
		{"$share/#/a", "", true, reasonShareGroup},
		{"$share/g+/a", "", true, reasonShareGroup},
		{"$share/g\x00/a", "", true, reasonShareShape},
		{"$share/g\xff/a", "", true, reasonShareShape},
		{"$share/g/" + strings.Repeat("a", maxLen-9), strings.Repeat("a", maxLen-9), true, ""},
		{"$share/g/" + strings.Repeat("a", maxLen-8), "", true, reasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 32)], func(t *testing.T) {
			filter, shared, err := SharedFilter(tt.in)
			if shared != tt.shared {
				t.Errorf("shared = %v, want %v", shared, tt.shared)
			}
			if tt.reason != "" {
				if !errors.Is(err, ErrInvalidFilter) || !strings.HasSuffix(err.Error(), ": "+tt.reason) {
					t.Fatalf("SharedFilter(%q) error = %v, want ErrInvalidFilter with reason %q", tt.in, err, tt.reason)
				}
				return
			}
			if err != nil || filter != tt.filter {
				t.Fatalf("SharedFilter(%q) = %q, %v, want %q, nil", tt.in, filter, err, tt.filter)
			}
		})
	}
}
