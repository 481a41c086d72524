package query

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error of Parse, ParseRange, ParseTime and
// ParseInterval: the error is an *Error naming the parameter at fault.
var ErrInvalid = errors.New("invalid query")

// maxShown bounds how much of a parameter's name or value an Error quotes:
// both come from the request, and messages go to clients and logs.
const maxShown = 40

// Error is a rejected query. It unwraps to ErrInvalid; the API answers it
// with 400 Bad Request.
type Error struct {
	// Param is the parameter at fault as the request spelled it ("from",
	// "min_ts", or an unknown name cut to 40 bytes), "" for an error of
	// ParseTime or ParseInterval.
	Param string
	// Message says what is wrong, quoting at most 40 bytes of the value.
	Message string
}

func (e *Error) Error() string {
	if e.Param == "" {
		return "query: " + e.Message
	}
	return "query: " + showName(e.Param) + ": " + e.Message
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// showName returns a parameter name as it is when it is plain, else
// quoted: an unknown name may hold anything.
func showName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// clip returns at most maxShown bytes of s, cut at a rune boundary, with
// "..." when it was cut.
func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	n := maxShown
	for n > maxShown-utf8.UTFMax && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// quote quotes at most maxShown bytes of s, for messages that echo a value.
func quote(s string) string { return strconv.Quote(clip(s)) }
