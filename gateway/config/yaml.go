package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// YAML prints c as a configuration file with the keys Load reads, in the
// struct's order, durations as "10s", then the devices and buckets lists
// when they are not empty: Load of the result yields c again (provided
// those lists pass Validate, as every Config that Load returns does).
// It fails only for a string that is not valid UTF-8, which YAML cannot
// hold.
func (c Config) YAML() ([]byte, error) {
	s := newSchema()
	root := &yaml.Node{Kind: yaml.MappingNode}
	sections := map[string]*yaml.Node{"": root}
	var mapping func(key string) *yaml.Node
	mapping = func(key string) *yaml.Node {
		if m, ok := sections[key]; ok {
			return m
		}
		cut := strings.LastIndexByte(key, '.')
		parent := mapping(key[:max(cut, 0)])
		m := &yaml.Node{Kind: yaml.MappingNode}
		parent.Content = append(parent.Content, str(key[cut+1:]), m)
		sections[key] = m
		return m
	}
	for _, l := range s.leaves {
		cut := strings.LastIndexByte(l.key, '.')
		parent := mapping(l.key[:max(cut, 0)])
		var v *yaml.Node
		switch val := l.get(c).(type) {
		case string:
			if !utf8.ValidString(val) {
				return nil, fmt.Errorf("config: %s: %q is not valid UTF-8", l.key, val)
			}
			v = str(val)
		case []string:
			v = &yaml.Node{Kind: yaml.SequenceNode}
			for _, item := range val {
				if !utf8.ValidString(item) {
					return nil, fmt.Errorf("config: %s: %q is not valid UTF-8", l.key, item)
				}
				v.Content = append(v.Content, str(item))
			}
		default:
			v = &yaml.Node{Kind: yaml.ScalarNode, Value: format(val)}
		}
		parent.Content = append(parent.Content, str(l.key[cut+1:]), v)
	}
	for i := range s.lists {
		l := &s.lists[i]
		v, err := l.yaml(l.value(&c))
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		cut := strings.LastIndexByte(l.key, '.')
		parent := mapping(l.key[:max(cut, 0)])
		parent.Content = append(parent.Content, str(l.key[cut+1:]), v)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("config: printing YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: printing YAML: %w", err)
	}
	return b.Bytes(), nil
}

// yaml prints the list v as a sequence of mappings, nil when it is empty
// (Load makes an empty list nil). An item's field is left out when its json
// tag says omitempty and it is empty; an empty but non-nil list is printed
// as [], which Load reads back as such.
func (l *list) yaml(v reflect.Value) (*yaml.Node, error) {
	if v.Len() == 0 {
		return nil, nil
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range v.Len() {
		item := v.Index(i)
		m := &yaml.Node{Kind: yaml.MappingNode}
		for _, f := range l.fields {
			fv := item.Field(f.index)
			if f.omitempty && fv.IsZero() {
				continue
			}
			bad := func(s string) error {
				return fmt.Errorf("config: %s[%d].%s: %q is not valid UTF-8", l.key, i, f.name, s)
			}
			var n *yaml.Node
			switch {
			case (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice) && fv.IsNil():
				n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
			case fv.Kind() == reflect.Pointer:
				n = &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(fv.Elem().Interface())}
			case fv.Kind() == reflect.String:
				if !utf8.ValidString(fv.String()) {
					return nil, bad(fv.String())
				}
				n = str(fv.String())
			case fv.Kind() == reflect.Slice:
				n = &yaml.Node{Kind: yaml.SequenceNode}
				if fv.Len() == 0 {
					n.Style = yaml.FlowStyle
				}
				for _, s := range fv.Interface().([]string) {
					if !utf8.ValidString(s) {
						return nil, bad(s)
					}
					n.Content = append(n.Content, str(s))
				}
			default:
				n = &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(fv.Interface())}
			}
			m.Content = append(m.Content, str(f.name), n)
		}
		seq.Content = append(seq.Content, m)
	}
	return seq, nil
}

// str is a string scalar, quoted by the encoder where YAML would read it as
// another type (a string "true" or "8883").
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
