// Package store keeps one data bucket's time series on disk, durably, on top
// of nakabonne/tstorage, working around the engine's measured defects.
//
// Every accepted message is appended to a crash-safe journal of our own
// (gateway/journal) before Write returns, and queued in memory. One writer
// goroutine, the only caller of the engine's InsertRows, moves the queue into
// the engine in timestamp order. The engine's own WAL is off: it deletes its
// segments in name order and loses data after ten partition rollovers.
//
// The writer mirrors the engine's partitioning exactly, so it knows which
// points the engine would drop (older than its two writable partitions) and
// which it would keep invisible until a flush (out of order within a series):
// the first are refused by Write with ReasonTooOld, before anything is
// acknowledged; the second are kept in an overlay that queries read until the
// engine has flushed them. Partition boundaries are kept strictly increasing,
// so a flushed partition holds exactly the points up to its last timestamp:
// once the writer has seen a partition on disk and fsynced it (the engine
// never fsyncs), it records it in the manifest, and journal segments whose
// points are all at or before that time are deleted. Recovery replays the
// journal, skipping what the manifest says is on disk, so every accepted
// point is stored exactly once.
//
// Retention and Clear never depend on the engine's retention (which counts
// from a partition's flush time, and whose goroutine may never start): the
// store hides expired and cleared ranges from every query and truncates
// the files of whole partitions before deleting them, because the engine
// keeps them memory-mapped for the life of the process and deleting a mapped
// file would not free its space.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nakabonne/tstorage"

	"github.com/perch-gw/perch/gateway/journal"
	"github.com/perch-gw/perch/gateway/payload"
)

// Defaults for Config's zero fields.
const (
	DefaultPartitionDuration = time.Hour
	DefaultMaxPending        = 1 << 18
)

// Config configures a Store. The zero value, with Dir set, works.
type Config struct {
	// Dir holds the store: journal/, series/, ts/ and manifest.json.
	Dir string
	// PartitionDuration is the time span of the engine's partitions: the
	// last one to two spans of data are held in memory (about 40 bytes a
	// point) before they are compressed to disk.
	PartitionDuration time.Duration
	// Resolution rounds every timestamp down to a multiple of it (1 ms when
	// zero). A coarser resolution makes the timestamps of a steady sensor
	// equally spaced despite arrival jitter, which the engine's
	// delta-of-delta encoding stores in about a bit.
	Resolution time.Duration
	// Retention hides and then deletes points older than this; 0 keeps them.
	Retention time.Duration
	// SyncInterval bounds what an acknowledged Write can lose to a power
	// cut: Write returns once its record is written to the kernel (safe from
	// kill -9), and the journal fsyncs at least this often. 0 makes every
	// Write wait for its fsync (group commit).
	SyncInterval time.Duration
	// MaxPending is how many points may wait for the writer; beyond it,
	// Write blocks (backpressure) and Stats.Stalls counts it.
	MaxPending int
	// Logger receives recovery and failure reports; nil discards them.
	Logger *slog.Logger
	// Now is the clock for retention; nil means time.Now.
	Now func() time.Time

	journalSegment int64 // tests: small journal segments
}

// Message is what a device published, decoded: its fields share one time.
type Message struct {
	Time   int64 // ms since the Unix epoch
	Device string
	Topic  string
	Fields []payload.Field
}

// Reason says why Write refused a message.
type Reason string

// The reasons Write refuses a message for.
const (
	ReasonTooOld  Reason = "too old"
	ReasonCleared Reason = "in a cleared range"
	ReasonExpired Reason = "older than the retention"
	ReasonEmpty   Reason = "no fields"
)

// ErrRejected is wrapped by every refusal of a message by Write.
var ErrRejected = errors.New("point rejected")

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("store is closed")

// RejectError is a refused message: nothing of it was stored.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

// Unwrap returns ErrRejected.
func (e *RejectError) Unwrap() error { return ErrRejected }

// Stats describes a store.
type Stats struct {
	Series      int
	Points      int64 // points stored (whole partitions removed by retention or Clear are subtracted)
	First, Last int64 // ms; 0 when empty
	Bytes       int64 // on disk: engine partitions, journal and series log
	Pending     int   // points not yet handed to the engine
	Overlay     int   // out-of-order points the engine holds invisibly, served from memory
	Flushed     int64 // ms: every point at or before it is compressed on disk
	Stalls      int64 // Writes that waited because the writer was behind
	Rejected    map[Reason]int64
	// Error is why the store failed and takes no more points ("" when it
	// works); what it acknowledged before is in its journal.
	Error string
}

// span is an inclusive range of timestamps in ms.
type span struct{ From, To int64 }

type seriesKey struct{ field, device, topic string }

type series struct {
	key seriesKey
	// metric names the series in the engine: field, device and topic in
	// one string. Labels would cost the engine a sort and an allocation
	// per point (marshalMetricName).
	metric string
}

// mpart mirrors one of the engine's in-memory partitions.
type mpart struct {
	minT, maxT int64
	empty      bool
	anchored   bool             // holds an anchor point (not counted as stored)
	first      int64            // the oldest real point (minT may be the anchor's)
	last       map[uint32]int64 // per series, the newest point visible to Select
	overlay    []row            // points inserted out of order: invisible until flushed
	points     int64
}

// Store is one bucket's time-series store. It is safe for concurrent use.
type Store struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	res   int64 // resolution in ms
	dur   int64 // partition duration in ms
	tsDir string

	j   *journal.Journal
	sj  *journal.Journal // series log
	eng tstorage.Storage

	// ins is held for writing by the writer while it moves points into the
	// engine, and for reading by queries, so that a query sees every point
	// exactly once: in the engine, or in memory.
	ins sync.RWMutex

	mu       sync.Mutex
	space    sync.Cond // signalled when pending shrinks
	wake     chan struct{}
	closed   bool
	err      error // sticky engine failure
	pending  []row
	held     []row // late points waiting for the next partition roll
	segMax   map[uint64]int64
	series   []*series
	byKey    map[seriesKey]uint32
	floor    int64 // Write refuses ts < floor
	globMax  int64 // newest ts handed to the engine
	head, p2 *mpart
	older    []*mpart // rolled out of the writable two, awaiting flush
	man      manifest
	points   int64 // in memory partitions, held and pending
	stalls   int64
	rejected map[Reason]int64
	cutoff   int64 // retention: ts < cutoff is hidden

	// followers (follow.go)
	holdMu     sync.Mutex // orders writes of holds.json
	holds      map[string]Hold
	holdAll    bool // holds.json was unreadable: keep the whole journal
	holdSynced time.Time
	holdDirty  bool
	changed    chan struct{}    // closed at the next change; nil when nobody waits
	appended   int64            // points accepted since Open
	lastPos    journal.Pos      // the last message in the journal
	segTop     map[uint64]int64 // per journal segment, its newest point
	gen        int64            // incremented by a full Clear

	// the writer's buffers, reused from one step to the next
	spare  []row
	rowBuf []tstorage.Row

	done chan struct{}
	wg   sync.WaitGroup
}

// Open opens (creating if needed) the store in cfg.Dir, recovers it after a
// crash and starts its writer.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("store: no directory")
	}
	if cfg.PartitionDuration == 0 {
		cfg.PartitionDuration = DefaultPartitionDuration
	}
	if cfg.PartitionDuration < time.Second {
		return nil, fmt.Errorf("store: partition duration %v is under 1s", cfg.PartitionDuration)
	}
	if cfg.Resolution == 0 {
		cfg.Resolution = time.Millisecond
	}
	if cfg.Resolution < time.Millisecond || cfg.Resolution%time.Millisecond != 0 {
		return nil, fmt.Errorf("store: resolution %v is not a whole number of milliseconds", cfg.Resolution)
	}
	if cfg.Retention < 0 || cfg.SyncInterval < 0 || cfg.MaxPending < 0 {
		return nil, errors.New("store: negative retention, sync interval or max pending")
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	s := &Store{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		res:      cfg.Resolution.Milliseconds(),
		dur:      cfg.PartitionDuration.Milliseconds(),
		tsDir:    filepath.Join(cfg.Dir, "ts"),
		wake:     make(chan struct{}, 1),
		segMax:   map[uint64]int64{},
		segTop:   map[uint64]int64{},
		byKey:    map[seriesKey]uint32{},
		rejected: map[Reason]int64{},
		done:     make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.space.L = &s.mu
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// Write stores a message. It returns a *RejectError (wrapping ErrRejected)
// when it refuses the message, having stored nothing, and otherwise only
// after the message is in the journal: see Config.SyncInterval.
func (s *Store) Write(m Message) error {
	if len(m.Fields) == 0 {
		return s.reject(ReasonEmpty, "")
	}
	ts := m.Time
	if ts < 0 {
		ts = 0
	}
	ts -= ts % s.res
	var buf [512]byte

	s.mu.Lock()
	for s.err == nil && !s.closed && len(s.pending) >= s.cfg.MaxPending {
		s.stalls++
		s.space.Wait()
	}
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	if r, detail := s.refuseLocked(ts); r != "" {
		s.rejected[r]++
		s.mu.Unlock()
		return &RejectError{Reason: r, Detail: detail}
	}
	// The rows go straight onto the queue, taken back if the journal fails.
	n0 := len(s.pending)
	for _, f := range m.Fields {
		sid, err := s.seriesLocked(seriesKey{field: f.Name, device: m.Device, topic: m.Topic})
		if err != nil {
			s.pending = s.pending[:n0]
			s.mu.Unlock()
			return err
		}
		s.pending = append(s.pending, row{ts: ts, val: f.Value, sid: sid})
	}
	rec := appendRecord(buf[:0], ts, s.pending[n0:])
	pos, tk, err := s.j.AppendTicket(rec)
	if err != nil {
		s.pending = s.pending[:n0]
		err = s.failLocked(fmt.Errorf("store: journal: %w", err))
		s.mu.Unlock()
		return err
	}
	if mx, ok := s.segMax[pos.Segment]; !ok || ts > mx {
		s.segMax[pos.Segment] = ts
	}
	if mx, ok := s.segTop[pos.Segment]; !ok || ts > mx {
		s.segTop[pos.Segment] = ts
	}
	s.lastPos = pos
	s.appended += int64(len(m.Fields))
	s.notifyLocked()
	kick := n0 == 0
	s.points += int64(len(m.Fields))
	s.mu.Unlock()
	if kick {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if err := s.j.Wait(tk, s.cfg.SyncInterval == 0); err != nil {
		s.mu.Lock()
		err = s.failLocked(fmt.Errorf("store: journal: %w", err))
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *Store) reject(r Reason, detail string) error {
	s.mu.Lock()
	s.rejected[r]++
	s.mu.Unlock()
	return &RejectError{Reason: r, Detail: detail}
}

// refuseLocked says why a point at ts cannot be accepted, if it cannot.
func (s *Store) refuseLocked(ts int64) (Reason, string) {
	if ts < s.cutoff {
		return ReasonExpired, fmt.Sprintf("%s is before the retention cutoff %s", fmtMs(ts), fmtMs(s.cutoff))
	}
	for _, t := range s.man.Tombstones {
		if ts >= t.From && ts <= t.To {
			return ReasonCleared, fmt.Sprintf("%s is in the range %s..%s cleared earlier", fmtMs(ts), fmtMs(t.From), fmtMs(t.To))
		}
	}
	if ts < s.floor {
		return ReasonTooOld, fmt.Sprintf("%s is before %s, the oldest time the bucket can still write (partitions of %v)",
			fmtMs(ts), fmtMs(s.floor), s.cfg.PartitionDuration)
	}
	return "", ""
}

func fmtMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// seriesLocked returns the id of the series, logging a new one durably
// first: journal records name series by id.
func (s *Store) seriesLocked(k seriesKey) (uint32, error) {
	if id, ok := s.byKey[k]; ok {
		return id, nil
	}
	if uint64(len(s.series)) >= math.MaxUint32 {
		return 0, errors.New("store: too many series")
	}
	id := uint32(len(s.series))
	if _, err := s.sj.AppendSync(appendSeries(nil, id, k)); err != nil {
		return 0, fmt.Errorf("store: series log: %w", err)
	}
	s.addSeriesLocked(id, k)
	return id, nil
}

func (s *Store) addSeriesLocked(id uint32, k seriesKey) {
	for uint32(len(s.series)) <= id {
		s.series = append(s.series, nil)
	}
	s.series[id] = &series{key: k, metric: k.field + "\x00" + k.device + "\x00" + k.topic}
	s.byKey[k] = id
}

// failLocked makes a journal failure the store's (its write or fsync
// errors are sticky: nothing more can be acknowledged) and returns err.
func (s *Store) failLocked(err error) error {
	if s.err == nil && !errors.Is(err, journal.ErrClosed) {
		s.err = err
		s.space.Broadcast()
		s.log.Error("store: the journal failed; the bucket accepts no more points until restarted", "dir", s.cfg.Dir, "err", err)
	}
	return err
}

func (s *Store) usableLocked() error {
	if s.closed {
		return ErrClosed
	}
	return s.err
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		Series:   len(s.byKey),
		Points:   s.man.Points + s.points,
		Pending:  len(s.pending) + len(s.held),
		Flushed:  s.man.Flushed,
		Stalls:   s.stalls,
		Rejected: make(map[Reason]int64, len(s.rejected)),
	}
	if s.err != nil && !errors.Is(s.err, ErrClosed) {
		st.Error = s.err.Error()
	}
	for k, v := range s.rejected {
		st.Rejected[k] = v
	}
	for _, p := range s.memParts() {
		st.Overlay += len(p.overlay)
	}
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, p := range s.man.Partitions {
		first, last = min(first, p.First), max(last, p.Max)
	}
	for _, p := range s.memParts() {
		if p.points > 0 {
			first, last = min(first, p.first), max(last, p.maxT)
		}
	}
	for _, rs := range [][]row{s.pending, s.held} {
		for _, r := range rs {
			first, last = min(first, r.ts), max(last, r.ts)
		}
	}
	if first <= last {
		st.First, st.Last = max(first, s.cutoff), last
	}
	s.mu.Unlock()
	st.Bytes = dirSize(s.cfg.Dir)
	return st
}

// memParts lists the mirrored in-memory partitions, newest first.
func (s *Store) memParts() []*mpart {
	out := make([]*mpart, 0, 2+len(s.older))
	if s.head != nil {
		out = append(out, s.head)
	}
	if s.p2 != nil {
		out = append(out, s.p2)
	}
	for i := len(s.older) - 1; i >= 0; i-- {
		out = append(out, s.older[i])
	}
	return out
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Close stops the writer, hands every queued point to the engine, closes it
// (which compresses its memory partitions to disk), fsyncs what it wrote and
// trims the journal. Later calls return the same result.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return s.err
	}
	s.closed = true
	s.space.Broadcast()
	s.notifyLocked()
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.wg.Wait()
	err := s.shutdown()
	if herr := s.syncHolds(); err == nil {
		err = herr
	}
	s.mu.Lock()
	if err != nil && s.err == nil {
		s.err = err
	}
	err = s.err
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	s.err = err
	s.mu.Unlock()
	close(s.done)
	return err
}

func (s *Store) closeFiles() {
	if s.eng != nil {
		_ = s.eng.Close()
	}
	if s.j != nil {
		_ = s.j.Close()
	}
	if s.sj != nil {
		_ = s.sj.Close()
	}
}
