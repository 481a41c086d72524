package acl

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultRules(t *testing.T) {
	r := DefaultRules()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	r.Publish[0] = "changed"
	if DefaultRules().Publish[0] != "#" {
		t.Fatal("DefaultRules shares its slices between calls")
	}
}

func TestRulesValidate(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		want  []string // error messages, in order
	}{
		{"default", DefaultRules(), nil},
		{"empty", Rules{}, nil},
		{"placeholders", Rules{
			Publish:   []string{"devices/%c/#", "accounts/%u/%c/up", "x%cy/+"},
			Subscribe: []string{"devices/%c/cmd/+", "%u/broadcast", "$SYS/broker/#", "50%/off"},
		}, nil},
		{"bad hash", Rules{Publish: []string{"a/#", "a/#/b"}}, []string{
			`acl: publish[1] "a/#/b": '#' must be the last level`,
		}},
		{"several", Rules{
			Publish:   []string{"", "$SYS/#", "ok"},
			Subscribe: []string{"a+", "%c#", "fine/%u"},
		}, []string{
			`acl: publish[0] "": empty`,
			`acl: publish[1] "$SYS/#": devices may never publish to '$' topics`,
			`acl: subscribe[0] "a+": '+' must occupy a whole level`,
			`acl: subscribe[1] "%c#": '#' must occupy a whole level`,
		}},
		{"nul", Rules{Subscribe: []string{"a\x00"}}, []string{`acl: subscribe[0] "a\x00": contains NUL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rules.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("Validate() = %v, want ErrInvalidFilter", err)
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, strings.Join(tt.want, "\n"))
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Validate() = %v, not a *RuleError", err)
			}
		})
	}
}

func TestRuleErrorFields(t *testing.T) {
	err := Rules{Subscribe: []string{"ok", "a/#/b"}}.Validate()
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("got %v", err)
	}
	want := RuleError{List: "subscribe", Index: 1, Filter: "a/#/b", Reason: reasonHashLast}
	if *re != want {
		t.Errorf("got %+v, want %+v", *re, want)
	}
}

// check is one question asked of a Compiled rule set.
type check struct {
	op   string // "pub", "sub" or "recv"
	arg  string
	want bool
}

func runChecks(t *testing.T, c *Compiled, checks []check) {
	t.Helper()
	for _, ck := range checks {
		var got bool
		switch ck.op {
		case "pub":
			got = c.CanPublish(ck.arg)
		case "sub":
			got = c.CanSubscribe(ck.arg)
		case "recv":
			got = c.CanReceive(ck.arg)
		default:
			t.Fatalf("bad op %q", ck.op)
		}
		if got != ck.want {
			t.Errorf("%s(%q) = %v, want %v", ck.op, ck.arg, got, ck.want)
		}
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name     string
		rules    Rules
		clientID string
		username string
		checks   []check
	}{
		{
			name: "default", rules: DefaultRules(), clientID: "dev-1", username: "acme",
			checks: []check{
				{"pub", "a", true},
				{"pub", "a/b/c", true},
				{"pub", "/", true},
				{"pub", "$SYS/x", false},
				{"pub", "$anything", false},
				{"pub", "$", false},
				{"pub", "a/+", false},
				{"pub", "a/#", false},
				{"pub", "", false},
				{"pub", "a\x00", false},
				{"pub", "a/\xff", false},
				{"sub", "#", true},
				{"sub", "a/+/b", true},
				{"sub", "$share/g/a/#", true},
				{"sub", "$SHARE/g/#", true},
				{"sub", "$SYS/#", false},
				{"sub", "$share/g/$SYS/#", false},
				{"sub", "$share/g", false},
				{"sub", "a/#/b", false},
				{"sub", "", false},
				{"recv", "a/b", true},
				{"recv", "$SYS/x", false},
				{"recv", "", false},
			},
		},
		{
			name: "dollar rules never grant publishing",
			rules: Rules{
				Publish:   []string{"#", "$SYS/#", "+/#", "$anything"},
				Subscribe: []string{"$SYS/broker/#"},
			},
			clientID: "dev-1", username: "acme",
			checks: []check{
				{"pub", "$SYS/x", false},
				{"pub", "$SYS/broker/x", false},
				{"pub", "$anything", false},
				{"pub", "a", true},
				{"sub", "$SYS/broker/+", true},
				{"sub", "$SYS/#", false},
				{"sub", "#", false},
				{"sub", "a", false},
				{"recv", "$SYS/broker/load", true},
				{"recv", "$SYS/other", false},
				{"recv", "a", false},
			},
		},
		{
			name: "placeholders",
			rules: Rules{
				Publish:   []string{"devices/%c/up/#", "accounts/%u/%c", "raw-%c/+"},
				Subscribe: []string{"devices/%c/cmd/+", "accounts/%u/broadcast", "%%c/%x"},
			},
			clientID: "dev-1", username: "acme",
			checks: []check{
				{"pub", "devices/dev-1/up", true},
				{"pub", "devices/dev-1/up/temp", true},
				{"pub", "devices/dev-2/up/temp", false},
				{"pub", "devices/%c/up/temp", false},
				{"pub", "accounts/acme/dev-1", true},
				{"pub", "accounts/other/dev-1", false},
				{"pub", "raw-dev-1/x", true},
				{"pub", "raw-dev-1/x/y", false},
				{"sub", "devices/dev-1/cmd/+", true},
				{"sub", "devices/dev-1/cmd/reboot", true},
				{"sub", "devices/dev-1/cmd/#", false},
				{"sub", "devices/+/cmd/reboot", false},
				{"sub", "$share/workers/devices/dev-1/cmd/+", true},
				{"sub", "accounts/acme/broadcast", true},
				{"recv", "devices/dev-1/cmd/reboot", true},
				{"recv", "devices/dev-2/cmd/reboot", false},
				{"recv", "%dev-1/%x", true}, // "%%c" is '%' then %c; "%x" is literal
			},
		},
		{
			name: "unsafe client id matches nothing",
			rules: Rules{
				Publish:   []string{"devices/%c/#", "fixed/#"},
				Subscribe: []string{"devices/%c/#", "users/%u/#"},
			},
			clientID: "a/b", username: "#",
			checks: []check{
				{"pub", "devices/a/b/x", false},
				{"pub", "devices/a/x", false},
				{"pub", "fixed/x", true}, // entries without placeholders are unaffected
				{"sub", "devices/a/#", false},
				{"sub", "users/#", false},
				{"recv", "devices/a/b", false},
				{"recv", "users/x", false},
			},
		},
		{
			name:     "wildcard ids match nothing",
			rules:    Rules{Publish: []string{"d/%c"}, Subscribe: []string{"d/%c/#", "u/%u"}},
			clientID: "+", username: "x#",
			checks: []check{
				{"pub", "d/x", false},
				{"sub", "d/+/#", false},
				{"recv", "d/x/y", false},
				{"recv", "u/x#", false},
			},
		},
		{
			name:     "empty ids match nothing",
			rules:    Rules{Publish: []string{"d/%c/x"}, Subscribe: []string{"u/%u/#"}},
			clientID: "", username: "",
			checks: []check{
				{"pub", "d//x", false},
				{"recv", "u//x", false},
				{"sub", "u//#", false},
			},
		},
		{
			name:     "id cannot turn a rule into a $ rule",
			rules:    Rules{Subscribe: []string{"%c/#", "%u"}},
			clientID: "$SYS", username: "$x",
			checks: []check{
				{"recv", "$SYS/broker", false},
				{"sub", "$SYS/#", false},
				{"recv", "$x", false},
			},
		},
		{
			name:     "invalid entries are dropped",
			rules:    Rules{Publish: []string{"a/#/b", "", "ok/+"}, Subscribe: []string{"+a", "ok/#"}},
			clientID: "d", username: "u",
			checks: []check{
				{"pub", "a/x/b", false},
				{"pub", "ok/x", true},
				{"recv", "ok", true},
				{"recv", "+a", false},
			},
		},
		{
			name:     "nothing",
			rules:    Rules{},
			clientID: "d", username: "u",
			checks: []check{
				{"pub", "a", false},
				{"sub", "a", false},
				{"recv", "a", false},
			},
		},
		{
			name: "redundant and equivalent entries",
			rules: Rules{
				Publish:   []string{"a/b", "a/#", "a/+", "a/#"},
				Subscribe: []string{"x/+/y", "+/#", "x/#", "#"},
			},
			clientID: "d", username: "u",
			checks: []check{
				{"pub", "a", true},
				{"pub", "a/b/c", true},
				{"pub", "b", false},
				{"sub", "#", true},
				{"recv", "q", true},
				{"recv", "$q", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChecks(t, Compile(tt.rules, tt.clientID, tt.username), tt.checks)
		})
	}
}

func filters(rules []rule) string {
	var fs []string
	for _, r := range rules {
		fs = append(fs, r.filter)
	}
	return strings.Join(fs, " ")
}

func TestCompilePrunes(t *testing.T) {
	c := Compile(Rules{
		Publish:   []string{"a/b", "a/#", "a/+", "a/#", "b"},
		Subscribe: []string{"x/+/y", "+/#", "$SYS/a", "$SYS/#", "$SYS/#"},
	}, "d", "u")
	if got := filters(c.pub); got != "a/# b" || c.pubAll {
		t.Errorf("pub = %q (all %v), want %q", got, c.pubAll, "a/# b")
	}
	if got := filters(c.sub); got != "+/#" || !c.subAll {
		t.Errorf("sub = %q (all %v), want %q, all", got, c.subAll, "+/#")
	}
	if got := filters(c.subDollar); got != "$SYS/#" {
		t.Errorf("subDollar = %q, want %q", got, "$SYS/#")
	}
}

func TestNilCompiled(t *testing.T) {
	var c *Compiled
	runChecks(t, c, []check{{"pub", "a", false}, {"sub", "a", false}, {"recv", "a", false}})
	runChecks(t, &Compiled{}, []check{{"pub", "a", false}, {"sub", "a", false}, {"recv", "a", false}})
}

func TestRuleHead(t *testing.T) {
	tests := []struct{ filter, head string }{
		{"#", ""},
		{"+", ""},
		{"+/#", ""},
		{"/+", "/"},
		{"/#", ""},
		{"a", "a"},
		{"a/b", "a/b"},
		{"a/", "a/"},
		{"sport/#", "sport"},
		{"sport/+/x", "sport/"},
		{"a//+", "a//"},
		{"a//#", "a/"},
		{"$SYS/#", "$SYS"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := newRule(tt.filter).head; got != tt.head {
				t.Errorf("head of %q = %q, want %q", tt.filter, got, tt.head)
			}
		})
	}
	// The head never rejects a topic the filter matches.
	for _, mt := range matchTests {
		if mt.want && !strings.HasPrefix(mt.topic, newRule(mt.filter).head) {
			t.Errorf("head of %q rejects matching topic %q", mt.filter, mt.topic)
		}
	}
}

// TestZeroAllocs guards the hot path: the checks must not allocate.
func TestZeroAllocs(t *testing.T) {
	def := Compile(DefaultRules(), "dev-1", "acme")
	spec := Compile(tenRules(), "dev-1", "acme")
	funcs := map[string]func(){
		"Match":                func() { Match("devices/+/up/#", "devices/dev-1/up/temp") },
		"Covers":               func() { Covers("devices/#", "devices/+/up") },
		"CanReceive/default":   func() { def.CanReceive("devices/dev-1/up/temp") },
		"CanReceive/specific":  func() { spec.CanReceive("devices/dev-1/cmd/reboot") },
		"CanReceive/miss":      func() { spec.CanReceive("other/topic/with/levels") },
		"CanPublish/specific":  func() { spec.CanPublish("devices/dev-1/up/temp") },
		"CanPublish/invalid":   func() { spec.CanPublish("devices/+/up") },
		"CanSubscribe/shared":  func() { spec.CanSubscribe("$share/g/devices/dev-1/cmd/+") },
		"CanSubscribe/invalid": func() { spec.CanSubscribe("a/#/b") },
	}
	for name, fn := range funcs {
		t.Run(name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, fn); n != 0 {
				t.Errorf("%s allocates %v times per call", name, n)
			}
		})
	}
}
