package config

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// RegisterFlags adds one flag per key to fs, named by the key with '.' and
// '_' turned into '-' (mqtt.tls.address: --mqtt-tls-address), with the
// key's description (from the table Reference prints), its environment
// variable and its default as help.
// Load reads back the ones the user set. Like any pflag registration it
// panics if fs already has a flag of one of these names.
func RegisterFlags(fs *pflag.FlagSet) {
	def := Default()
	for _, l := range newSchema().leaves {
		usage := flagUsage(l.desc) + " [" + l.env() + "]"
		switch v := l.get(def).(type) {
		case string:
			fs.String(l.flag(), v, usage)
		case bool:
			fs.Bool(l.flag(), v, usage)
		case int:
			fs.Int(l.flag(), v, usage)
		case time.Duration:
			fs.Duration(l.flag(), v, usage)
		case []string:
			fs.StringSlice(l.flag(), v, usage)
		}
	}
}

// flagUsage turns a description into help in the style of the other flags:
// "Log format: text or json." → "log format: text or json". Acronyms stay.
func flagUsage(desc string) string {
	desc = strings.TrimSuffix(desc, ".")
	first, n := utf8.DecodeRuneInString(desc)
	if second, _ := utf8.DecodeRuneInString(desc[n:]); unicode.IsLower(second) {
		desc = string(unicode.ToLower(first)) + desc[n:]
	}
	return desc
}
