package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/perch-gw/perch/gateway/broker"
)

// maxPublishBody bounds a publish request: room for a payload as large as
// the broker takes, in base64 or escaped in a JSON string.
const maxPublishBody = 1 << 20

// streamBuffer is how many messages a topic stream may fall behind before
// it loses some.
const streamBuffer = 256

type publishRequest struct {
	Topic         string  `json:"topic"`
	Payload       *string `json:"payload"`
	PayloadBase64 *string `json:"payload_base64"`
	QoS           int     `json:"qos"`
	Retain        bool    `json:"retain"`
}

// publish sends an MQTT message from the gateway itself (the console's
// switches and sliders): {"topic","payload" or "payload_base64","qos","retain"}.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) error {
	var req publishRequest
	if err := decodeLimit(r, &req, maxPublishBody); err != nil {
		return err
	}
	var payload []byte
	switch {
	case req.Payload != nil && req.PayloadBase64 != nil:
		return errorf(http.StatusBadRequest, "invalid", "payload", "give payload (text) or payload_base64 (binary), not both")
	case req.Payload != nil:
		payload = []byte(*req.Payload)
	case req.PayloadBase64 != nil:
		var err error
		if payload, err = base64.StdEncoding.DecodeString(*req.PayloadBase64); err != nil {
			return errorf(http.StatusBadRequest, "invalid", "payload_base64", "payload_base64 is not standard base64 (with padding): %v", err)
		}
	default:
		return errorf(http.StatusBadRequest, "invalid", "payload", "payload (text) or payload_base64 (binary) is required; an empty payload is \"payload\": \"\"")
	}
	if req.QoS < 0 || req.QoS > 2 {
		return errorf(http.StatusBadRequest, "invalid", "qos", "qos %d must be 0, 1 or 2", req.QoS)
	}
	err := s.cfg.Broker.Publish(req.Topic, payload, byte(req.QoS), req.Retain)
	switch {
	case err == nil:
	case errors.Is(err, broker.ErrInvalidTopic):
		return errorf(http.StatusBadRequest, "invalid", "topic", "%v", err)
	case errors.Is(err, broker.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "payload", "%v", err)
	case errors.Is(err, broker.ErrRejected):
		return errorf(http.StatusUnprocessableEntity, "rejected", "payload", "a bucket recording %s refused the payload, so it was not published: %v", req.Topic, err)
	case errors.Is(err, broker.ErrNotStored):
		return errorf(http.StatusServiceUnavailable, "store_failed", "", "a bucket recording %s could not store the message, so it was not published: %v", req.Topic, err)
	case errors.Is(err, broker.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "the broker is shutting down")
	default:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"published": true})
	return nil
}

// mqttEvent is one message of a topic stream.
type mqttEvent struct {
	TS       int64  `json:"ts"`
	Topic    string `json:"topic"`
	Payload  string `json:"payload"`
	Encoding string `json:"encoding"` // "utf8" or "base64"
	QoS      byte   `json:"qos"`
	Retain   bool   `json:"retain"`
}

// streamMQTT sends the messages published on the topics of ?filter= as
// server-sent events, one JSON object each (mqttEvent), starting with the
// retained ones. When the reader has fallen behind and messages were lost,
// an "event: dropped" says how many so far.
func (s *Server) streamMQTT(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k, v := range q {
		if k != "filter" || len(v) != 1 {
			return errorf(http.StatusBadRequest, "invalid_query", k, "unknown or repeated parameter %q; only filter is accepted", k)
		}
	}
	if !q.Has("filter") {
		return errorf(http.StatusBadRequest, "invalid_query", "filter", "filter is required: an MQTT topic filter, URL-encoded (filter=sensors/%%23 for sensors/#)")
	}
	filter := q.Get("filter")
	watch, err := s.cfg.Broker.Watch(filter, streamBuffer)
	switch {
	case errors.Is(err, broker.ErrInvalidTopic):
		return errorf(http.StatusBadRequest, "invalid_query", "filter", "%v", err)
	case errors.Is(err, broker.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "the broker is shutting down")
	case err != nil:
		return err
	}
	defer watch.Close()
	rc, ok := startStream(w, "stream of MQTT messages")
	if !ok {
		return nil
	}
	beat := time.NewTicker(streamBeat)
	defer beat.Stop()
	var (
		buf     bytes.Buffer
		dropped int64
	)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		case <-beat.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case m, ok := <-watch.C:
			if !ok {
				io.WriteString(w, "event: end\ndata: {}\n\n")
				return nil
			}
			ev := mqttEvent{TS: m.Time.UnixMilli(), Topic: m.Topic, Payload: string(m.Payload), Encoding: "utf8", QoS: m.QoS, Retain: m.Retain}
			if !utf8.Valid(m.Payload) {
				ev.Payload, ev.Encoding = base64.StdEncoding.EncodeToString(m.Payload), "base64"
			}
			buf.Reset()
			buf.WriteString("data: ")
			_ = enc.Encode(ev) // ends with '\n'
			buf.WriteByte('\n')
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil
			}
		}
		if d := watch.Dropped(); d != dropped {
			dropped = d
			if _, err := fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", d); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// streamBeat is how often an idle event stream sends a comment, so that
// proxies and browsers keep it open.
const streamBeat = 15 * time.Second

// startStream answers a request with a server-sent event stream, opened by
// a comment naming it, with no read deadline; false when the client is
// gone already.
func startStream(w http.ResponseWriter, name string) (*http.ResponseController, bool) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, ": "+name+"\n\n"); err != nil {
		return nil, false
	}
	_ = rc.Flush()
	return rc, true
}
