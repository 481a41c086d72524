// Package export writes the result of a bucket data query as a document,
// streaming: JSON, CSV or ARFF (Weka), as Thinger.io exports them.
//
// A result is a sequence of records, one per time (or interval start, when
// aggregated) and device, with one column per field. A Writer writes them
// as they come, in constant memory whatever their number: it buffers 64 KiB
// and keeps no record, and once warm it writes a record without
// allocating.
//
// # Formats
//
// JSON is an array of objects, one a line:
//
//	[
//	{"ts":1714564800000,"device":"d1","temp":21.5,"hum":40},
//	{"ts":1714564860000,"device":"d1","temp":21.6}
//	]
//
// with "ts" a string ("2024-05-01T12:00:00.000Z") for TSFormat "iso" and a
// field left out of a record that has no value for it. An empty result is
// "[]".
//
// CSV follows RFC 4180: a header ts,device,<fields...>, then a line per
// record with an empty cell for a missing value; a cell holding a comma, a
// double quote, CR or LF is quoted, its quotes doubled. Lines end in LF.
//
// ARFF is Weka's format: @RELATION, an @ATTRIBUTE per column (ts NUMERIC,
// or ts DATE "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" for "iso"; device STRING; each
// field NUMERIC), then @DATA and a line per record with ? for a missing
// value. A name or string is written as it is when it is a letter followed
// by letters, digits, '_', '.' or '-', else in single quotes with \\, \',
// \", \%, \t, \n and \r escaped and other control characters in octal
// (\001), as Weka's reader and liac-arff read them.
//
// Numbers are written in their shortest form that reads back exactly,
// without an exponent from 1e-6 to 1e21 (spreadsheets misread 1e-05):
// 21.5, 0.000001, 1e-7, 1e+21. Times in "iso" are RFC 3339 in UTC with
// exactly three digits of fraction: 2024-05-01T12:00:00.000Z.
//
// # Columns
//
// The columns are "ts", "device" and the fields in the order given to
// Begin. A field may be named anything but "", "ts" or "device", and not
// twice: JSON objects, CSV headers and ARFF attributes need the names to be
// unique. A value is finite or NaN (missing): JSON has no infinity, so
// Write rejects one rather than writing a document some readers refuse.
package export

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// Sentinel errors, wrapped by the errors of New, Begin, Write and End.
var (
	// ErrOptions: New was given an unknown format or time format.
	ErrOptions = errors.New("invalid export options")
	// ErrColumns: Begin was given a field named "", "ts" or "device", or
	// the same name twice.
	ErrColumns = errors.New("invalid export columns")
	// ErrRecord: Write was given a record with a number of values other
	// than the number of fields, or an infinite value.
	ErrRecord = errors.New("invalid export record")
	// ErrOrder: Begin, Write or End was called out of order: Begin once,
	// then Write any number of times, then End once.
	ErrOrder = errors.New("export calls out of order")
)

// BufferSize is how much a Writer buffers before writing to its io.Writer.
const BufferSize = 64 << 10

// Record is one line of a result.
type Record struct {
	Time   int64     // ms since the Unix epoch
	Device string    // the device id
	Values []float64 // one per field given to Begin, in that order; NaN for none
}

// Writer writes a result as a document. It is not safe for concurrent use.
type Writer interface {
	// Begin writes the start of the document, with fields as the value
	// columns after ts and device. Call it once, before any Write.
	Begin(fields []string) error
	// Write writes a record. It does not keep r or r.Values.
	Write(r *Record) error
	// End finishes the document and flushes the buffer. Call it even for
	// no records: the document is not complete without it.
	End() error
}

// Options choose the document.
type Options struct {
	Format   string // "json" (also ""), "csv" or "arff"
	TSFormat string // "ms" (also ""): ms since the epoch; "iso": RFC 3339 UTC
	Relation string // the ARFF @RELATION name: the bucket id
}

// ContentType returns the HTTP Content-Type of a format, "" for an unknown
// one.
func ContentType(format string) string {
	switch format {
	case "json", "":
		return "application/json"
	case "csv":
		return "text/csv; charset=utf-8"
	case "arff":
		return "text/plain; charset=utf-8"
	}
	return ""
}

// The formats.
type format int

const (
	formatJSON format = iota
	formatCSV
	formatARFF
)

// The calls made so far.
type state int

const (
	stateNew state = iota
	stateBegun
	stateEnded
)

// writer is every format's Writer: the formats differ only in how they
// append a header, a record and an end to a buffer.
type writer struct {
	bw       *bufio.Writer
	format   format
	iso      bool
	relation string
	state    state
	fields   int
	records  int64
	buf      []byte // the record being written, reused

	// keys are, for JSON, each field's `,"name":`, escaped once in Begin.
	keys [][]byte

	// The last second an iso time was written for, and its text up to the
	// fraction, since consecutive records are mostly in the same second.
	isoSec  int64
	isoText []byte
}

var _ Writer = (*writer)(nil)

// New returns a Writer of the document opts choose to w.
func New(w io.Writer, opts Options) (Writer, error) {
	wr := &writer{relation: opts.Relation}
	switch opts.Format {
	case "json", "":
		wr.format = formatJSON
	case "csv":
		wr.format = formatCSV
	case "arff":
		wr.format = formatARFF
	default:
		return nil, fmt.Errorf("export: %w: format %q (want json, csv or arff)", ErrOptions, opts.Format)
	}
	switch opts.TSFormat {
	case "ms", "":
	case "iso":
		wr.iso = true
	default:
		return nil, fmt.Errorf("export: %w: time format %q (want ms or iso)", ErrOptions, opts.TSFormat)
	}
	wr.bw = bufio.NewWriterSize(w, BufferSize)
	return wr, nil
}

func (w *writer) Begin(fields []string) error {
	if w.state != stateNew {
		return fmt.Errorf("export: %w: Begin called twice or after End", ErrOrder)
	}
	for i, f := range fields {
		switch {
		case f == "":
			return fmt.Errorf("export: %w: field %d has no name", ErrColumns, i)
		case f == "ts" || f == "device":
			return fmt.Errorf("export: %w: a field is named %q, as a fixed column", ErrColumns, f)
		case slices.Contains(fields[:i], f):
			return fmt.Errorf("export: %w: two fields named %q", ErrColumns, clip(f))
		}
	}
	w.state = stateBegun
	w.fields = len(fields)
	var b []byte
	switch w.format {
	case formatJSON:
		w.keys = make([][]byte, len(fields))
		for i, f := range fields {
			k := append([]byte{','}, appendJSONString(nil, f)...)
			w.keys[i] = append(k, ':')
		}
		b = append(b, '[')
	case formatCSV:
		b = append(b, "ts,device"...)
		for _, f := range fields {
			b = append(b, ',')
			b = appendCSVCell(b, f)
		}
		b = append(b, '\n')
	case formatARFF:
		b = append(b, "@RELATION "...)
		b = appendARFFString(b, w.relation)
		b = append(b, "\n\n"...)
		if w.iso {
			b = append(b, "@ATTRIBUTE ts DATE \"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'\"\n"...)
		} else {
			b = append(b, "@ATTRIBUTE ts NUMERIC\n"...)
		}
		b = append(b, "@ATTRIBUTE device STRING\n"...)
		for _, f := range fields {
			b = append(b, "@ATTRIBUTE "...)
			b = appendARFFString(b, f)
			b = append(b, " NUMERIC\n"...)
		}
		b = append(b, "\n@DATA\n"...)
	}
	return w.write(b)
}

func (w *writer) Write(r *Record) error {
	switch {
	case w.state == stateNew:
		return fmt.Errorf("export: %w: Write before Begin", ErrOrder)
	case w.state == stateEnded:
		return fmt.Errorf("export: %w: Write after End", ErrOrder)
	case r == nil:
		return fmt.Errorf("export: %w: nil record", ErrRecord)
	case len(r.Values) != w.fields:
		return fmt.Errorf("export: %w: %d values for %d fields", ErrRecord, len(r.Values), w.fields)
	}
	for i, v := range r.Values {
		if math.IsInf(v, 0) {
			return fmt.Errorf("export: %w: value %d at %d is %v", ErrRecord, i, r.Time, v)
		}
	}
	b := w.buf[:0]
	switch w.format {
	case formatJSON:
		if w.records == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ",\n"...)
		}
		b = append(b, `{"ts":`...)
		if w.iso {
			b = append(b, '"')
			b = w.appendISO(b, r.Time)
			b = append(b, '"')
		} else {
			b = strconv.AppendInt(b, r.Time, 10)
		}
		b = append(b, `,"device":`...)
		b = appendJSONString(b, r.Device)
		for i, v := range r.Values {
			if !math.IsNaN(v) {
				b = append(b, w.keys[i]...)
				b = appendFloat(b, v)
			}
		}
		b = append(b, '}')
	case formatCSV:
		b = w.appendTime(b, r.Time)
		b = append(b, ',')
		b = appendCSVCell(b, r.Device)
		for _, v := range r.Values {
			b = append(b, ',')
			if !math.IsNaN(v) {
				b = appendFloat(b, v)
			}
		}
		b = append(b, '\n')
	case formatARFF:
		if w.iso {
			b = append(b, '\'')
			b = w.appendISO(b, r.Time)
			b = append(b, '\'')
		} else {
			b = strconv.AppendInt(b, r.Time, 10)
		}
		b = append(b, ',')
		b = appendARFFString(b, r.Device)
		for _, v := range r.Values {
			b = append(b, ',')
			if math.IsNaN(v) {
				b = append(b, '?')
			} else {
				b = appendFloat(b, v)
			}
		}
		b = append(b, '\n')
	}
	w.buf = b
	w.records++
	return w.write(b)
}

func (w *writer) End() error {
	switch w.state {
	case stateNew:
		return fmt.Errorf("export: %w: End before Begin", ErrOrder)
	case stateEnded:
		return fmt.Errorf("export: %w: End called twice", ErrOrder)
	}
	w.state = stateEnded
	if w.format == formatJSON {
		end := "]\n"
		if w.records > 0 {
			end = "\n]\n"
		}
		if _, err := w.bw.WriteString(end); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// write buffers b.
func (w *writer) write(b []byte) error {
	if _, err := w.bw.Write(b); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// appendTime appends a time in ms or as RFC 3339, as chosen.
func (w *writer) appendTime(b []byte, ms int64) []byte {
	if w.iso {
		return w.appendISO(b, ms)
	}
	return strconv.AppendInt(b, ms, 10)
}

// appendISO appends ms as 2006-01-02T15:04:05.000Z, formatting only the
// milliseconds when the second is the last one formatted.
func (w *writer) appendISO(b []byte, ms int64) []byte {
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	if w.isoText == nil || sec != w.isoSec {
		w.isoSec = sec
		w.isoText = time.Unix(sec, 0).UTC().AppendFormat(w.isoText[:0], "2006-01-02T15:04:05")
	}
	b = append(b, w.isoText...)
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
}

// appendFloat appends v in its shortest exact form, without an exponent
// from 1e-6 to 1e21, as encoding/json writes numbers (1e-7, not 1e-07).
func appendFloat(b []byte, v float64) []byte {
	if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}

// clip cuts a name for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
