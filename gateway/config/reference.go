package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Reference is the configuration reference in Markdown: a table of every
// key with its environment variable, flag, type, default and description,
// then the lists of objects (devices, buckets), set in the file only, with
// an example and a table of their items' keys.
func Reference() string {
	var b strings.Builder
	lim := limits()
	def := Default()
	s := newSchema()
	b.WriteString("| Key | Environment | Flag | Type | Default | Description |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, l := range s.leaves {
		desc := l.desc
		if r, ok := lim[l.key]; ok {
			desc += " Allowed: " + r.describe(l.kind) + "."
		}
		typ := l.kind.String()
		if l.kind == kindList {
			typ = "list of strings"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | %s | %s | %s |\n",
			l.key, l.env(), l.flag(), typ, showDefault(l.get(def)), escapePipes(desc))
	}
	if len(s.lists) == 0 {
		return b.String()
	}

	names := make([]string, len(s.lists))
	for i, l := range s.lists {
		names[i] = "`" + l.key + "`"
	}
	fmt.Fprintf(&b, "\nThe lists %s are set in the file only, not by environment variables or flags. "+
		"At every start the gateway creates each device and bucket they declare, or updates it to match. "+
		"Errors name an item by its position from 0, as in `buckets[2].retention`.\n\n",
		strings.Join(names[:len(names)-1], ", ")+" and "+names[len(names)-1])
	b.WriteString("```yaml\n")
	b.WriteString(exampleLists(s))
	b.WriteString("```\n\n")
	descs := itemDescriptions()
	b.WriteString("| Key | Type | Description |\n")
	b.WriteString("| --- | --- | --- |\n")
	for _, l := range s.lists {
		for _, f := range l.fields {
			typ := f.kind.String()
			if f.kind == kindList {
				typ = "list of strings"
			}
			fmt.Fprintf(&b, "| `%s[].%s` | %s | %s |\n", l.key, f.name, typ, escapePipes(descs[l.key+"."+f.name]))
		}
	}
	return b.String()
}

// exampleConfig is Default with one device and one bucket, the example of
// Reference.
func exampleConfig() Config {
	c := Default()
	c.Devices = []DeviceSpec{{
		ID:              "greenhouse-1",
		Name:            "Greenhouse sensor",
		Description:     "Temperature and humidity, north bench",
		CredentialsHash: "$argon2id$v=19$m=16384,t=1,p=1$Up01uLnYKdI7X6qA5uKwPA$zhm3hSMZTe/QU1exy+W3vkv9MiX0EkiD28aZTrBgapY",
		Publish:         []string{"sensors/%c/#"},
		Subscribe:       []string{"cmd/%c/#"},
	}}
	c.Buckets = []BucketSpec{{
		ID:          "climate",
		Name:        "Greenhouse climate",
		Description: "Every sensor's readings, kept for 90 days",
		Topic:       "sensors/+/climate",
		Retention:   "90d",
		Resolution:  "1s",
	}}
	return c
}

// exampleLists prints the lists of exampleConfig as Config.YAML does. The
// example is fixed, so it cannot fail; TestReferenceExample loads it.
func exampleLists(s *schema) string {
	c := exampleConfig()
	root := &yaml.Node{Kind: yaml.MappingNode}
	for i := range s.lists {
		l := &s.lists[i]
		v, err := l.yaml(l.value(&c))
		if err != nil {
			return "# " + err.Error() + "\n"
		}
		if v != nil {
			root.Content = append(root.Content, str(l.key), v)
		}
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return "# " + err.Error() + "\n"
	}
	if err := enc.Close(); err != nil {
		return "# " + err.Error() + "\n"
	}
	return b.String()
}

func escapePipes(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func showDefault(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return "(empty)"
		}
	case []string:
		if len(v) == 0 {
			return "(empty)"
		}
	}
	return "`" + format(v) + "`"
}
