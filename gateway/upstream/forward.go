package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/perch-gw/perch/gateway/export"
	"github.com/perch-gw/perch/gateway/store"
)

// note is what the forwarder keeps in its hold besides the position: the
// last position of each batch published and not yet acknowledged, so that
// after a restart the same batches (same ids, same records) are sent again.
type note struct {
	Sent []string `json:"sent,omitempty"`
}

// forwarder forwards one bucket.
type forwarder struct {
	u  *Upstream
	id string

	mu       sync.Mutex
	f        Follower
	acked    store.Pos   // every message up to it is acknowledged upstream
	sent     []store.Pos // ends of the batches published after acked
	lagBase  int64       // points after acked when counted
	appBase  int64       // f.Appended() when counted
	sinceLag int64       // points acknowledged since counted
	lastSent time.Time
	lastErr  string
	dirty    bool // acked moved since the hold was written

	points  atomic.Int64
	batches atomic.Int64
}

// newForwarder holds the bucket's journal (from its start, for a bucket
// never forwarded) and loads the cursor.
func newForwarder(u *Upstream, id string) (*forwarder, error) {
	fw := &forwarder{u: u, id: id}
	if err := fw.load(); err != nil {
		return nil, err
	}
	return fw, nil
}

// load (re)reads the cursor from the bucket's current store.
func (fw *forwarder) load() error {
	f, err := fw.u.cfg.Source.Follower(fw.id)
	if err != nil {
		return err
	}
	h, ok := f.HoldOf(HoldName)
	if !ok {
		if err := f.SetHold(HoldName, store.Hold{}); err != nil {
			return err
		}
		fw.u.log.Info("upstream: forwarding bucket from the start of its journal", "bucket", fw.id)
	}
	var n note
	if len(h.Note) > 0 {
		if err := json.Unmarshal(h.Note, &n); err != nil {
			fw.u.log.Warn("upstream: unreadable batch list; batches in flight will be resent under new ids", "bucket", fw.id, "err", err)
		}
	}
	var sent []store.Pos
	for _, s := range n.Sent {
		p, err := parsePos(s)
		if err != nil || p.Compare(h.After) <= 0 {
			sent = nil
			break
		}
		sent = append(sent, p)
	}
	pts, app, err := f.Backlog(h.After)
	if err != nil {
		return err
	}
	fw.mu.Lock()
	fw.f, fw.acked, fw.sent = f, h.After, sent
	fw.lagBase, fw.appBase, fw.sinceLag = pts, app, 0
	fw.mu.Unlock()
	return nil
}

// gone is called when the bucket is deleted.
func (fw *forwarder) gone() {
	fw.mu.Lock()
	fw.lastErr = "bucket deleted"
	fw.mu.Unlock()
}

func (fw *forwarder) follower() Follower {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.f
}

// batch is one published message awaiting its PUBACK.
type batch struct {
	id     string
	end    store.Pos
	points int64
	done   chan error
}

// errBatchEnd stops a read at the end of a batch: one being sent again,
// or one at its size limit.
var errBatchEnd = errors.New("batch end")

// maxBatchBytes bounds a batch's message, whatever batch_size says, so that
// a bucket of wide records cannot make one larger than a broker takes
// (Perch's own default limit is 256 KiB a packet).
const maxBatchBytes = 128 << 10

// linkError is a failure of the link, not of the bucket: the session ends.
type linkError struct{ err error }

func (e *linkError) Error() string { return e.err.Error() }

// errReopened: the bucket's store was replaced; start again from the cursor.
var errReopened = errors.New("store reopened")

// run forwards on lk until ctx ends (nil) or the link fails (the error).
// A bucket whose store is reopened is picked up again; a deleted one ends
// its forwarder; a store that fails is retried every few seconds, without
// touching the link the other buckets share.
func (fw *forwarder) run(ctx context.Context, lk link) error {
	defer func() {
		// A clean stop leaves the cursor exact; if this fails (the store
		// closed first), the batches since are sent again, same ids.
		_ = fw.flush()
	}()
	for {
		err := fw.pump(ctx, lk)
		var le *linkError
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case errors.As(err, &le):
			return le.err
		}
		rerr := fw.refresh()
		switch {
		case errors.Is(rerr, ErrGone):
			fw.setErr(rerr)
			return nil
		case rerr == nil && (errors.Is(err, errReopened) || errors.Is(err, store.ErrClosed)):
			continue // reopened under us: on from the cursor
		case rerr != nil:
			err = rerr
		}
		fw.setErr(err)
		fw.u.log.Warn("upstream: cannot forward bucket; retrying", "bucket", fw.id, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

// pump sends batches from the cursor until ctx ends (nil), the link fails
// (*linkError), the store is replaced (errReopened) or fails (its error).
// In-flight batches are waited for before it returns; unacknowledged ones
// go again, same ids.
func (fw *forwarder) pump(ctx context.Context, lk link) error {
	u := fw.u
	fw.mu.Lock()
	next := fw.acked
	resend := append([]store.Pos(nil), fw.sent...)
	fw.mu.Unlock()
	topic := strings.NewReplacer("{gateway}", u.cfg.Gateway, "{bucket}", fw.id).Replace(u.cfg.Topic)
	enc := newEncoder(u.cfg.Gateway, fw.id)
	var q []*batch
	defer func() {
		for _, b := range q {
			<-b.done
		}
	}()
	for {
		f := fw.follower()
		changed := f.Changed()
		// Fill the window.
		for len(q) < u.cfg.Inflight {
			var end store.Pos
			limit := u.cfg.BatchSize
			if len(resend) > 0 {
				end, limit = resend[0], math.MaxInt
			}
			enc.reset()
			n, err := f.ReadAfter(next, limit, func(e *store.Entry) error {
				if end != (store.Pos{}) && e.Pos.Compare(end) > 0 {
					return errBatchEnd
				}
				if end == (store.Pos{}) && enc.count() > 0 && enc.size >= maxBatchBytes {
					return errBatchEnd
				}
				enc.add(e)
				if end != (store.Pos{}) && e.Pos == end {
					return errBatchEnd
				}
				return nil
			})
			if err != nil && !errors.Is(err, errBatchEnd) {
				return err
			}
			if n == 0 && enc.count() == 0 {
				resend = nil // what was in flight is gone (cleared or expired)
				break
			}
			if len(resend) > 0 {
				resend = resend[1:]
			}
			b := &batch{id: enc.id(), end: enc.last, points: enc.points, done: make(chan error, 1)}
			payload, err := enc.finish()
			if err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			if err := u.rate.wait(ctx, b.points); err != nil {
				return nil
			}
			// The batch's end is durable before it is published, so that
			// a restart sends the same batch again, not a different cut.
			if err := fw.save(append(batchEnds(q), b.end)); err != nil {
				return err
			}
			q = append(q, b)
			next = b.end
			go func() { b.done <- lk.publish(ctx, topic, payload, 1, false) }()
		}
		// The cursor moved but no batch went out to carry it: write it now.
		if err := fw.flush(); err != nil {
			return err
		}
		if len(q) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			case <-time.After(time.Second): // a reopened store, a deleted bucket
				f2, err := u.cfg.Source.Follower(fw.id)
				if err != nil {
					return err
				}
				if f2 != f {
					return errReopened
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-q[0].done:
			b := q[0]
			q = q[1:]
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				fw.setErr(err)
				return &linkError{fmt.Errorf("bucket %s: publish: %w", fw.id, err)}
			}
			fw.ack(b, batchEnds(q))
		}
	}
}

// refresh picks up the bucket's current store after a reopen.
func (fw *forwarder) refresh() error {
	f, err := fw.u.cfg.Source.Follower(fw.id)
	if err != nil {
		return err
	}
	if f == fw.follower() {
		return nil
	}
	return fw.load()
}

func batchEnds(q []*batch) []store.Pos {
	out := make([]store.Pos, len(q))
	for i, b := range q {
		out[i] = b.end
	}
	return out
}

// save records the batches in flight.
func (fw *forwarder) save(sent []store.Pos) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.sent = sent
	if err := fw.f.SetHold(HoldName, fw.holdLocked()); err != nil {
		return err
	}
	fw.dirty = false
	return nil
}

func (fw *forwarder) holdLocked() store.Hold {
	var n note
	for _, p := range fw.sent {
		n.Sent = append(n.Sent, formatPos(p))
	}
	b, _ := json.Marshal(n)
	return store.Hold{After: fw.acked, Note: b}
}

// ack moves the cursor past an acknowledged batch. The hold is written by
// the next batch's save, or by flush when none follows at once: half the
// writes while draining a backlog.
func (fw *forwarder) ack(b *batch, rest []store.Pos) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.acked, fw.sent, fw.dirty = b.end, rest, true
	fw.sinceLag += b.points
	fw.lastSent = fw.u.clock.Now()
	fw.lastErr = ""
	fw.points.Add(b.points)
	fw.batches.Add(1)
	fw.u.log.Debug("upstream: batch acknowledged", "batch", b.id, "to", formatPos(b.end), "points", b.points)
}

// flush writes the hold if an acknowledgement has moved it.
func (fw *forwarder) flush() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if !fw.dirty {
		return nil
	}
	if err := fw.f.SetHold(HoldName, fw.holdLocked()); err != nil {
		return err
	}
	fw.dirty = false
	return nil
}

func (fw *forwarder) setErr(err error) {
	fw.mu.Lock()
	fw.lastErr = err.Error()
	fw.mu.Unlock()
}

// lag is the points not yet acknowledged upstream.
func (fw *forwarder) lag() int64 {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return max(fw.lagBase+(fw.f.Appended()-fw.appBase)-fw.sinceLag, 0)
}

// status reports the forwarder; the lag in seconds is the age of the
// oldest point not yet acknowledged, by its own timestamp.
func (fw *forwarder) status() BucketStatus {
	fw.mu.Lock()
	f, acked := fw.f, fw.acked
	lag := fw.lagBase + (f.Appended() - fw.appBase) - fw.sinceLag
	s := BucketStatus{
		ID: fw.id, LagPoints: max(lag, 0), SentPoints: fw.points.Load(), SentBatches: fw.batches.Load(),
		Cursor: formatPos(acked), Error: fw.lastErr,
	}
	if !fw.lastSent.IsZero() {
		t := fw.lastSent.UTC()
		s.LastSent = &t
	}
	fw.mu.Unlock()
	if s.LagPoints > 0 {
		var ts int64
		if n, err := f.ReadAfter(acked, 1, func(e *store.Entry) error { ts = e.Time; return nil }); err == nil && n == 1 {
			s.LagSeconds = max(0, float64(fw.u.clock.Now().UnixMilli()-ts)/1000)
		}
	}
	return s
}

// formatPos writes a journal position as "segment:offset".
func formatPos(p store.Pos) string { return p.String() }

func parsePos(s string) (store.Pos, error) {
	a, b, ok := strings.Cut(s, ":")
	seg, err1 := strconv.ParseUint(a, 10, 64)
	off, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || off < 0 {
		return store.Pos{}, fmt.Errorf("bad position %q", s)
	}
	return store.Pos{Segment: seg, Offset: off}, nil
}

// encoder builds one batch message:
//
//	{"gateway":"gw","bucket":"env","batch":"gw/env/3:1024","from":"3:1024",
//	 "to":"3:9000","count":2,"points":3,"records":[
//	{"ts":1714564800000,"device":"d1","temp":21.5,"hum":40},
//	{"ts":1714564860000,"device":"d1","temp":21.6}
//	]}
//
// records are as the bucket's JSON export writes them.
type encoder struct {
	gateway, bucket string
	recs            []encRec
	fields          []string
	index           map[string]int
	first, last     store.Pos
	points          int64
	size            int // about the bytes of the message so far
	buf             bytes.Buffer
	vals            []float64
}

type encRec struct {
	ts     int64
	device string
	fields []fieldVal
}

type fieldVal struct {
	i int
	v float64
}

func newEncoder(gateway, bucket string) *encoder {
	return &encoder{gateway: gateway, bucket: bucket, index: map[string]int{}}
}

func (e *encoder) reset() {
	e.recs = e.recs[:0]
	e.fields = e.fields[:0]
	clear(e.index)
	e.points, e.size = 0, 0
	e.first, e.last = store.Pos{}, store.Pos{}
}

func (e *encoder) count() int { return len(e.recs) }

func (e *encoder) add(en *store.Entry) {
	if len(e.recs) == 0 {
		e.first = en.Pos
	}
	e.last = en.Pos
	r := encRec{ts: en.Time, device: en.Device}
	e.size += 40 + len(en.Device) // {"ts":…,"device":"…"} and a line
	for _, f := range en.Fields {
		i, ok := e.index[f.Name]
		if !ok {
			if f.Name == "ts" || f.Name == "device" || f.Name == "" {
				continue // not representable as a column (export refuses it)
			}
			i = len(e.fields)
			e.index[f.Name] = i
			e.fields = append(e.fields, f.Name)
		}
		if math.IsInf(f.Value, 0) {
			continue
		}
		r.fields = append(r.fields, fieldVal{i, f.Value})
		e.points++
		e.size += len(f.Name) + 28 // ,"name": and a number
	}
	e.recs = append(e.recs, r)
}

// id is the batch id: the gateway, the bucket and the position of its first
// record, the same every time the batch is sent.
func (e *encoder) id() string { return e.gateway + "/" + e.bucket + "/" + formatPos(e.first) }

func (e *encoder) finish() ([]byte, error) {
	e.buf.Reset()
	head, _ := json.Marshal(struct {
		Gateway string `json:"gateway"`
		Bucket  string `json:"bucket"`
		Batch   string `json:"batch"`
		From    string `json:"from"`
		To      string `json:"to"`
		Count   int    `json:"count"`
		Points  int64  `json:"points"`
	}{e.gateway, e.bucket, e.id(), formatPos(e.first), formatPos(e.last), len(e.recs), e.points})
	e.buf.Write(head[:len(head)-1])
	e.buf.WriteString(`,"records":`)
	w, err := export.New(&e.buf, export.Options{Format: "json"})
	if err != nil {
		return nil, err
	}
	if err := w.Begin(e.fields); err != nil {
		return nil, err
	}
	for _, r := range e.recs {
		e.vals = e.vals[:0]
		for range e.fields {
			e.vals = append(e.vals, math.NaN())
		}
		for _, fv := range r.fields {
			e.vals[fv.i] = fv.v
		}
		if err := w.Write(&export.Record{Time: r.ts, Device: r.device, Values: e.vals}); err != nil {
			return nil, err
		}
	}
	if err := w.End(); err != nil {
		return nil, err
	}
	if b := e.buf.Bytes(); len(b) > 0 && b[len(b)-1] == '\n' {
		e.buf.Truncate(len(b) - 1) // the export ends its document with a newline
	}
	e.buf.WriteByte('}')
	return bytes.Clone(e.buf.Bytes()), nil
}

// limiter bounds the points forwarded a second, over all buckets.
type limiter struct {
	l     *rate.Limiter // nil: no bound
	clock clockwork.Clock
}

func newLimiter(perSecond int, clock clockwork.Clock) *limiter {
	if perSecond <= 0 {
		return &limiter{clock: clock}
	}
	return &limiter{l: rate.NewLimiter(rate.Limit(perSecond), perSecond), clock: clock}
}

// wait takes n points' worth, waiting on the clock as long as needed.
func (l *limiter) wait(ctx context.Context, n int64) error {
	if l.l == nil {
		return nil
	}
	for n > 0 {
		take := min(n, int64(l.l.Burst()))
		n -= take
		r := l.l.ReserveN(l.clock.Now(), int(take))
		if d := r.DelayFrom(l.clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				r.Cancel()
				return ctx.Err()
			case <-l.clock.After(d):
			}
		}
	}
	return nil
}
