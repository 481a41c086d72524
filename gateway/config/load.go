package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// LoadOptions are the sources Load reads, besides Default.
type LoadOptions struct {
	// File is a YAML file; "" for none. A file that is given but missing is
	// an error.
	File string
	// Env is the environment in os.Environ form; nil for none. Callers pass
	// os.Environ(). Every variable starting with PERCH_ must name a key
	// (PERCH_MQTT_TLS_ADDRESS sets mqtt.tls.address) or be listed in
	// IgnoreEnv; EnvFile (PERCH_CONFIG) is always ignored.
	Env []string
	// IgnoreEnv lists PERCH_* variables that are not configuration keys
	// (PERCH_SERVER and PERCH_TOKEN of the CLI, say).
	IgnoreEnv []string
	// Flags may be nil. Only the flags the user set (pflag's Changed) and
	// that RegisterFlags names override; the others are not looked at.
	Flags *pflag.FlagSet
}

// Load reads the configuration: Default, overridden by the file, overridden
// by PERCH_* environment variables, overridden by flags.
//
// Load checks the syntax, that every key exists and that every value has
// its key's type, and reports every such problem at once, each naming the
// file and line or the variable. It does not check values, except the
// items of the lists devices and buckets, which it checks as Validate does
// so that their problems name a line: call Validate (gateway.New does).
// Those lists are read from the file only.
//
// A key whose value is null in the file (for example a section whose keys
// are all commented out) is treated as not set.
func Load(opts LoadOptions) (Config, error) {
	s := newSchema()
	k := koanf.New(".")
	if err := k.Load(structs.Provider(Default(), "koanf"), nil); err != nil {
		return Config{}, fmt.Errorf("config: loading the defaults: %w", err)
	}

	var problems []error
	var lists map[string]reflect.Value
	if opts.File != "" {
		b, err := file.Provider(opts.File).ReadBytes()
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err) // the *fs.PathError names the file
		}
		var values map[string]any
		var errs []error
		values, lists, errs = s.parseYAML(opts.File, b)
		problems = append(problems, errs...)
		if err := k.Load(confmap.Provider(values, "."), nil); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", opts.File, err)
		}
	}

	ignore := append([]string{EnvFile}, opts.IgnoreEnv...)
	environ := func() []string { return opts.Env }
	transform := func(name, value string) (string, any) {
		if slices.Contains(ignore, name) {
			return "", nil
		}
		l := s.byEnv[name]
		if l == nil {
			msg := "unknown variable"
			if near := closest(name, s.envNames()); near != "" {
				msg += " (did you mean " + near + "?)"
			}
			problems = append(problems, &problem{where: "environment", key: name, msg: msg, kind: ErrUnknownKey})
			return "", nil
		}
		v, err := l.kind.parse(value)
		if err != nil {
			problems = append(problems, &problem{where: "environment", key: name, msg: err.Error(), kind: ErrBadValue})
			return "", nil
		}
		return l.key, v
	}
	if err := k.Load(env.Provider(".", env.Opt{Prefix: EnvPrefix, TransformFunc: transform, EnvironFunc: environ}), nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}

	if opts.Flags != nil {
		// With a nil Koanf, posflag passes on only the flags that were set.
		p := posflag.ProviderWithFlag(opts.Flags, ".", nil, func(f *pflag.Flag) (string, any) {
			l := s.byFlag[f.Name]
			if l == nil {
				return "", nil // --config, --help and the like
			}
			return l.key, posflag.FlagVal(opts.Flags, f)
		})
		if err := k.Load(p, nil); err != nil {
			return Config{}, fmt.Errorf("config: flags: %w", err)
		}
	}

	if len(problems) > 0 {
		return Config{}, errors.Join(problems...)
	}

	var c Config
	// Every layer holds values of the fields' own types, so the decoder is
	// strict: a mismatch would be a bug here, not a user's mistake.
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			TagName:     "koanf",
			ErrorUnused: true,
			Result:      &c,
		},
	})
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	// The lists of objects come from the file alone, already typed and
	// checked: they do not go through koanf, whose maps would lose the
	// difference between an unset list (nil) and an empty one inside an item.
	for i := range s.lists {
		l := &s.lists[i]
		if v, ok := lists[l.key]; ok {
			l.value(&c).Set(v)
		} else {
			l.value(&c).SetZero()
		}
	}
	return c.normalize(s), nil
}

// normalize makes empty lists nil, so that a Config does not depend on
// whether a list came from Default or from "[]". Lists inside the items of
// devices and buckets are left alone: there nil and empty differ.
func (c Config) normalize(s *schema) Config {
	for _, l := range s.leaves {
		if f := l.field(&c); l.kind == kindList && f.Len() == 0 {
			f.SetZero()
		}
	}
	for i := range s.lists {
		if f := s.lists[i].value(&c); f.Len() == 0 {
			f.SetZero()
		}
	}
	return c
}

func (s *schema) envNames() []string {
	names := make([]string, len(s.leaves))
	for i, l := range s.leaves {
		names[i] = l.env()
	}
	return names
}

func (s *schema) keys() []string {
	keys := make([]string, 0, len(s.leaves)+len(s.sections))
	for _, l := range s.leaves {
		keys = append(keys, l.key)
	}
	for sec := range s.sections {
		keys = append(keys, sec)
	}
	for _, l := range s.lists {
		keys = append(keys, l.key)
	}
	slices.Sort(keys)
	return keys
}

// parseYAML reads a configuration file through yaml.v3's node tree, which
// keeps lines: it returns the values it holds by flat key, typed as the
// fields are, the lists of objects (devices, buckets) by key, as slices of
// the fields' types, and a problem per unknown key, duplicate key or value
// of the wrong type, and per invalid item of a list (see checkList). A
// dotted key (mqtt.tls.address: ...) is read as if nested.
func (s *schema) parseYAML(name string, b []byte) (map[string]any, map[string]reflect.Value, []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, []error{&problem{where: name, msg: err.Error(), kind: ErrSyntax}}
	}
	values := make(map[string]any)
	lists := make(map[string]reflect.Value)
	if len(doc.Content) == 0 {
		return values, lists, nil // empty, or only comments
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return values, lists, nil
	}
	p := &yamlParser{s: s, name: name, values: values, lists: lists, seen: make(map[string]int)}
	if root.Kind != yaml.MappingNode {
		p.fail(root, "", ErrSyntax, "expected a mapping of keys, got %s", describeNode(root))
		return values, lists, p.problems
	}
	p.mapping(root, "")
	return values, lists, p.problems
}

type yamlParser struct {
	s        *schema
	name     string
	values   map[string]any
	lists    map[string]reflect.Value
	seen     map[string]int // line of each key and section, by path
	problems []error
}

func (p *yamlParser) fail(n *yaml.Node, key string, kind error, format string, args ...any) {
	p.problems = append(p.problems, &problem{
		where: fmt.Sprintf("%s:%d", p.name, n.Line),
		key:   key,
		msg:   fmt.Sprintf(format, args...),
		kind:  kind,
		line:  n.Line,
	})
}

// mapping walks the keys of section prefix ("" for the top level).
func (p *yamlParser) mapping(m *yaml.Node, prefix string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := resolve(m.Content[i]), resolve(m.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			p.fail(kn, prefix, ErrSyntax, "a key must be a string, got %s", describeNode(kn))
			continue
		}
		if kn.Value == "" {
			p.fail(kn, prefix, ErrUnknownKey, "empty key")
			continue
		}
		key := kn.Value
		if prefix != "" {
			key = prefix + "." + kn.Value
		}
		if kn.ShortTag() == "!!merge" {
			p.fail(kn, prefix, ErrSyntax, "merge keys (<<) are not supported")
			continue
		}
		if line, dup := p.seen[key]; dup {
			p.fail(kn, key, ErrSyntax, "duplicate key (first at line %d)", line)
			continue
		}
		p.seen[key] = kn.Line
		switch l := p.s.byKey[key]; {
		case p.s.sections[key]:
			switch {
			case isNull(vn):
			case vn.Kind == yaml.MappingNode:
				p.mapping(vn, key)
			default:
				p.fail(kn, key, ErrBadValue, "expected a mapping of %s.* keys, got %s", key, describeNode(vn))
			}
		case l != nil:
			if isNull(vn) {
				continue
			}
			if v, err := p.value(l, vn); err != nil {
				p.fail(kn, key, ErrBadValue, "%s", err)
			} else {
				p.values[key] = v
			}
		case p.s.byList[key] != nil:
			if isNull(vn) {
				continue
			}
			p.list(p.s.byList[key], kn, vn)
		default:
			msg := "unknown key"
			if near := p.near(key); near != "" {
				msg += " (did you mean " + near + "?)"
			}
			p.fail(kn, key, ErrUnknownKey, "%s", msg)
		}
	}
}

// list reads a list of objects: a sequence of mappings whose keys are the
// fields of the list's items, read as strictly as the top-level keys. The
// items are then checked together (checkList), except those with a problem
// already. Every problem names its item by position from 0: devices[2].id.
func (p *yamlParser) list(l *list, kn, vn *yaml.Node) {
	if vn.Kind != yaml.SequenceNode {
		p.fail(kn, l.key, ErrBadValue, "expected a list of mappings, got %s", describeNode(vn))
		return
	}
	type itemLines struct {
		item   int            // line of the item
		fields map[string]int // line of each of its keys
		bad    bool           // it has a problem already
	}
	n := len(vn.Content)
	items := reflect.MakeSlice(reflect.SliceOf(l.elem), n, n)
	lines := make([]itemLines, n)
	before := len(p.problems)
	for i, item := range vn.Content {
		item = resolve(item)
		path := fmt.Sprintf("%s[%d]", l.key, i)
		lines[i] = itemLines{item: item.Line, fields: make(map[string]int)}
		start := len(p.problems)
		if item.Kind != yaml.MappingNode {
			p.fail(item, path, ErrBadValue, "expected a mapping of %s keys, got %s", l.key, describeNode(item))
		} else {
			p.item(l, path, item, items.Index(i), lines[i].fields)
		}
		lines[i].bad = len(p.problems) > start
	}
	for _, ip := range checkList(items.Interface()) {
		at := lines[ip.index]
		if at.bad {
			continue
		}
		key, line := fmt.Sprintf("%s[%d]", l.key, ip.index), at.item
		if ip.field != "" {
			key += "." + ip.field
			if fl, ok := at.fields[ip.field]; ok {
				line = fl
			}
		}
		p.problems = append(p.problems, &problem{
			where: fmt.Sprintf("%s:%d", p.name, line),
			key:   key,
			msg:   ip.msg,
			kind:  ErrInvalid,
			line:  line,
		})
	}
	if len(p.problems) == before {
		p.lists[l.key] = items
		return
	}
	// In the file's order, as for the other keys.
	slices.SortStableFunc(p.problems[before:], func(a, b error) int {
		return a.(*problem).line - b.(*problem).line
	})
}

// item reads the keys of one item of list l into v, noting each key's line.
func (p *yamlParser) item(l *list, path string, m *yaml.Node, v reflect.Value, lines map[string]int) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := resolve(m.Content[i]), resolve(m.Content[i+1])
		switch {
		case kn.Kind != yaml.ScalarNode:
			p.fail(kn, path, ErrSyntax, "a key must be a string, got %s", describeNode(kn))
			continue
		case kn.Value == "":
			p.fail(kn, path, ErrUnknownKey, "empty key")
			continue
		case kn.ShortTag() == "!!merge":
			p.fail(kn, path, ErrSyntax, "merge keys (<<) are not supported")
			continue
		}
		key := path + "." + kn.Value
		if line, dup := lines[kn.Value]; dup {
			p.fail(kn, key, ErrSyntax, "duplicate key (first at line %d)", line)
			continue
		}
		lines[kn.Value] = kn.Line
		f := l.field(kn.Value)
		if f == nil {
			msg := "unknown key"
			if near := closest(kn.Value, l.names()); near != "" {
				msg += " (did you mean " + near + "?)"
			}
			p.fail(kn, key, ErrUnknownKey, "%s", msg)
			continue
		}
		if isNull(vn) {
			continue // not set, as at the top level
		}
		if err := f.set(v.Field(f.index), vn); err != nil {
			p.fail(kn, key, ErrBadValue, "%s", err)
		}
	}
}

// set reads n into the item's field v. Strings take any scalar as written;
// a list must be a YAML sequence (not a comma-separated string: a topic
// filter may hold a comma), and an empty one stays empty, not nil.
func (f *itemField) set(v reflect.Value, n *yaml.Node) error {
	if f.kind == kindList {
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("expected a list of strings, got %s", describeNode(n))
		}
		items := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return fmt.Errorf("item %d: expected a string, got %s", i+1, describeNode(item))
			}
			items = append(items, item.Value)
		}
		v.Set(reflect.ValueOf(items))
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected %s, got %s", f.kind.article(), describeNode(n))
	}
	x, err := f.kind.parse(n.Value)
	if err != nil {
		return err
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(reflect.ValueOf(x))
		v.Set(p)
		return nil
	}
	v.Set(reflect.ValueOf(x))
	return nil
}

// near suggests a key for an unknown one: a likely typo, or the only key
// with the same last name (max_packet_size → mqtt.max_packet_size,
// api.devices → devices).
func (p *yamlParser) near(key string) string {
	keys := p.s.keys()
	if c := closest(key, keys); c != "" {
		return c
	}
	last := key[strings.LastIndexByte(key, '.')+1:]
	var found string
	for _, k := range keys {
		if k == last || strings.HasSuffix(k, "."+last) {
			if found != "" {
				return ""
			}
			found = k
		}
	}
	return found
}

// value reads one key's value: a scalar in the shared syntax (kind.parse),
// whatever YAML type it resolved to, so that 0042 stays "0042" for a string
// key; for a list, a sequence of scalars or one comma-separated scalar.
func (p *yamlParser) value(l *leaf, n *yaml.Node) (any, error) {
	if l.kind == kindList && n.Kind == yaml.SequenceNode {
		items := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return nil, fmt.Errorf("item %d: expected a string, got %s", i+1, describeNode(item))
			}
			items = append(items, item.Value)
		}
		return items, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("expected %s, got %s", l.kind.article(), describeNode(n))
	}
	return l.kind.parse(n.Value)
}

// resolve follows an alias to its anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for range 8 { // an anchor is never on an alias; the bound is only a guard
		if n.Kind != yaml.AliasNode || n.Alias == nil {
			break
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}
