package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Event is one server-sent event of a stream (the API's /stream routes).
type Event struct {
	Name string // the "event:" field; "" for a plain message
	Data string // the "data:" lines, joined by "\n"
}

// maxEventLine bounds a line of an event stream that the writer holds.
const maxEventLine = 4 << 20

// EventWriter returns a writer that reads a stream of server-sent events,
// as Stream copies it, and calls fn with each complete event; comments
// (keep-alives) are skipped. An error from fn is returned by Write, which
// ends Stream's copy with it.
func EventWriter(fn func(Event) error) io.Writer {
	return &eventWriter{fn: fn}
}

type eventWriter struct {
	fn      func(Event) error
	partial []byte // a line without its end yet
	ev      Event
	hasData bool
}

func (w *eventWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(w.partial)+len(p) > maxEventLine {
				return 0, fmt.Errorf("client: event stream line longer than %d bytes", maxEventLine)
			}
			w.partial = append(w.partial, p...)
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		p = p[i+1:]
		if err := w.line(string(bytes.TrimSuffix(line, []byte("\r")))); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// line handles one line of the stream (https://html.spec.whatwg.org/multipage/server-sent-events.html).
func (w *eventWriter) line(l string) error {
	if l == "" {
		ev, has := w.ev, w.hasData
		w.ev, w.hasData = Event{}, false
		if !has {
			return nil
		}
		return w.fn(ev)
	}
	if l[0] == ':' {
		return nil
	}
	field, value, _ := strings.Cut(l, ":")
	value = strings.TrimPrefix(value, " ")
	switch field {
	case "event":
		w.ev.Name = value
	case "data":
		if w.hasData {
			w.ev.Data += "\n"
		}
		w.ev.Data += value
		w.hasData = true
	}
	return nil
}

// ErrStreamEnded may be returned by an EventWriter's fn to end a stream
// early without it counting as a failure; Stream returns it wrapped.
var ErrStreamEnded = errors.New("client: stream ended")
