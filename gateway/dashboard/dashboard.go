// Package dashboard holds the web console's dashboards: named grids of
// widgets (charts, gauges, switches, ...) that show a data bucket's series
// or an MQTT topic's messages, persisted in the gateway's database.
//
// The gateway serves dashboards; it does not render them. It checks a
// dashboard's shape (the grid, the widget types, the data sources) and
// keeps each widget's options as the console wrote them. A dashboard may
// name a bucket that does not exist (yet): the console shows that.
package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/db"
)

const dbBucket = "dashboards"

// Limits of a dashboard.
const (
	MaxWidgets     = 64
	MaxFields      = 16
	MaxOptions     = 4 << 10 // bytes of a widget's options, compacted
	Columns        = 12      // the grid's width
	MaxY           = 1000
	MaxHeight      = 24
	maxName        = 128
	maxFieldName   = 128
	maxPath        = 128
	maxTopic       = 1024
	maxDeviceLabel = 256
)

// Widget types.
const (
	TypeChart  = "chart"
	TypeGauge  = "gauge"
	TypeDonut  = "donut"
	TypeValue  = "value"
	TypeLED    = "led"
	TypeSwitch = "switch"
	TypeSlider = "slider"
	TypeTable  = "table"
	TypeText   = "text"
)

// Types lists the widget types, in the order the console offers them.
var Types = []string{TypeChart, TypeGauge, TypeDonut, TypeValue, TypeLED, TypeSwitch, TypeSlider, TypeTable, TypeText}

// Kinds of data source.
const (
	KindBucket = "bucket" // a bucket's series
	KindTopic  = "topic"  // messages on an MQTT topic filter
	KindNone   = "none"   // no data (text widgets)
)

var (
	// ErrNotFound means no dashboard has the given id.
	ErrNotFound = errors.New("dashboard not found")
	// ErrExists means a dashboard with the given id already exists.
	ErrExists = errors.New("dashboard already exists")
	// ErrInvalid is wrapped by every *FieldError.
	ErrInvalid = errors.New("invalid dashboard")
	// ErrUnknownField is wrapped by a *FieldError for a member the
	// dashboard format does not have (a typo, most likely).
	ErrUnknownField = errors.New("unknown field")
	// ErrType is wrapped by a *FieldError for a value of the wrong JSON type.
	ErrType = errors.New("wrong type")
	// ErrSyntax is wrapped by Parse's error for input that is not JSON.
	ErrSyntax = errors.New("malformed JSON")
)

// FieldError says which field of a dashboard is not acceptable and why.
// Field is a path such as "widgets[2].source.topic".
type FieldError struct {
	Field  string
	Reason string
	kind   error // nil, ErrUnknownField or ErrType
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalid) true, and ErrUnknownField or
// ErrType for a decoding problem.
func (e *FieldError) Unwrap() []error {
	if e.kind != nil {
		return []error{ErrInvalid, e.kind}
	}
	return []error{ErrInvalid}
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether id is a valid dashboard or widget id: 1 to 64 of
// A-Z a-z 0-9 _ -.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Dashboard is a dashboard: its JSON is the API's and the export format.
type Dashboard struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Widgets []Widget  `json:"widgets"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Widget is one tile of a dashboard's grid, 12 columns wide: X and W in
// columns, Y and H in rows.
type Widget struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	X      int    `json:"x"`
	Y      int    `json:"y"`
	W      int    `json:"w"`
	H      int    `json:"h"`
	Source Source `json:"source"`
	// Options are the console's settings of the widget (window, unit,
	// colours, ...): a JSON object of at most MaxOptions bytes, kept as
	// given (compacted); nil when absent.
	Options json.RawMessage `json:"options,omitempty"`
}

// Source is where a widget's data comes from. Only the members of its
// Kind are set.
type Source struct {
	Kind string `json:"kind"`
	// KindBucket: the bucket's id, the fields shown (none for all) and
	// optionally one device's points only.
	Bucket string   `json:"bucket,omitempty"`
	Fields []string `json:"fields,omitempty"`
	Device string   `json:"device,omitempty"`
	// KindTopic: an MQTT topic filter and optionally the path of a value
	// inside a JSON payload ("env.t").
	Topic string `json:"topic,omitempty"`
	Path  string `json:"path,omitempty"`
}

// Validate checks the dashboard against the rules, naming the first field
// at fault by its path, and normalises it: no widgets is an empty list, an
// empty list of fields is none, options of "null" are none, options are
// compacted, a source with no kind and nothing else is "none". Created and
// Updated are not looked at.
func (d *Dashboard) Validate() error {
	if !ValidID(d.ID) {
		return fieldErr("id", "%s must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'", quote(d.ID))
	}
	if len(d.Name) > maxName {
		return fieldErr("name", "is longer than %d bytes", maxName)
	}
	if len(d.Widgets) > MaxWidgets {
		return fieldErr("widgets", "has %d widgets; at most %d are allowed", len(d.Widgets), MaxWidgets)
	}
	if d.Widgets == nil {
		d.Widgets = []Widget{}
	}
	seen := make(map[string]int, len(d.Widgets))
	for i := range d.Widgets {
		p := fmt.Sprintf("widgets[%d]", i)
		if err := d.Widgets[i].validate(p); err != nil {
			return err
		}
		if j, dup := seen[d.Widgets[i].ID]; dup {
			return fieldErr(p+".id", "%s is also the id of widgets[%d]; widget ids must be unique", quote(d.Widgets[i].ID), j)
		}
		seen[d.Widgets[i].ID] = i
	}
	return nil
}

func (w *Widget) validate(p string) error {
	switch {
	case !ValidID(w.ID):
		return fieldErr(p+".id", "%s must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'", quote(w.ID))
	case !validType(w.Type):
		return fieldErr(p+".type", "%s is not a widget type; use one of %s", quote(w.Type), strings.Join(Types, ", "))
	case len(w.Title) > maxName:
		return fieldErr(p+".title", "is longer than %d bytes", maxName)
	case w.X < 0 || w.X > Columns-1:
		return fieldErr(p+".x", "%d is outside the grid: from 0 to %d", w.X, Columns-1)
	case w.W < 1 || w.W > Columns:
		return fieldErr(p+".w", "%d must be from 1 to %d columns", w.W, Columns)
	case w.X+w.W > Columns:
		return fieldErr(p+".w", "%d columns from x %d go past the grid's %d columns", w.W, w.X, Columns)
	case w.Y < 0 || w.Y > MaxY:
		return fieldErr(p+".y", "%d must be from 0 to %d", w.Y, MaxY)
	case w.H < 1 || w.H > MaxHeight:
		return fieldErr(p+".h", "%d must be from 1 to %d rows", w.H, MaxHeight)
	}
	if err := w.Source.validate(p+".source", w.Type); err != nil {
		return err
	}
	return w.normalizeOptions(p + ".options")
}

func validType(t string) bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

func (s *Source) validate(p, widgetType string) error {
	if s.Kind == "" && s.Bucket == "" && len(s.Fields) == 0 && s.Device == "" && s.Topic == "" && s.Path == "" {
		s.Kind = KindNone
	}
	// only names a member that does not belong to the kind.
	only := func(kind string, members ...string) error {
		set := map[string]bool{"bucket": s.Bucket != "", "fields": len(s.Fields) > 0, "device": s.Device != "", "topic": s.Topic != "", "path": s.Path != ""}
		for _, m := range members {
			delete(set, m)
		}
		for _, m := range []string{"bucket", "fields", "device", "topic", "path"} {
			if set[m] {
				return fieldErr(p+"."+m, "is not used by a source of kind %q", kind)
			}
		}
		return nil
	}
	switch s.Kind {
	case KindBucket:
		if !ValidID(s.Bucket) {
			if s.Bucket == "" {
				return fieldErr(p+".bucket", "is required: the id of the bucket to show")
			}
			return fieldErr(p+".bucket", "%s is not a bucket id: 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'", quote(s.Bucket))
		}
		if len(s.Fields) == 0 {
			s.Fields = nil // all fields, however it was said
		}
		if len(s.Fields) > MaxFields {
			return fieldErr(p+".fields", "has %d names; at most %d are allowed", len(s.Fields), MaxFields)
		}
		seen := make(map[string]bool, len(s.Fields))
		for i, f := range s.Fields {
			fp := fmt.Sprintf("%s.fields[%d]", p, i)
			if r := labelProblem(f, maxFieldName); r != "" {
				return fieldErr(fp, "%s", r)
			}
			if seen[f] {
				return fieldErr(fp, "%s is listed twice", quote(f))
			}
			seen[f] = true
		}
		if s.Device != "" {
			if r := labelProblem(s.Device, maxDeviceLabel); r != "" {
				return fieldErr(p+".device", "%s", r)
			}
		}
		return only(KindBucket, "bucket", "fields", "device")
	case KindTopic:
		if s.Topic == "" {
			return fieldErr(p+".topic", "is required: an MQTT topic filter such as sensors/+/env")
		}
		if err := acl.ValidFilter(s.Topic); err != nil {
			return fieldErr(p+".topic", "%s", strings.TrimPrefix(err.Error(), acl.ErrInvalidFilter.Error()+" "))
		}
		if len(s.Topic) > maxTopic {
			return fieldErr(p+".topic", "is longer than %d bytes", maxTopic)
		}
		if s.Topic[0] == '$' {
			return fieldErr(p+".topic", "%s: topics beginning with '$' (broker statistics, shared subscriptions) cannot be shown", quote(s.Topic))
		}
		if s.Path != "" {
			if r := pathProblem(s.Path); r != "" {
				return fieldErr(p+".path", "%s", r)
			}
		}
		return only(KindTopic, "topic", "path")
	case KindNone:
		if widgetType != TypeText {
			return fieldErr(p+".kind", "a %s widget needs data: kind %q or %q (%q is for text widgets)", widgetType, KindBucket, KindTopic, KindNone)
		}
		return only(KindNone)
	}
	return fieldErr(p+".kind", "%s must be %q, %q or %q", quote(s.Kind), KindBucket, KindTopic, KindNone)
}

// labelProblem says why s is not a field name or device label of at most
// max bytes, or "".
func labelProblem(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return fmt.Sprintf("is longer than %d bytes", max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Sprintf("%s has a control character", quote(s))
		}
	}
	return ""
}

// pathProblem says why p is not a path into a JSON payload (names or array
// indexes joined by '.', as bucket fields are named: "env.t", "batt.0").
func pathProblem(p string) string {
	if r := labelProblem(p, maxPath); r != "" {
		return r
	}
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			return fmt.Sprintf("%s has an empty part: write names joined by '.', such as env.t", quote(p))
		}
	}
	return ""
}

func (w *Widget) normalizeOptions(p string) error {
	raw := bytes.TrimSpace(w.Options)
	if len(raw) == 0 || string(raw) == "null" {
		w.Options = nil
		return nil
	}
	if raw[0] != '{' {
		return fieldErr(p, "must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return fieldErr(p, "is not valid JSON: %v", err)
	}
	if buf.Len() > MaxOptions {
		return fieldErr(p, "is %d bytes; at most %d are allowed", buf.Len(), MaxOptions)
	}
	w.Options = buf.Bytes()
	return nil
}

func quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// Config configures a Store.
type Config struct {
	DB     *db.DB
	Logger *slog.Logger
	// Now is the clock of the created and updated times (time.Now by default).
	Now func() time.Time
}

// Store keeps the dashboards in the database. It is safe for concurrent
// use: every change is one transaction.
type Store struct {
	db  *db.DB
	log *slog.Logger
	now func() time.Time
}

// New returns the store of cfg.DB's dashboards.
func New(cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, errors.New("dashboard: no database")
	}
	s := &Store{db: cfg.DB, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// List returns every dashboard, by id.
func (s *Store) List() ([]Dashboard, error) {
	out := []Dashboard{}
	err := s.db.View(func(tx db.Tx) error {
		return tx.ForEach(dbBucket, func(key string, raw []byte) error {
			var d Dashboard
			if err := json.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("%w: dashboard %s: %v", db.ErrCorrupt, key, err)
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: list: %w", err)
	}
	return out, nil
}

// Get returns one dashboard.
func (s *Store) Get(id string) (Dashboard, error) {
	var d Dashboard
	err := s.db.View(func(tx db.Tx) error { return tx.Get(dbBucket, id, &d) })
	if errors.Is(err, db.ErrNotFound) {
		return Dashboard{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Dashboard{}, fmt.Errorf("dashboard %s: %w", id, err)
	}
	return d, nil
}

// Create adds a dashboard; its Created and Updated are set to now.
func (s *Store) Create(d Dashboard) (Dashboard, error) {
	if err := d.Validate(); err != nil {
		return Dashboard{}, err
	}
	d.Created = s.now().UTC().Truncate(time.Second)
	d.Updated = d.Created
	err := s.db.Update(func(tx db.Tx) error {
		var old Dashboard
		switch err := tx.Get(dbBucket, d.ID, &old); {
		case err == nil:
			return fmt.Errorf("%w: %s", ErrExists, d.ID)
		case !errors.Is(err, db.ErrNotFound):
			return err
		}
		return tx.Put(dbBucket, d.ID, d)
	})
	if err != nil {
		return Dashboard{}, wrap(d.ID, err)
	}
	s.log.Info("dashboard created", "dashboard", d.ID, "widgets", len(d.Widgets))
	return d, nil
}

// Replace sets the name and widgets of dashboard id to d's. d.ID must be
// id or empty; Created is kept and Updated set to now.
func (s *Store) Replace(id string, d Dashboard) (Dashboard, error) {
	if d.ID != "" && d.ID != id {
		return Dashboard{}, fieldErr("id", "%s does not match the dashboard %s being replaced; leave it out or make them equal", quote(d.ID), quote(id))
	}
	if !ValidID(id) {
		return Dashboard{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	d.ID = id
	if err := d.Validate(); err != nil {
		return Dashboard{}, err
	}
	err := s.db.Update(func(tx db.Tx) error {
		var old Dashboard
		if err := tx.Get(dbBucket, id, &old); err != nil {
			return err
		}
		d.Created = old.Created
		d.Updated = s.now().UTC().Truncate(time.Second)
		return tx.Put(dbBucket, id, d)
	})
	if err != nil {
		return Dashboard{}, wrap(id, err)
	}
	s.log.Info("dashboard replaced", "dashboard", id, "widgets", len(d.Widgets))
	return d, nil
}

// Delete removes a dashboard.
func (s *Store) Delete(id string) error {
	if err := s.db.Update(func(tx db.Tx) error { return tx.Delete(dbBucket, id) }); err != nil {
		return wrap(id, err)
	}
	s.log.Info("dashboard deleted", "dashboard", id)
	return nil
}

func wrap(id string, err error) error {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	case errors.Is(err, ErrExists):
		return err
	}
	return fmt.Errorf("dashboard %s: %w", id, err)
}
