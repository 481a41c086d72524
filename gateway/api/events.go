package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/perch-gw/perch/gateway/broker"
	"github.com/perch-gw/perch/gateway/bucket"
)

// The event types of GET /api/v1/events.
const (
	EventDeviceConnected    = "device_connected"
	EventDeviceDisconnected = "device_disconnected"
	EventBucketWrite        = "bucket_write"
)

var eventTypes = []string{EventDeviceConnected, EventDeviceDisconnected, EventBucketWrite}

var _ Buckets = (*bucket.Manager)(nil)

// eventsBuffer is how many events a stream may fall behind before it
// loses some.
const eventsBuffer = 1024

// Event is one event of GET /api/v1/events. Type says which members it
// has: device events have the device's connection (Remote, Listener,
// ProtocolVersion; a disconnection also Reason when known); bucket writes
// have Bucket, Topic ("" for API writes) and Values, and TS is the
// point's time.
type Event struct {
	Type            string             `json:"type"`
	TS              int64              `json:"ts"`
	Device          string             `json:"device"`
	Remote          string             `json:"remote_addr,omitempty"`
	Listener        string             `json:"listener,omitempty"`
	ProtocolVersion byte               `json:"protocol_version,omitempty"`
	Reason          string             `json:"reason,omitempty"`
	Bucket          string             `json:"bucket,omitempty"`
	Topic           *string            `json:"topic,omitempty"`
	Values          map[string]float64 `json:"values,omitempty"`
}

// eventFilter is the query of an event stream.
type eventFilter struct {
	types          []string
	device, bucket string
}

func parseEventFilter(r *http.Request) (eventFilter, error) {
	f := eventFilter{types: eventTypes}
	for k, v := range r.URL.Query() {
		if len(v) != 1 || (k != "type" && k != "device" && k != "bucket") {
			return f, errorf(http.StatusBadRequest, "invalid_query", k, "unknown or repeated parameter %q; only type, device and bucket are accepted", k)
		}
		switch k {
		case "type":
			f.types = nil
			for t := range strings.SplitSeq(v[0], ",") {
				if !slices.Contains(eventTypes, t) {
					return f, errorf(http.StatusBadRequest, "invalid_query", "type", "type %q is not one of %s (give one or more, comma-separated)", t, strings.Join(eventTypes, ", "))
				}
				if !slices.Contains(f.types, t) {
					f.types = append(f.types, t)
				}
			}
		case "device":
			if !validLabel(v[0]) {
				return f, errorf(http.StatusBadRequest, "invalid_query", "device", "device must be 1 to 256 printable characters")
			}
			f.device = v[0]
		case "bucket":
			if v[0] == "" {
				return f, errorf(http.StatusBadRequest, "invalid_query", "bucket", "bucket must not be empty")
			}
			f.bucket = v[0]
		}
	}
	return f, nil
}

// wants reports whether an event matches every parameter given; device
// events have no bucket, so ?bucket= leaves them out.
func (f eventFilter) wants(typ, device, bucket string) bool {
	return slices.Contains(f.types, typ) && (f.device == "" || f.device == device) && (f.bucket == "" || f.bucket == bucket)
}

// raw is an event as its source gave it, converted by the stream's own
// goroutine rather than the source's.
type raw struct {
	presence *broker.Presence
	write    *bucket.Event
}

// streamEvents sends the gateway's events as server-sent events, one JSON
// object (Event) each, in the order they happen: devices connecting and
// disconnecting, and points stored in buckets. ?type= (comma-separated),
// ?device= and ?bucket= narrow them down (an event must match each; only
// bucket writes have a bucket). When the reader has fallen behind and
// events were lost, an "event: dropped" says how many so far.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := parseEventFilter(r)
	if err != nil {
		return err
	}
	wantDevices := f.bucket == "" && (slices.Contains(f.types, EventDeviceConnected) || slices.Contains(f.types, EventDeviceDisconnected))
	wantWrites := slices.Contains(f.types, EventBucketWrite)
	if f.bucket != "" && !wantWrites {
		return errorf(http.StatusBadRequest, "invalid_query", "bucket", "bucket selects bucket writes, which type leaves out")
	}

	// Both sources hand their events to one channel, from their own
	// goroutines and without blocking, so the stream has them in the order
	// they happened; a reader too far behind loses some.
	var (
		ch      = make(chan raw, eventsBuffer)
		dropped atomic.Int64
		// A nil channel never delivers: a source not asked for stays silent.
		presenceDone, writesDone <-chan struct{}
	)
	offer := func(e raw) {
		select {
		case ch <- e:
		default:
			dropped.Add(1)
		}
	}
	if wantDevices {
		pw, err := s.cfg.Broker.WatchPresence(func(p broker.Presence) {
			typ := EventDeviceDisconnected
			if p.Connected {
				typ = EventDeviceConnected
			}
			if f.wants(typ, p.Device, "") {
				offer(raw{presence: &p})
			}
		})
		if errors.Is(err, broker.ErrClosed) {
			return errorf(http.StatusServiceUnavailable, "unavailable", "", "the broker is shutting down")
		} else if err != nil {
			return err
		}
		defer pw.Close()
		presenceDone = pw.Done()
	}
	if wantWrites && (s.cfg.Buckets != nil || f.bucket != "") {
		bm, err := s.buckets()
		if err != nil {
			return err
		}
		if f.bucket != "" {
			if _, err := bm.Get(f.bucket); errors.Is(err, bucket.ErrNotFound) {
				return errorf(http.StatusNotFound, "not_found", "bucket", "%v", err)
			} else if err != nil {
				return err
			}
		}
		tap, err := bm.TapAll(func(e bucket.Event) {
			if f.wants(EventBucketWrite, e.Device, e.Bucket) {
				offer(raw{write: &e})
			}
		})
		if err != nil {
			return err
		}
		defer tap.Close()
		writesDone = tap.Done()
	}

	rc, ok := startStream(w, "stream of gateway events")
	if !ok {
		return nil
	}
	beat := time.NewTicker(streamBeat)
	defer beat.Stop()
	var (
		buf  bytes.Buffer
		lost int64
	)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		case <-presenceDone:
			io.WriteString(w, "event: end\ndata: {}\n\n")
			return nil
		case <-writesDone:
			io.WriteString(w, "event: end\ndata: {}\n\n")
			return nil
		case <-beat.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case e := <-ch:
			buf.Reset()
			buf.WriteString("data: ")
			_ = enc.Encode(e.event()) // ends with '\n'
			buf.WriteByte('\n')
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil
			}
		}
		if d := dropped.Load(); d != lost {
			lost = d
			if _, err := fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", d); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

func (e raw) event() *Event {
	if p := e.presence; p != nil {
		ev := &Event{Type: EventDeviceDisconnected, TS: p.Time.UnixMilli(), Device: p.Device, Remote: p.Remote,
			Listener: p.Listener, ProtocolVersion: p.ProtocolVersion, Reason: p.Reason}
		if p.Connected {
			ev.Type = EventDeviceConnected
		}
		return ev
	}
	b := e.write
	topic := b.Topic
	ev := &Event{Type: EventBucketWrite, TS: b.Time, Device: b.Device, Bucket: b.Bucket, Topic: &topic,
		Values: make(map[string]float64, len(b.Fields))}
	for _, fl := range b.Fields {
		ev.Values[fl.Name] = fl.Value
	}
	return ev
}
