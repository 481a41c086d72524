package api

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/perch-gw/perch/gateway/bucket"
	"github.com/perch-gw/perch/gateway/export"
	"github.com/perch-gw/perch/gateway/query"
	"github.com/perch-gw/perch/gateway/store"
)

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// maxDataBody bounds an API write of bucket data.
const maxDataBody = 4 << 20

// Buckets is what the API needs of the bucket manager.
type Buckets interface {
	List() []bucket.Info
	Get(id string) (bucket.Info, error)
	Create(b bucket.Bucket) (bucket.Info, error)
	Update(id string, p bucket.Patch) (bucket.Info, error)
	Delete(id string) error
	Write(id, device string, body []byte) (bucket.WriteResult, error)
	Scan(id string, q store.Query, begin func([]string) error, emit func(*store.Record) error) error
	Clear(id string, from, to int64) error
	Subscribe(id string, buffer int) (*bucket.Subscription, error)
	TapAll(fn func(bucket.Event)) (*bucket.Tap, error)
}

// Bucket is a bucket as the API shows it.
type Bucket struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Enabled     bool        `json:"enabled"`
	Topic       string      `json:"topic"`
	Retention   string      `json:"retention"`
	Resolution  string      `json:"resolution"`
	Created     time.Time   `json:"created"`
	Provisioned bool        `json:"provisioned"`
	Stats       BucketStats `json:"stats"`
}

// BucketStats is a bucket's data, as the API shows it.
type BucketStats struct {
	Series        int               `json:"series"`
	Points        int64             `json:"points"`
	FirstTS       *int64            `json:"first_ts"`
	LastTS        *int64            `json:"last_ts"`
	Bytes         int64             `json:"bytes"`
	Pending       int               `json:"pending"`
	Stalls        int64             `json:"stalls"`
	Rejected      int64             `json:"rejected"`
	LastRejection *bucket.Rejection `json:"last_rejection"`
	LiveDropped   int64             `json:"live_dropped"`
	// Error says why the bucket's store failed ("" when it works).
	Error string `json:"error,omitempty"`
}

func bucketView(i bucket.Info) Bucket {
	b := Bucket{
		ID: i.ID, Name: i.Name, Description: i.Description, Enabled: i.Enabled, Topic: i.Topic,
		Retention: i.Retention.String(), Resolution: i.Resolution.String(), Created: i.Created, Provisioned: i.Provisioned,
		Stats: BucketStats{
			Series: i.Stats.Series, Points: i.Stats.Points, Bytes: i.Stats.Bytes, Pending: i.Stats.Pending,
			Stalls: i.Stats.Stalls, Rejected: i.Stats.Rejected, LastRejection: i.Stats.LastRejection, LiveDropped: i.Stats.Dropped, Error: i.Stats.Error,
		},
	}
	if i.Stats.Points > 0 || i.Stats.Pending > 0 {
		first, last := i.Stats.First, i.Stats.Last
		b.Stats.FirstTS, b.Stats.LastTS = &first, &last
	}
	return b
}

// bucketError maps bucket errors to API errors.
func bucketError(err error) error {
	var fe *bucket.FieldError
	var be *bucket.BodyError
	switch {
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, "invalid", fe.Field, "%s", fe.Error())
	case errors.Is(err, bucket.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "id", "%v", err)
	case errors.Is(err, bucket.ErrExists):
		return errorf(http.StatusConflict, "exists", "id", "%v", err)
	case errors.Is(err, bucket.ErrDisabled):
		return errorf(http.StatusConflict, "disabled", "enabled", "%v; enable it first", err)
	case errors.As(err, &be):
		field := ""
		if be.Index >= 0 {
			field = fmt.Sprintf("[%d]", be.Index)
		}
		return errorf(http.StatusBadRequest, "invalid_data", field, "%s; nothing was stored", be.Error())
	}
	var qe *query.Error
	if errors.As(err, &qe) {
		return errorf(http.StatusBadRequest, "invalid_query", qe.Param, "%s", qe.Error())
	}
	return err
}

func (s *Server) buckets() (Buckets, error) {
	if s.cfg.Buckets == nil {
		return nil, errorf(http.StatusNotFound, "not_found", "", "buckets are not enabled")
	}
	return s.cfg.Buckets, nil
}

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	out := []Bucket{}
	for _, i := range bm.List() {
		out = append(out, bucketView(i))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getBucket(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	i, err := bm.Get(r.PathValue("id"))
	if err != nil {
		return bucketError(err)
	}
	writeJSON(w, http.StatusOK, bucketView(i))
	return nil
}

type createBucketRequest struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Enabled     *bool   `json:"enabled"`
	Topic       string  `json:"topic"`
	Retention   *string `json:"retention"`
	Resolution  *string `json:"resolution"`
}

func parseDur(field string, v *string) (*bucket.Duration, error) {
	if v == nil {
		return nil, nil
	}
	d, err := bucket.ParseDuration(*v)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid", field, "%s: %v", field, err)
	}
	bd := bucket.Duration(d)
	return &bd, nil
}

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	var req createBucketRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	b := bucket.Bucket{ID: req.ID, Name: req.Name, Description: req.Description, Enabled: true, Topic: req.Topic,
		Retention: bucket.Duration(bucket.DefaultRetention), Resolution: bucket.Duration(bucket.DefaultResolution)}
	if req.Enabled != nil {
		b.Enabled = *req.Enabled
	}
	if d, err := parseDur("retention", req.Retention); err != nil {
		return err
	} else if d != nil {
		b.Retention = *d
	}
	if d, err := parseDur("resolution", req.Resolution); err != nil {
		return err
	} else if d != nil {
		b.Resolution = *d
	}
	i, err := bm.Create(b)
	if err != nil {
		return bucketError(err)
	}
	w.Header().Set("Location", "/api/v1/buckets/"+i.ID)
	writeJSON(w, http.StatusCreated, bucketView(i))
	return nil
}

type updateBucketRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Enabled     *bool   `json:"enabled"`
	Topic       *string `json:"topic"`
	Retention   *string `json:"retention"`
	Resolution  *string `json:"resolution"`
}

func (s *Server) updateBucket(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	var req updateBucketRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	p := bucket.Patch{Name: req.Name, Description: req.Description, Enabled: req.Enabled, Topic: req.Topic}
	if p.Retention, err = parseDur("retention", req.Retention); err != nil {
		return err
	}
	if p.Resolution, err = parseDur("resolution", req.Resolution); err != nil {
		return err
	}
	i, err := bm.Update(r.PathValue("id"), p)
	if err != nil {
		return bucketError(err)
	}
	writeJSON(w, http.StatusOK, bucketView(i))
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	if err := bm.Delete(r.PathValue("id")); err != nil {
		return bucketError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readData streams a query's result. Errors found before the first byte
// are JSON errors; a failure half way cuts the response short (the client
// sees a truncated body, never a complete-looking one).
func (s *Server) readData(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	p, err := query.Parse(r.URL.Query(), time.Now())
	if err != nil {
		return bucketError(err)
	}
	q := store.Query{From: p.From, To: p.To, Fields: p.Fields, Device: p.Device, Topic: p.Topic,
		Agg: p.Agg, Every: p.Every, Limit: p.Limit, Desc: p.Sort == "desc"}
	// An export may take longer than the server's read timeout: lift it
	// so that the server's background read does not cancel the request.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	var (
		ew  export.Writer
		gz  *gzip.Writer
		out io.Writer = w
	)
	rec := export.Record{}
	started := false
	err = bm.Scan(id, q, func(fields []string) error {
		h := w.Header()
		h.Set("Content-Type", export.ContentType(string(p.Format)))
		if p.Format != "json" {
			h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"."+string(p.Format)))
		}
		// Records compress several times over: worth it on a LAN and
		// more so over Wi-Fi (the console's charts, CSV exports).
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
			out = gz
		}
		var err error
		if ew, err = export.New(out, export.Options{Format: string(p.Format), TSFormat: string(p.TSFormat), Relation: id}); err != nil {
			return err
		}
		started = true
		// The record's own columns come first; a payload field with one
		// of their names is renamed rather than refused.
		cols := make([]string, len(fields))
		for i, f := range fields {
			if f == "ts" || f == "device" {
				f += " (field)"
			}
			cols[i] = f
		}
		return ew.Begin(cols)
	}, func(sr *store.Record) error {
		rec.Time, rec.Device, rec.Values = sr.Time, sr.Device, sr.Values
		return ew.Write(&rec)
	})
	if err == nil {
		err = ew.End()
	}
	if err == nil && gz != nil {
		err = gz.Close()
	}
	if err != nil && started {
		s.log.Warn("api: export cut short", "bucket", id, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		return bucketError(err)
	}
	return nil
}

func (s *Server) writeData(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "bad_content_type", "", "Content-Type must be application/json, not %q", ct)
	}
	device := "api"
	for k, v := range r.URL.Query() {
		if k != "device" || len(v) != 1 {
			return errorf(http.StatusBadRequest, "invalid_query", k, "unknown or repeated parameter %q; only device is accepted", k)
		}
		if !validLabel(v[0]) {
			return errorf(http.StatusBadRequest, "invalid_query", "device", "device must be 1 to 256 printable characters")
		}
		device = v[0]
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDataBody))
	if err != nil {
		var large *http.MaxBytesError
		if errors.As(err, &large) {
			return errorf(http.StatusRequestEntityTooLarge, "too_large", "", "request body larger than %d bytes; send the data in several requests", maxDataBody)
		}
		return errorf(http.StatusBadRequest, "bad_body", "", "reading the body: %v", err)
	}
	res, err := bm.Write(r.PathValue("id"), device, body)
	if err != nil {
		return bucketError(err)
	}
	if res.Rejected == nil {
		res.Rejected = []bucket.ItemError{}
	}
	if res.Accepted == 0 && len(res.Rejected) > 0 {
		e := res.Rejected[0]
		return errorf(http.StatusUnprocessableEntity, "rejected", fmt.Sprintf("[%d]", e.Index), "nothing stored: %s: %s", e.Reason, e.Message)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func validLabel(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (s *Server) clearData(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	from, to, err := query.ParseRange(r.URL.Query(), time.Now())
	if err != nil {
		return bucketError(err)
	}
	if err := bm.Clear(r.PathValue("id"), from, to); err != nil {
		return bucketError(err)
	}
	out := map[string]any{"cleared": true, "from": from, "to": nil}
	if to != math.MaxInt64 {
		out["to"] = to
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// streamData sends a bucket's new points as server-sent events, one JSON
// object per event: {"ts":...,"device":"...","topic":"...","values":{...}}.
func (s *Server) streamData(w http.ResponseWriter, r *http.Request) error {
	bm, err := s.buckets()
	if err != nil {
		return err
	}
	sub, err := bm.Subscribe(r.PathValue("id"), 256)
	if err != nil {
		return bucketError(err)
	}
	defer sub.Close()
	rc, ok := startStream(w, "stream of new points")
	if !ok {
		return nil
	}
	beat := time.NewTicker(streamBeat)
	defer beat.Stop()
	type event struct {
		TS     int64              `json:"ts"`
		Device string             `json:"device"`
		Topic  string             `json:"topic"`
		Values map[string]float64 `json:"values"`
	}
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
		case ev, ok := <-sub.C:
			if !ok {
				io.WriteString(w, "event: end\ndata: {}\n\n")
				return nil
			}
			e := event{TS: ev.Time, Device: ev.Device, Topic: ev.Topic, Values: make(map[string]float64, len(ev.Fields))}
			for _, f := range ev.Fields {
				e.Values[f.Name] = f.Value
			}
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
