// Package bucket is the gateway's data buckets: named recordings of what
// devices publish on an MQTT topic filter, or write through the API, each
// kept in its own time-series store (gateway/store) under <data>/buckets/<id>.
//
// The Manager decodes each message once (gateway/payload), writes it to
// every enabled bucket whose filter matches its topic, counts and remembers
// every rejection with its reason, and fans new points out to live
// subscribers (the console's real-time widgets).
package bucket

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/db"
	"github.com/perch-gw/perch/gateway/payload"
	"github.com/perch-gw/perch/gateway/store"
)

const dbBucket = "buckets"

// Defaults for a new bucket.
const (
	DefaultRetention  = 365 * day
	DefaultResolution = time.Millisecond
)

var (
	// ErrNotFound means no bucket has the given id.
	ErrNotFound = errors.New("bucket not found")
	// ErrExists means a bucket with the given id already exists.
	ErrExists = errors.New("bucket already exists")
	// ErrInvalid is wrapped by a *FieldError for an unacceptable field.
	ErrInvalid = errors.New("invalid bucket")
	// ErrDisabled means the bucket is disabled and takes no writes.
	ErrDisabled = errors.New("bucket is disabled")
)

// FieldError says which field of a bucket was not acceptable and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Bucket is a bucket's settings.
type Bucket struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Topic       string    `json:"topic"` // MQTT filter; "" = API writes only
	Retention   Duration  `json:"retention"`
	Resolution  Duration  `json:"resolution"`
	Created     time.Time `json:"created"`
	// Provisioned buckets come from the config file, which re-applies
	// them at every start.
	Provisioned bool `json:"provisioned"`
}

// Validate checks the settings, naming the field at fault.
func (b *Bucket) Validate() error {
	switch {
	case !idPattern.MatchString(b.ID):
		return &FieldError{"id", "must be 1 to 64 of A-Z a-z 0-9 _ -"}
	case len(b.Name) > 128:
		return &FieldError{"name", "is longer than 128 bytes"}
	case len(b.Description) > 1024:
		return &FieldError{"description", "is longer than 1024 bytes"}
	case b.Retention < 0:
		return &FieldError{"retention", "is negative"}
	case b.Resolution < Duration(time.Millisecond) || b.Resolution > Duration(time.Hour) || time.Duration(b.Resolution)%time.Millisecond != 0:
		return &FieldError{"resolution", "must be a whole number of milliseconds from 1ms to 1h"}
	}
	if b.Topic != "" {
		if err := acl.ValidFilter(b.Topic); err != nil {
			return &FieldError{"topic", err.Error()}
		}
		if len(b.Topic) > 1024 {
			return &FieldError{"topic", "is longer than 1024 bytes"}
		}
	}
	return nil
}

// Rejection is a message a bucket did not store, and why.
type Rejection struct {
	Reason string    `json:"reason"`
	Detail string    `json:"detail"`
	Device string    `json:"device"`
	Topic  string    `json:"topic"`
	At     time.Time `json:"at"`
}

// Stats describes a bucket's data.
type Stats struct {
	store.Stats
	Rejected      int64
	LastRejection *Rejection
	Dropped       int64 // live events not delivered to slow subscribers
}

// Config configures a Manager. The zero value, with DB and Dir set, works.
type Config struct {
	DB  *db.DB
	Dir string // holds one directory per bucket
	// SyncInterval, PartitionDuration and MaxPending are passed to each
	// store (see store.Config).
	SyncInterval      time.Duration
	PartitionDuration time.Duration
	MaxPending        int
	Payload           payload.Options
	Logger            *slog.Logger
	Now               func() time.Time
	// HealInterval is how often failed stores are checked, and reopened
	// once their disk has HealMinFree bytes free (DefaultHealInterval,
	// DefaultHealMinFree when zero).
	HealInterval time.Duration
	HealMinFree  int64
}

// Manager owns the buckets. It is safe for concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu      sync.RWMutex
	buckets map[string]*entry
	closed  bool
	routes  atomic.Pointer[[]*entry] // enabled buckets with a topic

	decoders sync.Pool

	subMu sync.Mutex
	subs  map[string]map[*Subscription]struct{} // by bucket id; nil once closed
	taps  map[*Tap]struct{}

	healStop, healDone chan struct{}
}

type entry struct {
	b        Bucket
	st       *store.Store
	batches  recentBatches
	rejected atomic.Int64
	lastRej  atomic.Pointer[Rejection]
	dropped  atomic.Int64
}

// New opens every bucket's store.
func New(cfg Config) (*Manager, error) {
	if cfg.DB == nil || cfg.Dir == "" {
		return nil, errors.New("bucket: no database or directory")
	}
	if _, err := payload.NewDecoder(cfg.Payload); err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	if cfg.HealInterval <= 0 {
		cfg.HealInterval = DefaultHealInterval
	}
	if cfg.HealMinFree <= 0 {
		cfg.HealMinFree = DefaultHealMinFree
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, now: cfg.Now, buckets: map[string]*entry{}, subs: map[string]map[*Subscription]struct{}{},
		healStop: make(chan struct{}), healDone: make(chan struct{})}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.decoders.New = func() any {
		d, _ := payload.NewDecoder(cfg.Payload)
		return d
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	var list []Bucket
	err := cfg.DB.View(func(tx db.Tx) error {
		return tx.ForEach(dbBucket, func(_ string, raw []byte) error {
			var b Bucket
			if err := json.Unmarshal(raw, &b); err != nil {
				return err
			}
			list = append(list, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	for _, b := range list {
		e, err := m.open(b)
		if err != nil {
			for _, e := range m.buckets {
				e.st.Close()
			}
			return nil, err
		}
		m.buckets[b.ID] = e
	}
	m.reroute()
	go m.healLoop()
	return m, nil
}

func (m *Manager) open(b Bucket) (*entry, error) {
	st, err := store.Open(store.Config{
		Dir:               filepath.Join(m.cfg.Dir, b.ID),
		PartitionDuration: m.cfg.PartitionDuration,
		Resolution:        time.Duration(b.Resolution),
		Retention:         time.Duration(b.Retention),
		SyncInterval:      m.cfg.SyncInterval,
		MaxPending:        m.cfg.MaxPending,
		Logger:            m.log.With("bucket", b.ID),
		Now:               m.cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", b.ID, err)
	}
	return &entry{b: b, st: st}, nil
}

// reroute rebuilds the ingest routes; call with mu held (either way).
func (m *Manager) reroute() {
	var r []*entry
	for _, e := range m.buckets {
		if e.b.Enabled && e.b.Topic != "" {
			r = append(r, e)
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i].b.ID < r[j].b.ID })
	m.routes.Store(&r)
}

// Info is a bucket with its stats.
type Info struct {
	Bucket
	Stats Stats
}

func (e *entry) stats() Stats {
	return Stats{Stats: e.st.Stats(), Rejected: e.rejected.Load(), LastRejection: e.lastRej.Load(), Dropped: e.dropped.Load()}
}

// List returns every bucket, by id.
func (m *Manager) List() []Info {
	m.mu.RLock()
	es := make([]*entry, 0, len(m.buckets))
	for _, e := range m.buckets {
		es = append(es, e)
	}
	m.mu.RUnlock()
	sort.Slice(es, func(i, j int) bool { return es[i].b.ID < es[j].b.ID })
	out := make([]Info, len(es))
	for i, e := range es {
		out[i] = Info{Bucket: e.b, Stats: e.stats()}
	}
	return out
}

// Get returns one bucket.
func (m *Manager) Get(id string) (Info, error) {
	e, err := m.entry(id)
	if err != nil {
		return Info{}, err
	}
	return Info{Bucket: e.b, Stats: e.stats()}, nil
}

func (m *Manager) entry(id string) (*entry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.buckets[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e, nil
}

// Create adds a bucket. A zero Resolution means DefaultResolution; a zero
// Retention means forever (callers fill in DefaultRetention themselves).
func (m *Manager) Create(b Bucket) (Info, error) {
	if b.Resolution == 0 {
		b.Resolution = Duration(DefaultResolution)
	}
	if err := b.Validate(); err != nil {
		return Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Info{}, errors.New("bucket: manager closed")
	}
	if _, ok := m.buckets[b.ID]; ok {
		return Info{}, fmt.Errorf("%w: %s", ErrExists, b.ID)
	}
	b.Created = m.now().UTC().Truncate(time.Second)
	dir := filepath.Join(m.cfg.Dir, b.ID)
	// A directory left by a bucket deleted before a crash holds nothing
	// this bucket should show.
	if err := os.RemoveAll(dir); err != nil {
		return Info{}, fmt.Errorf("bucket %s: %w", b.ID, err)
	}
	e, err := m.open(b)
	if err != nil {
		return Info{}, err
	}
	if err := m.cfg.DB.Update(func(tx db.Tx) error { return tx.Put(dbBucket, b.ID, b) }); err != nil {
		e.st.Close()
		return Info{}, fmt.Errorf("bucket %s: %w", b.ID, err)
	}
	m.buckets[b.ID] = e
	m.reroute()
	m.log.Info("bucket created", "bucket", b.ID, "topic", b.Topic)
	return Info{Bucket: e.b, Stats: e.stats()}, nil
}

// Patch is a partial update; nil fields are left alone.
type Patch struct {
	Name        *string
	Description *string
	Enabled     *bool
	Topic       *string
	Retention   *Duration
	Resolution  *Duration
	Provisioned *bool
}

// Update applies p to a bucket. A new retention or resolution reopens its
// store (a moment of backpressure for its publishers).
func (m *Manager) Update(id string, p Patch) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.buckets[id]
	if !ok {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	b := e.b
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&b.Name, p.Name)
	set(&b.Description, p.Description)
	set(&b.Topic, p.Topic)
	if p.Enabled != nil {
		b.Enabled = *p.Enabled
	}
	if p.Retention != nil {
		b.Retention = *p.Retention
	}
	if p.Resolution != nil {
		b.Resolution = *p.Resolution
	}
	if p.Provisioned != nil {
		b.Provisioned = *p.Provisioned
	}
	if err := b.Validate(); err != nil {
		return Info{}, err
	}
	if err := m.cfg.DB.Update(func(tx db.Tx) error { return tx.Put(dbBucket, b.ID, b) }); err != nil {
		return Info{}, fmt.Errorf("bucket %s: %w", b.ID, err)
	}
	if b.Retention != e.b.Retention || b.Resolution != e.b.Resolution {
		ne, err := m.reopen(e, b)
		if err != nil {
			return Info{}, err
		}
		e = ne
	} else {
		// Swap in a copy so that readers of the old entry's settings
		// never race with this write.
		ne := &entry{b: b, st: e.st}
		ne.rejected.Store(e.rejected.Load())
		ne.lastRej.Store(e.lastRej.Load())
		ne.dropped.Store(e.dropped.Load())
		m.buckets[id] = ne
		e = ne
	}
	m.reroute()
	return Info{Bucket: e.b, Stats: e.stats()}, nil
}

func (m *Manager) reopen(e *entry, b Bucket) (*entry, error) {
	if err := e.st.Close(); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", b.ID, err)
	}
	ne, err := m.open(b)
	if err != nil {
		delete(m.buckets, b.ID)
		m.reroute()
		return nil, err
	}
	ne.rejected.Store(e.rejected.Load())
	ne.lastRej.Store(e.lastRej.Load())
	ne.dropped.Store(e.dropped.Load())
	m.buckets[b.ID] = ne
	return ne, nil
}

// Delete removes a bucket and its data.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.buckets[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := m.cfg.DB.Update(func(tx db.Tx) error { return tx.Delete(dbBucket, id) }); err != nil {
		return fmt.Errorf("bucket %s: %w", id, err)
	}
	delete(m.buckets, id)
	m.reroute()
	m.endSubs(id)
	if err := e.st.Close(); err != nil {
		m.log.Warn("bucket: closing a deleted bucket's store", "bucket", id, "err", err)
	}
	if err := os.RemoveAll(filepath.Join(m.cfg.Dir, id)); err != nil {
		return fmt.Errorf("bucket %s: remove data: %w", id, err)
	}
	m.log.Info("bucket deleted", "bucket", id)
	return nil
}

// Close closes every store. It is safe to call more than once.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	// heal takes mu: stop it before closing the stores under mu.
	close(m.healStop)
	<-m.healDone
	m.mu.Lock()
	defer m.mu.Unlock()
	empty := []*entry{}
	m.routes.Store(&empty)
	m.endSubs("")
	var errs []error
	for _, e := range m.buckets {
		if err := e.st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("bucket %s: %w", e.b.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Matches reports whether any enabled bucket records topic.
func (m *Manager) Matches(topic string) bool {
	for _, e := range *m.routes.Load() {
		if acl.Match(e.b.Topic, topic) {
			return true
		}
	}
	return false
}

// ErrRejected is wrapped by Ingest's error when a bucket refused the
// message (it is counted there, with its reason): the publisher should be
// told, where its protocol allows.
var ErrRejected = errors.New("message rejected")

// ErrPayload is wrapped with ErrRejected when the payload itself is invalid.
var ErrPayload = errors.New("invalid payload")

// Ingest records an MQTT message in every enabled bucket whose filter
// matches its topic. A payload a bucket cannot store is counted as rejected
// there, with its reason, and Ingest returns an error wrapping ErrRejected
// (and ErrPayload when the payload is at fault). Any other error means a
// store failed: the message may not be stored and must not be acknowledged.
func (m *Manager) Ingest(device, topic string, body []byte, received time.Time) error {
	routes := *m.routes.Load()
	var (
		dec      *payload.Decoder
		res      payload.Result
		decErr   error
		decoded  bool
		errs     []error
		rejected error
		batch    *payload.Batch
	)
	for _, e := range routes {
		if !acl.Match(e.b.Topic, topic) {
			continue
		}
		if !decoded {
			if payload.IsBatch(body) {
				var b payload.Batch
				b, decErr = payload.DecodeBatch(body, payload.Options{MaxBytes: maxBatchBytes})
				batch = &b
			} else {
				dec = m.decoders.Get().(*payload.Decoder)
				defer m.decoders.Put(dec)
				res, decErr = dec.Decode(body, received)
			}
			decoded = true
		}
		if decErr != nil {
			r, d := rejectionOf(decErr)
			e.reject(r, d, device, topic, m.now())
			m.log.Debug("bucket: message rejected", "bucket", e.b.ID, "device", device, "topic", topic, "reason", r, "detail", d)
			rejected = fmt.Errorf("%w: %w: %s", ErrRejected, ErrPayload, r)
			continue
		}
		if batch != nil {
			if err := m.writeBatch(e, batch, topic); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := m.write(e, res, device, topic); err != nil {
			if errors.Is(err, ErrRejected) {
				rejected = err
				continue
			}
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return rejected
}

func rejectionOf(err error) (string, string) {
	var pe *payload.Error
	if errors.As(err, &pe) {
		d := pe.Detail
		if pe.Path != "" {
			d = pe.Path + ": " + d
		}
		return string(pe.Reason), d
	}
	var se *store.RejectError
	if errors.As(err, &se) {
		return string(se.Reason), se.Detail
	}
	return "error", err.Error()
}

func (e *entry) reject(reason, detail, device, topic string, at time.Time) {
	e.rejected.Add(1)
	e.lastRej.Store(&Rejection{Reason: reason, Detail: detail, Device: device, Topic: topic, At: at.UTC()})
}

// write stores one decoded message; a refusal is counted and returned
// wrapping ErrRejected.
func (m *Manager) write(e *entry, res payload.Result, device, topic string) error {
	err := e.st.Write(store.Message{Time: res.Time.UnixMilli(), Device: device, Topic: topic, Fields: res.Fields})
	if err != nil {
		if errors.Is(err, store.ErrRejected) {
			r, d := rejectionOf(err)
			e.reject(r, d, device, topic, m.now())
			m.log.Debug("bucket: message rejected", "bucket", e.b.ID, "device", device, "topic", topic, "reason", r, "detail", d)
			return fmt.Errorf("%w: %s", ErrRejected, r)
		}
		return fmt.Errorf("bucket %s: %w", e.b.ID, err)
	}
	m.publish(e, res, device, topic)
	return nil
}

// ItemError is one rejected item of an API write.
type ItemError struct {
	Index   int    `json:"index"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// WriteResult is what an API write stored.
type WriteResult struct {
	Accepted int         `json:"accepted"`
	Rejected []ItemError `json:"rejected"`
}

// ErrBadBody is wrapped by *BodyError: an API write whose body is not
// acceptable; nothing of it was stored.
var ErrBadBody = errors.New("bad data")

// BodyError says which item of an API write is malformed.
type BodyError struct {
	Index int // -1 for the body as a whole
	Err   error
}

func (e *BodyError) Error() string {
	if e.Index < 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("item %d: %v", e.Index, e.Err)
}

// Unwrap returns ErrBadBody.
func (e *BodyError) Unwrap() error { return ErrBadBody }

// Write stores the body of an API write: one JSON payload, or an array of
// them, labelled with device. Every item is decoded before any is stored,
// so a malformed one stores nothing (*BodyError); the store may still
// refuse single items (too old, cleared), which WriteResult lists.
func (m *Manager) Write(id, device string, body []byte) (WriteResult, error) {
	e, err := m.entry(id)
	if err != nil {
		return WriteResult{}, err
	}
	if !e.b.Enabled {
		return WriteResult{}, fmt.Errorf("%w: %s", ErrDisabled, id)
	}
	items := [][]byte{body}
	if trimmed := trimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return WriteResult{}, &BodyError{Index: -1, Err: fmt.Errorf("not a JSON array of payloads: %w", err)}
		}
		if len(raw) == 0 {
			return WriteResult{}, &BodyError{Index: -1, Err: errors.New("empty array")}
		}
		items = items[:0]
		for _, r := range raw {
			items = append(items, r)
		}
	}
	dec := m.decoders.Get().(*payload.Decoder)
	defer m.decoders.Put(dec)
	now := m.now()
	results := make([]payload.Result, len(items))
	for i, it := range items {
		r, err := dec.Decode(it, now)
		if err != nil {
			idx := i
			if len(items) == 1 && (len(trimSpace(body)) == 0 || trimSpace(body)[0] != '[') {
				idx = -1
			}
			return WriteResult{}, &BodyError{Index: idx, Err: err}
		}
		r.Fields = slices.Clone(r.Fields) // the decoder reuses its slice
		results[i] = r
	}
	var out WriteResult
	for i, r := range results {
		err := e.st.Write(store.Message{Time: r.Time.UnixMilli(), Device: device, Fields: r.Fields})
		if err != nil {
			if !errors.Is(err, store.ErrRejected) {
				return out, fmt.Errorf("bucket %s: %w", id, err)
			}
			reason, detail := rejectionOf(err)
			e.reject(reason, detail, device, "", m.now())
			out.Rejected = append(out.Rejected, ItemError{Index: i, Reason: reason, Message: detail})
			continue
		}
		out.Accepted++
		m.publish(e, r, device, "")
	}
	return out, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// Scan reads a bucket's data (see store.Store.Scan).
func (m *Manager) Scan(id string, q store.Query, begin func([]string) error, emit func(*store.Record) error) error {
	e, err := m.entry(id)
	if err != nil {
		return err
	}
	return e.st.Scan(q, begin, emit)
}

// Clear deletes a bucket's points in [from, to] (see store.Store.Clear).
func (m *Manager) Clear(id string, from, to int64) error {
	e, err := m.entry(id)
	if err != nil {
		return err
	}
	return e.st.Clear(from, to)
}

// Store returns a bucket's current store, for a follower such as the
// upstream sync. It changes when the bucket is reopened (Update of its
// retention or resolution), after which the old one reports
// store.ErrClosed; a deleted bucket is ErrNotFound.
func (m *Manager) Store(id string) (*store.Store, error) {
	e, err := m.entry(id)
	if err != nil {
		return nil, err
	}
	return e.st, nil
}

// maxBatchBytes bounds a batch from another gateway; the broker's packet
// size limit is the real bound.
const maxBatchBytes = 64 << 20

// writeBatch stores the records of a batch forwarded by another gateway,
// each as its own message. A batch this bucket has just stored (the same
// id, sent again after a lost acknowledgement) is not stored twice; a
// record the store refuses is counted, and the others are kept.
func (m *Manager) writeBatch(e *entry, b *payload.Batch, topic string) error {
	if !e.batches.add(b.ID) {
		return nil
	}
	for _, r := range b.Records {
		err := m.write(e, payload.Result{Time: r.Time, FromTS: true, Fields: r.Fields}, r.Device, topic)
		if err != nil && !errors.Is(err, ErrRejected) {
			e.batches.remove(b.ID)
			return err
		}
	}
	return nil
}

// recentBatches remembers the ids of the last batches a bucket stored.
type recentBatches struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring [1024]string
	next int
}

// add records id and reports whether it is new.
func (r *recentBatches) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return false
	}
	if r.ids == nil {
		r.ids = map[string]struct{}{}
	}
	delete(r.ids, r.ring[r.next])
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.ids[id] = struct{}{}
	return true
}

func (r *recentBatches) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ids, id)
}
