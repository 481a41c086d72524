package config

import (
	"fmt"
	"strings"
)

// Reference is the configuration reference as a Markdown table: for every
// key its environment variable, flag, type, default and description.
func Reference() string {
	var b strings.Builder
	lim := limits()
	def := Default()
	b.WriteString("| Key | Environment | Flag | Type | Default | Description |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, l := range newSchema().leaves {
		desc := l.desc
		if r, ok := lim[l.key]; ok {
			desc += " Allowed: " + r.describe(l.kind) + "."
		}
		typ := l.kind.String()
		if l.kind == kindList {
			typ = "list of strings"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | %s | %s | %s |\n",
			l.key, l.env(), l.flag(), typ, showDefault(l.get(def)), strings.ReplaceAll(desc, "|", `\|`))
	}
	return b.String()
}

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
