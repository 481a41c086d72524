// Package payload turns an MQTT message's JSON payload into time-series
// points: the fields a device publishes, flattened to names and float64
// values, and the time they were measured.
//
// # Payloads
//
// A payload is a JSON object. Nested objects are flattened with '.'
// ({"env":{"t":21.5}} gives env.t) and arrays by index ({"a":[1,[2,3]]}
// gives a.0, a.1.0 and a.1.1; {"a":[{"x":1}]} gives a.0.x). Numbers are
// kept as float64, parsed over its full range: an integer beyond 2^53 is
// stored rounded to the nearest float64, losing its low digits
// (9007199254740993 becomes 9007199254740992), and a number too small for
// float64 becomes 0. Booleans
// are 1 (true) and 0 (false). Strings and nulls are skipped and counted in
// Result.Skipped; empty objects and arrays give nothing. Fields come in
// document order.
//
// A payload that is a bare number (21.5, -3e2) or a bare boolean is one
// field named "value".
//
// # Time
//
// A top-level "ts" member is the time of the measurement, never a field:
// either a number of milliseconds since the Unix epoch (Thinger.io's
// convention; a fraction of a millisecond is truncated toward zero) or an
// RFC 3339 string ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00"),
// kept to the nanosecond. Either way it must be on or after 2000-01-01 and
// at most Options.MaxFutureSkew after the receive time. Without ts, the time
// is the receive time the caller passes in. Result.Time is in UTC. A "ts"
// deeper in the payload is an ordinary field (env.ts).
//
// # Names
//
// A field name is at most MaxNameLen (128) bytes of UTF-8, made of printable
// characters only (unicode.IsPrint: letters, marks, numbers, punctuation,
// symbols and the ASCII space; no control or format characters, no U+FFFD),
// and its parts between dots are not empty: a key may contain dots
// ({"env.t":1} is the same field as {"env":{"t":1}}) but may not be empty,
// start or end with a dot, or contain "..". Names become CSV and ARFF
// column headers and metric label values: exporters still quote them as
// their format needs (a name may hold a comma, a quote or a space). The rule
// applies to every key, whatever its value, skipped or not.
//
// Names are unique in a message: a key repeated in one object is rejected,
// whatever its values (JSON allows it, but readers disagree on which value
// wins), and so are two fields whose flattened names are the same
// ({"a.b":1,"a":{"b":2}}; a skipped string or null may share a field's
// name).
//
// # Rejections
//
// Nothing is dropped silently: a payload is either decoded whole or
// rejected with an *Error wrapping ErrInvalid, whose Reason is one of a
// small fixed set (fit for a metric label) and whose Path is the flattened
// name at fault. A payload is rejected when it is larger than
// Options.MaxBytes, not JSON, followed by anything but white space, a
// top-level array, string or null, an object without a number or boolean,
// has a NaN or Infinity (which are not JSON, though some encoders write
// them) or a number beyond float64's range, has a name that breaks the rule
// above, more than Options.MaxFields fields, containers nested more than
// Options.MaxDepth deep (the top-level object is depth 1), a duplicate name,
// or a ts that is not a valid time as above.
//
// Use a Decoder, one per goroutine, for a stream of messages: it reuses its
// memory and decodes without allocating once warm. Decode is for one-off
// calls.
package payload

import (
	"fmt"
	"time"
)

// The defaults for Options' zero fields.
const (
	DefaultMaxBytes      = 64 << 10
	DefaultMaxFields     = 256
	DefaultMaxDepth      = 16
	DefaultMaxFutureSkew = 24 * time.Hour

	maxMaxDepth = 1024 // the decoder recurses once per level
)

// Options are the limits a payload must keep. The zero value of each field
// means its default; negative values, and a MaxDepth over 1024, are an
// error (ErrOptions).
type Options struct {
	MaxBytes      int           // payload size in bytes (DefaultMaxBytes)
	MaxFields     int           // fields per message (DefaultMaxFields)
	MaxDepth      int           // nesting of objects and arrays, the top level being 1 (DefaultMaxDepth)
	MaxFutureSkew time.Duration // how far a ts may be after the receive time (DefaultMaxFutureSkew)
}

// withDefaults fills in the zero fields, or reports a negative one.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes < 0 || o.MaxFields < 0 || o.MaxDepth < 0 || o.MaxFutureSkew < 0 {
		return o, fmt.Errorf("payload: %w: negative limit in %+v", ErrOptions, o)
	}
	if o.MaxDepth > maxMaxDepth {
		return o, fmt.Errorf("payload: %w: MaxDepth %d is more than %d", ErrOptions, o.MaxDepth, maxMaxDepth)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFields == 0 {
		o.MaxFields = DefaultMaxFields
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxFutureSkew == 0 {
		o.MaxFutureSkew = DefaultMaxFutureSkew
	}
	return o, nil
}

// Field is one value of a payload.
type Field struct {
	Name  string // flattened, see the package doc
	Value float64
}

// Skipped counts the values a payload had that are not stored.
type Skipped struct {
	Strings, Nulls int
}

// Result is a decoded payload.
type Result struct {
	Time    time.Time // from ts, else the receive time; in UTC
	FromTS  bool      // whether Time came from the payload's ts
	Fields  []Field   // in document order; never empty
	Skipped Skipped   // strings and nulls
}

// Decode decodes one payload received at received: the time used when the
// payload has no ts, and the reference for a ts's future skew, so it must be
// the real time (a zero Time would make every ts look in the future). It
// allocates what it returns; a Decoder does less for a stream of messages.
func Decode(data []byte, received time.Time, opts Options) (Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	// Room for a typical message, so that it allocates little more than its
	// names.
	d := Decoder{opts: opts, set: newNameSet(), fields: make([]Field, 0, min(opts.MaxFields, 16))}
	return d.decode(data, received)
}

// Decoder decodes payloads with fixed Options, reusing its memory from one
// message to the next. It is not safe for concurrent use: give each
// goroutine its own, or keep them in a sync.Pool.
type Decoder struct {
	opts  Options
	set   nameSet           // keys per object, and field names when a key had a dot
	names map[string]string // field names seen, so that steady traffic allocates none

	// The message being decoded.
	data     []byte
	pos      int
	depth    int
	objects  int32 // objects opened so far, the scope of their keys in set
	dotted   bool  // a key had a dot: flattened names may collide
	path     []byte
	fields   []Field
	skipped  Skipped
	ts       time.Time
	fromTS   bool
	received time.Time
}

// maxInterned bounds the field names a Decoder remembers; it forgets them
// all when it reaches it (a device publishing ever new names would
// otherwise grow it without end).
const maxInterned = 4096

// NewDecoder returns a Decoder for opts.
func NewDecoder(opts Options) (*Decoder, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Decoder{opts: opts, set: newNameSet(), names: make(map[string]string)}, nil
}

// Decode is the package's Decode with d's Options. The Result's Fields
// slice is d's: it is valid until the next call (the names in it stay
// valid).
func (d *Decoder) Decode(data []byte, received time.Time) (Result, error) {
	return d.decode(data, received)
}

// name returns the current path as a string, interned when d keeps names.
func (d *Decoder) name() string {
	if d.names == nil {
		return string(d.path)
	}
	if s, ok := d.names[string(d.path)]; ok {
		return s
	}
	if len(d.names) >= maxInterned {
		clear(d.names)
	}
	s := string(d.path)
	d.names[s] = s
	return s
}

// fail returns a rejection of the value at the current path.
func (d *Decoder) fail(r Reason, detail string) error {
	return &Error{Reason: r, Path: clip(d.path), Detail: detail}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
