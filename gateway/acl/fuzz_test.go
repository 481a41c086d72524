package acl

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
)

// refMatch is a deliberately simple reference for Match, written from the
// MQTT specification: split both on '/', and compare level by level.
func refMatch(filter, topic string) bool {
	fl := strings.Split(filter, "/")
	tl := strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (fl[0] == "+" || fl[0] == "#") {
		return false
	}
	for i, f := range fl {
		if f == "#" {
			return true // the rest, including none (the parent level)
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

func FuzzMatch(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.filter, tt.topic)
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := Match(filter, topic) // must not panic, whatever the input
		filterOK := ValidFilter(filter) == nil
		topicOK := ValidTopic(topic) == nil
		if topicOK {
			if !Match(topic, topic) {
				t.Errorf("Match(t, t) false for topic %q", topic)
			}
			if ValidFilter(topic) != nil {
				t.Errorf("valid topic %q is not a valid filter", topic)
			}
		}
		if !filterOK || !topicOK {
			return
		}
		if want := refMatch(filter, topic); got != want {
			t.Errorf("Match(%q, %q) = %v, reference says %v", filter, topic, got, want)
		}
		if got && !strings.HasPrefix(topic, newRule(filter).head) {
			t.Errorf("head %q of %q rejects matching topic %q", newRule(filter).head, filter, topic)
		}
		if c := Covers(filter, topic); c != got {
			t.Errorf("Covers(%q, %q) = %v, but Match = %v", filter, topic, c, got)
		}
	})
}

func FuzzCovers(f *testing.F) {
	for _, tt := range coversTests {
		f.Add(tt.allowed, tt.sub)
	}
	f.Fuzz(func(t *testing.T, allowed, sub string) {
		got := Covers(allowed, sub)
		aOK, sOK := ValidFilter(allowed) == nil, ValidFilter(sub) == nil
		if got && (!aOK || !sOK) {
			t.Fatalf("Covers(%q, %q) true for an invalid filter", allowed, sub)
		}
		if aOK && !Covers(allowed, allowed) {
			t.Errorf("Covers(a, a) false for %q", allowed)
		}
		if !got {
			return
		}
		// Topics generated from sub must match allowed too. Seed the choices
		// from the input so that failures reproduce.
		h := fnv.New64a()
		h.Write([]byte(allowed + "\x00" + sub))
		rng := rand.New(rand.NewPCG(h.Sum64(), 0))
		for range 16 {
			tp := topicFrom(rng, sub)
			if !Match(sub, tp) {
				t.Fatalf("generated topic %q does not match its filter %q", tp, sub)
			}
			if !Match(allowed, tp) {
				t.Fatalf("Covers(%q, %q) but Match(%q, %q) is false", allowed, sub, allowed, tp)
			}
		}
	})
}

// refRules evaluates rules the slow, obvious way, for comparison with Compiled.
type refRules struct{ pub, sub []string }

func newRefRules(r Rules, clientID, username string) refRules {
	ok := func(v string) bool { return v != "" && !strings.ContainsAny(v, "/+#\x00") }
	repl := strings.NewReplacer("%c", clientID, "%u", username)
	expandAll := func(entries []string) []string {
		var out []string
		for _, e := range entries {
			if strings.Contains(e, "%c") && !ok(clientID) || strings.Contains(e, "%u") && !ok(username) {
				continue
			}
			f := repl.Replace(e)
			if ValidFilter(f) != nil || (!strings.HasPrefix(e, "$") && strings.HasPrefix(f, "$")) {
				continue
			}
			out = append(out, f)
		}
		return out
	}
	return refRules{pub: expandAll(r.Publish), sub: expandAll(r.Subscribe)}
}

func (r refRules) canPublish(topic string) bool {
	if ValidTopic(topic) != nil || strings.HasPrefix(topic, "$") {
		return false
	}
	for _, f := range r.pub {
		if refMatch(f, topic) {
			return true
		}
	}
	return false
}

func (r refRules) canSubscribe(filter string) bool {
	f, _, err := SharedFilter(filter)
	if err != nil {
		return false
	}
	for _, a := range r.sub {
		if Covers(a, f) {
			return true
		}
	}
	return false
}

func (r refRules) canReceive(topic string) bool {
	for _, f := range r.sub {
		if refMatch(f, topic) {
			return true
		}
	}
	return false
}

func FuzzRules(f *testing.F) {
	f.Add("#", "#", "dev-1", "acme", "a/b", "a/#")
	f.Add("#\n$SYS/#", "#\n$SYS/#", "dev-1", "acme", "$SYS/x", "$SYS/#")
	f.Add("devices/%c/#", "devices/%c/cmd/+\n%u/broadcast", "dev-1", "acme", "devices/dev-1/cmd/x", "$share/g/devices/dev-1/cmd/+")
	f.Add("devices/%c/#", "devices/%c/#", "a/b", "acme", "devices/a/b/x", "devices/+/#")
	f.Add("%c/#", "%c/#\n%u", "$SYS", "+", "$SYS/x", "$SYS/#")
	f.Add("a/%c%u/+", "a/#/b\n+/%x", "", "u", "a/u/x", "a/+/x")
	f.Fuzz(func(t *testing.T, pub, sub, clientID, username, topic, filter string) {
		r := Rules{Publish: strings.Split(pub, "\n"), Subscribe: strings.Split(sub, "\n")}
		_ = r.Validate()
		c := Compile(r, clientID, username)
		ref := newRefRules(r, clientID, username)
		if got, want := c.CanPublish(topic), ref.canPublish(topic); got != want {
			t.Errorf("CanPublish(%q) = %v, reference %v (rules %q)", topic, got, want, ref.pub)
		}
		if got, want := c.CanSubscribe(filter), ref.canSubscribe(filter); got != want {
			t.Errorf("CanSubscribe(%q) = %v, reference %v (rules %q)", filter, got, want, ref.sub)
		}
		if ValidTopic(topic) == nil {
			if got, want := c.CanReceive(topic), ref.canReceive(topic); got != want {
				t.Errorf("CanReceive(%q) = %v, reference %v (rules %q)", topic, got, want, ref.sub)
			}
			// Subscribing to a topic name is receiving it, unless the
			// name looks like a shared subscription.
			first, _, _ := strings.Cut(topic, "/")
			if c.CanReceive(topic) != c.CanSubscribe(topic) && !strings.EqualFold(first, sharePrefix) {
				t.Errorf("CanReceive(%q) != CanSubscribe(%q)", topic, topic)
			}
		}
	})
}
