package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// A batch is the message a Perch gateway forwards a bucket's records
// upstream in (gateway/upstream):
//
//	{"gateway":"gw1","bucket":"env","batch":"gw1/env/3:1024","from":"3:1024",
//	 "to":"3:9000","count":2,"points":3,"records":[
//	{"ts":1714564800000,"device":"d1","temp":21.5,"hum":40},
//	{"ts":1714564860000,"device":"d1","temp":21.6}]}
//
// A gateway that receives one into a bucket (another Perch as the upstream)
// stores each record as its own message, with its own time, under the
// device "<gateway>/<device>", instead of flattening the document.

// BatchRecord is one record of a batch.
type BatchRecord struct {
	Time   time.Time
	Device string
	Fields []Field
}

// Batch is a decoded batch.
type Batch struct {
	Gateway, Bucket, ID string
	Records             []BatchRecord
}

// batchPrefix starts every batch: the encoder writes "gateway" first.
var batchPrefix = []byte(`{"gateway":`)

// IsBatch says whether data looks like a batch (it may still be a bad one).
func IsBatch(data []byte) bool {
	return bytes.HasPrefix(data, batchPrefix) && bytes.Contains(data, []byte(`"records":`))
}

// DecodeBatch decodes a batch, within opts' limits per record (MaxFields)
// and in all (MaxBytes). Errors wrap ErrInvalid.
func DecodeBatch(data []byte, opts Options) (Batch, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Batch{}, err
	}
	if len(data) > opts.MaxBytes {
		return Batch{}, &Error{Reason: ReasonTooLarge, Detail: fmt.Sprintf("batch of %d bytes; at most %d", len(data), opts.MaxBytes)}
	}
	var raw struct {
		Gateway string                       `json:"gateway"`
		Bucket  string                       `json:"bucket"`
		Batch   string                       `json:"batch"`
		Count   int                          `json:"count"`
		Records []map[string]json.RawMessage `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Batch{}, &Error{Reason: ReasonSyntax, Detail: "batch: " + err.Error()}
	}
	bad := func(i int, format string, args ...any) (Batch, error) {
		return Batch{}, &Error{Reason: ReasonSyntax, Path: fmt.Sprintf("records[%d]", i), Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case raw.Gateway == "" || raw.Batch == "":
		return Batch{}, &Error{Reason: ReasonSyntax, Detail: "batch without gateway or batch id"}
	case raw.Count != len(raw.Records):
		return Batch{}, &Error{Reason: ReasonSyntax, Detail: fmt.Sprintf("batch says %d records, holds %d", raw.Count, len(raw.Records))}
	}
	b := Batch{Gateway: raw.Gateway, Bucket: raw.Bucket, ID: raw.Batch, Records: make([]BatchRecord, 0, len(raw.Records))}
	for i, rec := range raw.Records {
		var r BatchRecord
		var ts json.Number
		if err := json.Unmarshal(rec["ts"], &ts); err != nil {
			return bad(i, "ts is not a number of milliseconds")
		}
		ms, err := ts.Int64()
		if err != nil || ms < 0 {
			return bad(i, "ts %s is not a number of milliseconds", ts)
		}
		var dev string
		if err := json.Unmarshal(rec["device"], &dev); err != nil || dev == "" {
			return bad(i, "no device")
		}
		r.Time, r.Device = time.UnixMilli(ms).UTC(), raw.Gateway+"/"+dev
		for name, v := range rec {
			if name == "ts" || name == "device" {
				continue
			}
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil {
				return bad(i, "%s is not a number", name)
			}
			f, err := n.Float64()
			if err != nil || math.IsInf(f, 0) {
				return bad(i, "%s: %s is out of range", name, n)
			}
			if validName(name) != "" {
				return bad(i, "field name %q: %s", name, validName(name))
			}
			r.Fields = append(r.Fields, Field{Name: name, Value: f})
		}
		if len(r.Fields) > opts.MaxFields {
			return bad(i, "%d fields; at most %d", len(r.Fields), opts.MaxFields)
		}
		if len(r.Fields) == 0 {
			continue // nothing to store (the export leaves out missing values)
		}
		// A map has no order; the store is happier with one.
		slices.SortFunc(r.Fields, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
		b.Records = append(b.Records, r)
	}
	return b, nil
}
