package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// YAML prints c as a configuration file with the keys Load reads, in the
// struct's order, durations as "10s": Load of the result yields c again.
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

// str is a string scalar, quoted by the encoder where YAML would read it as
// another type (a string "true" or "8883").
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
