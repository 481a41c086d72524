package payload

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

var (
	// ErrInvalid is wrapped by every rejection of a payload: the error is an
	// *Error that says why (Reason) and where (Path).
	ErrInvalid = errors.New("invalid payload")
	// ErrOptions is returned by NewDecoder and Decode for Options with a
	// negative limit or a MaxDepth over 1024: a programming or
	// configuration error, not the payload's fault.
	ErrOptions = errors.New("invalid payload options")
)

// Reason says why a payload was rejected. It is one of the constants below:
// a short fixed phrase, never input, so it is fit for a metric label.
type Reason string

// The reasons a payload is rejected.
const (
	ReasonTooLarge      Reason = "too large"               // more than Options.MaxBytes
	ReasonSyntax        Reason = "not JSON"                // malformed JSON, or an empty payload
	ReasonTrailing      Reason = "trailing data"           // something other than white space after the value
	ReasonNotObject     Reason = "not an object or number" // a top-level array, string or null
	ReasonNoFields      Reason = "no numeric fields"       // an object without a number or boolean
	ReasonNumber        Reason = "invalid number"          // NaN, Infinity, or beyond float64's range
	ReasonName          Reason = "invalid name"            // a name that breaks the rule in the package doc
	ReasonDuplicate     Reason = "duplicate name"          // a repeated key, or two values flattened to one name
	ReasonTooManyFields Reason = "too many fields"         // more than Options.MaxFields
	ReasonTooDeep       Reason = "too deeply nested"       // more than Options.MaxDepth levels
	ReasonTimestamp     Reason = "invalid timestamp"       // a ts that is not a plausible epoch-millisecond number or RFC 3339 time
)

// maxShownPath bounds how much of a name an Error keeps: names come from
// the payload, and messages go to logs.
const maxShownPath = 48

// Error is a payload's rejection. It unwraps to ErrInvalid.
type Error struct {
	// Reason is why, one of the Reason constants.
	Reason Reason
	// Path is the flattened name of the value at fault ("env.t", "a.0",
	// "ts", "value" for a bare number), "" for the payload as a whole. A
	// long name is cut to its first 48 bytes followed by "...".
	Path string
	// Detail says more about this payload's problem, for people; it may be
	// empty. It quotes at most a few dozen bytes of the payload.
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("payload: ")
	if e.Path != "" {
		if validName(e.Path) == "" {
			b.WriteString(e.Path)
		} else {
			b.WriteString(strconv.QuoteToASCII(e.Path))
		}
		b.WriteString(": ")
	}
	b.WriteString(string(e.Reason))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// clip returns at most maxShownPath bytes of b as a string, cut at a rune
// boundary when b is UTF-8, with "..." when it was cut.
func clip(b []byte) string {
	if len(b) <= maxShownPath {
		return string(b)
	}
	n := maxShownPath
	for n > maxShownPath-utf8.UTFMax && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "..."
}

// quoteClip quotes at most maxShownPath bytes of b, for details that echo
// the payload (a number's text, a timestamp string).
func quoteClip(b []byte) string {
	return strconv.Quote(clip(b))
}
