package payload

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decode is Decode's work, on d's memory.
func (d *Decoder) decode(data []byte, received time.Time) (Result, error) {
	if len(data) > d.opts.MaxBytes {
		return Result{}, &Error{Reason: ReasonTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(data), d.opts.MaxBytes)}
	}
	d.data, d.pos, d.depth, d.objects, d.dotted = data, 0, 0, 0, false
	d.path, d.fields, d.skipped = d.path[:0], d.fields[:0], Skipped{}
	d.fromTS, d.received = false, received
	d.set.reset()
	err := d.top()
	d.data = nil // do not keep the caller's buffer
	if err != nil {
		return Result{}, err
	}
	r := Result{Time: received.UTC(), Fields: d.fields, Skipped: d.skipped}
	if d.fromTS {
		r.Time, r.FromTS = d.ts, true
	}
	return r, nil
}

// top decodes the payload's value and checks what is left.
func (d *Decoder) top() error {
	d.skipSpace()
	if d.pos == len(d.data) {
		return d.fail(ReasonSyntax, "empty payload")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		if err := d.object(); err != nil {
			return err
		}
	case c == '[':
		return d.fail(ReasonNotObject, "top-level array")
	case c == '"':
		return d.fail(ReasonNotObject, "top-level string")
	case c == 'n' && d.literal("null"):
		return d.fail(ReasonNotObject, "top-level null")
	case c == '-' || isDigit(c) || c == 't' || c == 'f' || c == 'N' || c == 'I':
		d.path = append(d.path, "value"...)
		if err := d.value(); err != nil {
			return err
		}
		d.path = d.path[:0]
	default:
		return d.syntax("looking for the payload's value")
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.fail(ReasonTrailing, fmt.Sprintf("%s after the value, at offset %d", plural(len(d.data)-d.pos, "byte"), d.pos))
	}
	if len(d.fields) == 0 {
		s := d.skipped
		switch {
		case s.Strings > 0 && s.Nulls > 0:
			return d.fail(ReasonNoFields, plural(s.Strings, "string")+", "+plural(s.Nulls, "null")+" skipped")
		case s.Strings > 0:
			return d.fail(ReasonNoFields, plural(s.Strings, "string")+" skipped")
		case s.Nulls > 0:
			return d.fail(ReasonNoFields, plural(s.Nulls, "null")+" skipped")
		}
		return d.fail(ReasonNoFields, "")
	}
	if d.dotted {
		return d.uniqueFields()
	}
	return nil
}

// uniqueFields checks that no two fields have the same name, which only a
// key with a dot in it can bring about ({"a.b":1,"a":{"b":2}}): keys are
// unique in each object, so names made of keys without dots are too.
func (d *Decoder) uniqueFields() error {
	for _, f := range d.fields {
		d.path = append(d.path[:0], f.Name...)
		if !d.set.add(-1, d.path) {
			return d.fail(ReasonDuplicate, "two fields flatten to this name")
		}
	}
	return nil
}

// value decodes the value at d.pos, named d.path.
func (d *Decoder) value() error {
	if d.pos == len(d.data) {
		return d.syntax("looking for a value")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		d.skipped.Strings++
		return d.skipString()
	case 'n':
		if !d.literal("null") {
			return d.syntax("looking for a value")
		}
		d.skipped.Nulls++
		return nil
	case 't':
		if !d.literal("true") {
			return d.syntax("looking for a value")
		}
		return d.field(1)
	case 'f':
		if !d.literal("false") {
			return d.syntax("looking for a value")
		}
		return d.field(0)
	case 'N', 'I':
		return d.nonNumber()
	default:
		if c != '-' && !isDigit(c) {
			return d.syntax("looking for a value")
		}
		if c == '-' && d.pos+1 < len(d.data) && d.data[d.pos+1] == 'I' {
			return d.nonNumber()
		}
		start := d.pos
		if err := d.scanNumber(); err != nil {
			return err
		}
		v, ok := parseNumber(d.data[start:d.pos])
		if !ok {
			return d.fail(ReasonNumber, quoteClip(d.data[start:d.pos])+" is beyond float64's range")
		}
		return d.field(v)
	}
}

// nonNumber rejects NaN, Infinity and -Infinity, which some encoders
// (Python's json, some Arduino libraries) write though JSON has no such
// numbers; anything else starting with N or I is not JSON.
func (d *Decoder) nonNumber() error {
	for _, s := range [...]string{"NaN", "Infinity", "-Infinity"} {
		if d.literal(s) {
			return d.fail(ReasonNumber, s+" is not a JSON number")
		}
	}
	return d.syntax("looking for a value")
}

// field adds a field named d.path.
func (d *Decoder) field(v float64) error {
	if len(d.fields) >= d.opts.MaxFields {
		return d.fail(ReasonTooManyFields, fmt.Sprintf("more than %d", d.opts.MaxFields))
	}
	d.fields = append(d.fields, Field{Name: d.name(), Value: v})
	return nil
}

// object decodes the object at d.pos.
func (d *Decoder) object() error {
	if d.depth++; d.depth > d.opts.MaxDepth {
		return d.fail(ReasonTooDeep, fmt.Sprintf("more than %d levels", d.opts.MaxDepth))
	}
	scope := d.objects
	d.objects++
	d.pos++ // {
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil
	}
	base := len(d.path)
	for {
		if d.pos == len(d.data) || d.data[d.pos] != '"' {
			return d.syntax("looking for an object key")
		}
		start := base
		if base > 0 {
			d.path = append(d.path, '.')
			start++
		}
		if err := d.key(); err != nil {
			return err
		}
		if len(d.path) > MaxNameLen {
			return d.fail(ReasonName, fmt.Sprintf("longer than %d bytes", MaxNameLen))
		}
		key := d.path[start:]
		if problem := checkName(key); problem != "" {
			return d.fail(ReasonName, problem)
		}
		if !d.set.add(scope, key) {
			return d.fail(ReasonDuplicate, "key repeated in its object")
		}
		if bytes.IndexByte(key, '.') >= 0 {
			d.dotted = true
		}
		d.skipSpace()
		if d.pos == len(d.data) || d.data[d.pos] != ':' {
			return d.syntax("after an object key")
		}
		d.pos++
		d.skipSpace()
		var err error
		if d.depth == 1 && string(key) == "ts" {
			err = d.timestamp()
		} else {
			err = d.value()
		}
		if err != nil {
			return err
		}
		d.path = d.path[:base]
		if more, err := d.next('}', "after an object member"); !more {
			return err
		}
	}
}

// next consumes what follows a member or element: a ',' (more is true) or
// the closing byte (the container ends), anything else is a syntax error.
func (d *Decoder) next(closing byte, what string) (more bool, err error) {
	d.skipSpace()
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
			return true, nil
		case closing:
			d.pos++
			d.depth--
			return false, nil
		}
	}
	return false, d.syntax(what)
}

// array decodes the array at d.pos.
func (d *Decoder) array() error {
	if d.depth++; d.depth > d.opts.MaxDepth {
		return d.fail(ReasonTooDeep, fmt.Sprintf("more than %d levels", d.opts.MaxDepth))
	}
	d.pos++ // [
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return nil
	}
	base := len(d.path) // > 0: arrays are never at the top
	for i := 0; ; i++ {
		d.path = strconv.AppendInt(append(d.path, '.'), int64(i), 10)
		if len(d.path) > MaxNameLen {
			return d.fail(ReasonName, fmt.Sprintf("longer than %d bytes", MaxNameLen))
		}
		if err := d.value(); err != nil {
			return err
		}
		d.path = d.path[:base]
		if more, err := d.next(']', "after an array element"); !more {
			return err
		}
	}
}

// key appends the key string at d.pos, unescaped, to d.path.
func (d *Decoder) key() (err error) {
	d.path, err = d.str(d.path, MaxNameLen)
	return err
}

// str appends the string at d.pos, unescaped, to dst. Once dst is longer
// than limit it stops copying (a name that long is rejected anyway) and
// returns dst cut to limit+1 bytes, having checked the rest of the string.
func (d *Decoder) str(dst []byte, limit int) ([]byte, error) {
	d.pos++ // "
	for {
		start := d.pos
		for d.pos < len(d.data) {
			if c := d.data[d.pos]; c == '"' || c == '\\' || c < 0x20 {
				break
			}
			d.pos++
		}
		dst = append(dst, d.data[start:min(d.pos, start+limit+1)]...)
		if len(dst) > limit {
			return dst[:limit+1], d.skipStringBody()
		}
		if d.pos == len(d.data) {
			return dst, d.syntax("in a string")
		}
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			return dst, nil
		case c < 0x20:
			return dst, d.syntax("in a string")
		}
		r, err := d.escape()
		if err != nil {
			return dst, err
		}
		dst = utf8.AppendRune(dst, r)
	}
}

// escape decodes the escape sequence at d.pos. A lone UTF-16 surrogate
// is U+FFFD.
func (d *Decoder) escape() (rune, error) {
	if d.pos+1 >= len(d.data) {
		d.pos = len(d.data)
		return 0, d.syntax("in a string escape")
	}
	c := d.data[d.pos+1]
	d.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r := d.hex4()
		if r < 0 {
			return 0, d.syntax("in a \\u escape")
		}
		if utf16.IsSurrogate(r) {
			if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
				save := d.pos
				d.pos += 2
				r2 := d.hex4()
				if r2 < 0 {
					return 0, d.syntax("in a \\u escape")
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					return dec, nil
				}
				d.pos = save // not a pair: the second escape stands alone
			}
			return utf8.RuneError, nil
		}
		return r, nil
	}
	d.pos--
	return 0, d.syntax("in a string escape")
}

// hex4 decodes the four hex digits at d.pos, or returns -1.
func (d *Decoder) hex4() rune {
	if d.pos+4 > len(d.data) {
		d.pos = len(d.data)
		return -1
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r
}

// skipString checks the string at d.pos and moves past it.
func (d *Decoder) skipString() error {
	d.pos++ // "
	return d.skipStringBody()
}

// skipStringBody moves past the rest of a string whose opening quote is
// behind d.pos.
func (d *Decoder) skipStringBody() error {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			return nil
		case c == '\\':
			if _, err := d.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return d.syntax("in a string")
		default:
			d.pos++
		}
	}
	return d.syntax("in a string")
}

// scanNumber moves past the JSON number at d.pos.
func (d *Decoder) scanNumber() error {
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.pos < len(d.data) && isDigit(d.data[d.pos]):
		d.digits()
	default:
		return d.syntax("in a number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.pos == len(d.data) || !isDigit(d.data[d.pos]) {
			return d.syntax("after a number's decimal point")
		}
		d.digits()
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.pos == len(d.data) || !isDigit(d.data[d.pos]) {
			return d.syntax("in a number's exponent")
		}
		d.digits()
	}
	return nil
}

func (d *Decoder) digits() {
	for d.pos < len(d.data) && isDigit(d.data[d.pos]) {
		d.pos++
	}
}

// parseNumber converts the text of a valid JSON number, reporting false
// when it is beyond float64's range.
func parseNumber(b []byte) (float64, bool) {
	// Up to 15 digits with no fraction or exponent are exact in a float64.
	if n := len(b); n <= 15 || (n == 16 && b[0] == '-') {
		neg := b[0] == '-'
		i, v := 0, int64(0)
		if neg {
			i = 1
		}
		for ; i < n; i++ {
			c := b[i]
			if !isDigit(c) {
				break
			}
			v = v*10 + int64(c-'0')
		}
		if i == n {
			if neg {
				return -float64(v), true
			}
			return float64(v), true
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil // the syntax is valid, so the error is ErrRange: ±Inf
}

// literal reports whether s is at d.pos, and if so moves past it.
func (d *Decoder) literal(s string) bool {
	if len(d.data)-d.pos < len(s) || string(d.data[d.pos:d.pos+len(s)]) != s {
		return false
	}
	d.pos += len(s)
	return true
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// syntax returns a ReasonSyntax rejection at d.pos.
func (d *Decoder) syntax(context string) error {
	if d.pos >= len(d.data) {
		return d.fail(ReasonSyntax, "unexpected end of payload "+context)
	}
	c := d.data[d.pos]
	what := fmt.Sprintf("byte 0x%02x", c)
	if 0x20 <= c && c < 0x7f {
		what = fmt.Sprintf("character %q", c)
	}
	return d.fail(ReasonSyntax, fmt.Sprintf("unexpected %s %s at offset %d", what, context, d.pos))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
