package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every environment variable that sets a key.
const EnvPrefix = "PERCH_"

// EnvFile is the environment variable naming the configuration file. The
// caller reads it (it is the default of its --config flag); Load ignores it.
const EnvFile = "PERCH_CONFIG"

// kind is the type of a key's value.
type kind int

const (
	kindUnsupported kind = iota
	kindString
	kindBool
	kindInt
	kindDuration
	kindList
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	case kindDuration:
		return "duration"
	case kindList:
		return "list"
	}
	return "unsupported"
}

// article names the kind with its article: "a string", "an int".
func (k kind) article() string {
	if k == kindInt {
		return "an int"
	}
	return "a " + k.String()
}

// A leaf is one configuration key: a field of Config that is not a section.
type leaf struct {
	key   string // "mqtt.tls.address"
	index []int  // reflect field index path from Config
	kind  kind
	desc  string
}

// env is the key's environment variable: PERCH_MQTT_TLS_ADDRESS.
func (l leaf) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(l.key, ".", "_"))
}

// flag is the key's command-line flag name, without dashes: mqtt-tls-address.
func (l leaf) flag() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(l.key)
}

// A list is a key whose value is a list of objects (devices, buckets): set
// in the file only, never by an environment variable or a flag.
type list struct {
	key    string       // "devices"
	index  []int        // reflect field index path from Config
	elem   reflect.Type // DeviceSpec
	fields []itemField  // the keys of an item, in the struct's order
}

// An itemField is one key of a list's items.
type itemField struct {
	name      string // "credentials_hash"
	index     int    // field index in the item's struct
	kind      kind   // kindString, kindBool (a *bool: unset is nil) or kindList
	omitempty bool   // the json tag says omitempty: YAML leaves it out when empty
}

// field is the item field named name, or nil.
func (l *list) field(name string) *itemField {
	for i := range l.fields {
		if l.fields[i].name == name {
			return &l.fields[i]
		}
	}
	return nil
}

func (l *list) names() []string {
	names := make([]string, len(l.fields))
	for i, f := range l.fields {
		names[i] = f.name
	}
	return names
}

// value is the list's field in c.
func (l *list) value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(l.index)
}

// schema is every key of Config, derived from the struct by reflection, in
// the struct's field order.
type schema struct {
	leaves   []leaf
	byKey    map[string]*leaf
	byEnv    map[string]*leaf
	byFlag   map[string]*leaf
	sections map[string]bool // "log", "mqtt", "mqtt.tls", ...
	lists    []list
	byList   map[string]*list
}

// newSchema walks Config. It is cheap (a few dozen fields), so every call
// builds its own instead of sharing a package-level one.
func newSchema() *schema {
	s := &schema{
		byKey:    make(map[string]*leaf),
		byEnv:    make(map[string]*leaf),
		byFlag:   make(map[string]*leaf),
		sections: make(map[string]bool),
		byList:   make(map[string]*list),
	}
	descs := descriptions()
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue // TestSchemaTags fails for exported fields without a key
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct {
				s.sections[key] = true
				walk(f.Type, key, idx)
				continue
			}
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				s.lists = append(s.lists, newList(key, idx, f.Type.Elem()))
				continue
			}
			s.leaves = append(s.leaves, leaf{key: key, index: idx, kind: kindOf(f.Type), desc: descs[key]})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	for i := range s.leaves {
		l := &s.leaves[i]
		s.byKey[l.key] = l
		s.byEnv[l.env()] = l
		s.byFlag[l.flag()] = l
	}
	for i := range s.lists {
		s.byList[s.lists[i].key] = &s.lists[i]
	}
	return s
}

func newList(key string, index []int, elem reflect.Type) list {
	l := list{key: key, index: index, elem: elem}
	for i := range elem.NumField() {
		f := elem.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue // TestSchemaTags fails for exported fields without a key
		}
		k := kindOf(f.Type)
		if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Bool {
			k = kindBool
		} else if k == kindDuration || k == kindInt {
			k = kindUnsupported // not read by the list parser; TestSchemaTags fails
		}
		_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		l.fields = append(l.fields, itemField{
			name:      name,
			index:     i,
			kind:      k,
			omitempty: slices.Contains(strings.Split(opts, ","), "omitempty"),
		})
	}
	return l
}

func kindOf(t reflect.Type) kind {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return kindDuration
	case t.Kind() == reflect.String:
		return kindString
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Int:
		return kindInt
	case t == reflect.TypeFor[[]string]():
		return kindList
	}
	return kindUnsupported
}

// field is the leaf's field in c.
func (l leaf) field(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(l.index)
}

// get returns the leaf's value in c as string, bool, int, time.Duration or []string.
func (l leaf) get(c Config) any {
	v := l.field(&c)
	switch l.kind {
	case kindDuration:
		return time.Duration(v.Int())
	case kindString:
		return v.String()
	case kindBool:
		return v.Bool()
	case kindInt:
		return int(v.Int())
	case kindList:
		return v.Interface().([]string)
	}
	return v.Interface()
}

// parse reads s as a value of the leaf's kind: the one syntax shared by
// environment variables and YAML scalars. Integers take Go's prefixes
// (0x, 0o, 0b) as pflag does; lists are comma-separated, blanks trimmed
// and empty items dropped.
func (k kind) parse(s string) (any, error) {
	switch k {
	case kindString:
		return s, nil
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as bool (true or false)", s)
		}
		return b, nil
	case kindInt:
		n, err := strconv.ParseInt(s, 0, strconv.IntSize)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, fmt.Errorf("cannot parse %q as int: out of range", s)
			}
			return nil, fmt.Errorf("cannot parse %q as int", s)
		}
		return int(n), nil
	case kindDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as duration (a number with a unit: 10s, 5m, 1h)", s)
		}
		return d, nil
	case kindList:
		items := []string{}
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("unsupported kind %v", k)
}

// formatDuration prints d as time.Duration.String does, without the zero
// minutes and seconds it appends: 24h, 1m, 90s → 1m30s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// format prints v as parse reads it back.
func format(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return formatDuration(v)
	case []string:
		return strings.Join(v, ",")
	}
	return fmt.Sprint(v)
}

// closest returns the candidate nearest to s by edit distance when it is
// close enough to be a likely typo, else "".
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+1
	if bestD > 3 {
		bestD = 3
	}
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(s), strings.ToLower(c)); d <= bestD && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	if len(a) > 200 || len(b) > 200 {
		return max(len(a), len(b)) // not a typo; bound the work on odd input
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
