package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DeviceSpec declares a device the gateway creates or updates at every start.
type DeviceSpec struct {
	ID          string `koanf:"id" yaml:"id" json:"id"`
	Name        string `koanf:"name" yaml:"name" json:"name"`
	Description string `koanf:"description" yaml:"description" json:"description"`
	Enabled     *bool  `koanf:"enabled" yaml:"enabled" json:"enabled,omitempty"` // nil = true
	// Exactly one of Credentials (the password itself, at least 12 bytes)
	// and CredentialsHash (as printed by
	// `perch device credentials --hash`, an opaque string starting with "$").
	Credentials     string `koanf:"credentials" yaml:"credentials" json:"credentials,omitempty"`
	CredentialsHash string `koanf:"credentials_hash" yaml:"credentials_hash" json:"credentials_hash,omitempty"`
	// Publish and Subscribe are the device's ACL filters; nil = the default
	// rules, empty = nothing granted.
	Publish   []string `koanf:"publish" yaml:"publish" json:"publish,omitempty"`
	Subscribe []string `koanf:"subscribe" yaml:"subscribe" json:"subscribe,omitempty"`
}

// BucketSpec declares a data bucket the gateway creates or updates at every start.
type BucketSpec struct {
	ID          string `koanf:"id" yaml:"id" json:"id"`
	Name        string `koanf:"name" yaml:"name" json:"name"`
	Description string `koanf:"description" yaml:"description" json:"description"`
	Enabled     *bool  `koanf:"enabled" yaml:"enabled" json:"enabled,omitempty"` // nil = true
	// Topic is the MQTT filter whose messages the bucket stores; "" for a
	// bucket written through the API only.
	Topic string `koanf:"topic" yaml:"topic" json:"topic"`
	// Retention is how long points are kept, as ParseRetention reads it;
	// "" = 365d, "0" = forever.
	Retention string `koanf:"retention" yaml:"retention" json:"retention,omitempty"`
	// Resolution is the bucket's time resolution, a Go duration of whole
	// milliseconds from 1ms to 1h; "" = 1ms.
	Resolution string `koanf:"resolution" yaml:"resolution" json:"resolution,omitempty"`
}

// minCredentialsLen is the shortest password DeviceSpec.Credentials may
// hold: longer than the registry's minimum, as the file keeps it in clear.
const minCredentialsLen = 12

const (
	day          = 24 * time.Hour
	maxRetention = 100 * 365 * day
)

// ParseRetention reads a retention: "0", a whole number of days ("30d") or
// weeks ("2w") up to 100 years, or a non-negative Go duration ("12h",
// "90m"). What 0 means (forever) is the caller's to decide, as is the
// default for "", which is an error here. The error wraps ErrInvalid.
func ParseRetention(s string) (time.Duration, error) {
	d, msg := parseRetention(s)
	if msg != "" {
		return 0, &problem{msg: msg, kind: ErrInvalid}
	}
	return d, nil
}

// parseRetention is ParseRetention with the error as a message to put
// after a key.
func parseRetention(s string) (time.Duration, string) {
	bad := fmt.Sprintf("%q is not a duration (want e.g. 365d, 2w, 12h or 0)", s)
	if s == "0" {
		return 0, ""
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", day}, {"w", 7 * day}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 64)
			if err != nil || v > uint64(maxRetention/u.unit) {
				return 0, bad
			}
			return time.Duration(v) * u.unit, ""
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, ""
}

// itemProblem is one thing wrong with one item of a list of objects: field
// is the item's key at fault, "" for the item as a whole.
type itemProblem struct {
	index int
	field string
	msg   string
}

// checkList checks a list of objects (a Config field of a list kind).
func checkList(v any) []itemProblem {
	switch v := v.(type) {
	case []DeviceSpec:
		return checkDevices(v)
	case []BucketSpec:
		return checkBuckets(v)
	case []BridgeRule:
		return checkBridge(v)
	}
	return nil
}

// checkIDs checks every item's id: set, valid, not used by an earlier item
// of the same list.
func checkIDs(key string, ids []string) []itemProblem {
	var ps []itemProblem
	first := make(map[string]int, len(ids))
	for i, id := range ids {
		switch j, dup := first[id]; {
		case id == "":
			ps = append(ps, itemProblem{i, "id", "must be set"})
		case !validAccount(id):
			ps = append(ps, itemProblem{i, "id", fmt.Sprintf("%q is not 1 to 64 letters, digits, '_' or '-'", id)})
		case dup:
			ps = append(ps, itemProblem{i, "id", fmt.Sprintf("%q is also %s[%d].id", id, key, j)})
		default:
			first[id] = i
		}
	}
	return ps
}

// checkDevices checks the devices list. Credentials are never shown in
// messages.
func checkDevices(ds []DeviceSpec) []itemProblem {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	ps := checkIDs("devices", ids)
	for i, d := range ds {
		switch {
		case d.Credentials == "" && d.CredentialsHash == "":
			ps = append(ps, itemProblem{i, "", "needs credentials or credentials_hash"})
		case d.Credentials != "" && d.CredentialsHash != "":
			ps = append(ps, itemProblem{i, "credentials_hash", "cannot be set with credentials (give one)"})
		case d.Credentials != "" && len(d.Credentials) < minCredentialsLen:
			ps = append(ps, itemProblem{i, "credentials", fmt.Sprintf("is %d bytes, want at least %d", len(d.Credentials), minCredentialsLen)})
		case d.CredentialsHash != "" && !strings.HasPrefix(d.CredentialsHash, "$"):
			ps = append(ps, itemProblem{i, "credentials_hash", `does not start with "$" (print one with perch device credentials --hash)`})
		}
		ps = append(ps, checkFilters(i, "publish", d.Publish)...)
		ps = append(ps, checkFilters(i, "subscribe", d.Subscribe)...)
	}
	return sortItemProblems[DeviceSpec](ps)
}

// checkFilters checks only that no ACL filter is empty; their syntax is the
// gateway's to check.
func checkFilters(i int, field string, filters []string) []itemProblem {
	var ps []itemProblem
	for j, f := range filters {
		if f == "" {
			ps = append(ps, itemProblem{i, field, fmt.Sprintf("item %d is empty", j+1)})
		}
	}
	return ps
}

// checkBuckets checks the buckets list.
func checkBuckets(bs []BucketSpec) []itemProblem {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	ps := checkIDs("buckets", ids)
	for i, b := range bs {
		if b.Retention != "" {
			if _, msg := parseRetention(b.Retention); msg != "" {
				ps = append(ps, itemProblem{i, "retention", msg})
			}
		}
		if b.Resolution != "" {
			if msg := checkResolution(b.Resolution); msg != "" {
				ps = append(ps, itemProblem{i, "resolution", msg})
			}
		}
	}
	return sortItemProblems[BucketSpec](ps)
}

// checkResolution checks a bucket's resolution: a Go duration of whole
// milliseconds from 1ms to 1h.
func checkResolution(s string) string {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a duration (want e.g. 1s or 100ms)", s)
	case d < time.Millisecond || d > time.Hour || d%time.Millisecond != 0:
		return fmt.Sprintf("%q is out of range (allowed: whole milliseconds from 1ms to 1h)", s)
	}
	return ""
}

// sortItemProblems orders problems by item, then by the field's position in
// T (the item as a whole first).
func sortItemProblems[T any](ps []itemProblem) []itemProblem {
	elem := reflect.TypeFor[T]()
	pos := func(field string) int {
		if field == "" {
			return -1
		}
		for i := range elem.NumField() {
			if name, _, _ := strings.Cut(elem.Field(i).Tag.Get("koanf"), ","); name == field {
				return i
			}
		}
		return elem.NumField()
	}
	slices.SortStableFunc(ps, func(a, b itemProblem) int {
		if a.index != b.index {
			return a.index - b.index
		}
		return pos(a.field) - pos(b.field)
	})
	return ps
}

// checkBridge checks the upstream bridge rules.
func checkBridge(rules []BridgeRule) []itemProblem {
	var ps []itemProblem
	for i, r := range rules {
		if r.Direction != "in" && r.Direction != "out" {
			ps = append(ps, itemProblem{i, "direction", fmt.Sprintf("%q is not in or out", r.Direction)})
		}
		switch {
		case r.Filter == "":
			ps = append(ps, itemProblem{i, "filter", "must be set"})
		case strings.HasPrefix(r.Filter, "$"):
			ps = append(ps, itemProblem{i, "filter", fmt.Sprintf("%q: topics beginning with $ belong to the broker", r.Filter)})
		}
		for _, f := range []struct{ name, v string }{{"local_prefix", r.LocalPrefix}, {"remote_prefix", r.RemotePrefix}} {
			if strings.ContainsAny(f.v, "+#") {
				ps = append(ps, itemProblem{i, f.name, fmt.Sprintf("%q contains a wildcard", f.v)})
			}
		}
		if r.QoS != "" && r.QoS != "0" && r.QoS != "1" {
			ps = append(ps, itemProblem{i, "qos", fmt.Sprintf("%q is not 0 or 1", r.QoS)})
		}
	}
	return ps
}
