package config

import (
	"errors"
	"fmt"
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
// file and line or the variable. It does not check values: call Validate
// (gateway.New does).
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
	if opts.File != "" {
		b, err := file.Provider(opts.File).ReadBytes()
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err) // the *fs.PathError names the file
		}
		values, errs := s.parseYAML(opts.File, b)
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
	return c.normalize(s), nil
}

// normalize makes empty lists nil, so that a Config does not depend on
// whether a list came from Default or from "[]".
func (c Config) normalize(s *schema) Config {
	for _, l := range s.leaves {
		if f := l.field(&c); l.kind == kindList && f.Len() == 0 {
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
	slices.Sort(keys)
	return keys
}

// parseYAML reads a configuration file through yaml.v3's node tree, which
// keeps lines: it returns the values it holds by flat key, typed as the
// fields are, and a problem per unknown key, duplicate key or value of the
// wrong type. A dotted key (mqtt.tls.address: ...) is read as if nested.
func (s *schema) parseYAML(name string, b []byte) (map[string]any, []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, []error{&problem{where: name, msg: err.Error(), kind: ErrSyntax}}
	}
	values := make(map[string]any)
	if len(doc.Content) == 0 {
		return values, nil // empty, or only comments
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return values, nil
	}
	p := &yamlParser{s: s, name: name, values: values, seen: make(map[string]int)}
	if root.Kind != yaml.MappingNode {
		p.fail(root, "", ErrSyntax, "expected a mapping of keys, got %s", describeNode(root))
		return values, p.problems
	}
	p.mapping(root, "")
	return values, p.problems
}

type yamlParser struct {
	s        *schema
	name     string
	values   map[string]any
	seen     map[string]int // line of each key and section, by path
	problems []error
}

func (p *yamlParser) fail(n *yaml.Node, key string, kind error, format string, args ...any) {
	p.problems = append(p.problems, &problem{
		where: fmt.Sprintf("%s:%d", p.name, n.Line),
		key:   key,
		msg:   fmt.Sprintf(format, args...),
		kind:  kind,
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
		default:
			msg := "unknown key"
			if near := p.near(key); near != "" {
				msg += " (did you mean " + near + "?)"
			}
			p.fail(kn, key, ErrUnknownKey, "%s", msg)
		}
	}
}

// near suggests a key for an unknown one: a likely typo, or the only key
// with the same last name (max_packet_size → mqtt.max_packet_size).
func (p *yamlParser) near(key string) string {
	keys := p.s.keys()
	if c := closest(key, keys); c != "" {
		return c
	}
	last := key[strings.LastIndexByte(key, '.')+1:]
	var found string
	for _, k := range keys {
		if strings.HasSuffix(k, "."+last) {
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
