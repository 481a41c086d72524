// Package journal is a crash-safe, segmented, append-only log with group
// commit.
//
// The bucket store appends every accepted point here before it acknowledges
// it, and removes whole segments once the time-series engine has flushed the
// data they hold. Records are opaque byte strings of 1 to [MaxRecordSize]
// bytes. Each is framed on disk as
//
//	[4-byte little-endian payload length][4-byte little-endian CRC-32C of the payload][payload]
//
// in segment files named by a zero-padded decimal id (00000000000000000001.log,
// ...). Segment ids are parsed and ordered as numbers, never as strings.
//
// # Durability
//
// One background goroutine, the committer, owns the segment file. Append
// copies the record into an in-memory buffer and returns at once; the
// committer takes the whole buffer, writes it with one write(2) and fsyncs.
// While one batch is being written and fsynced, new records collect in a
// second buffer, so Append never waits for an fsync (it waits only when
// more than 8 MiB is already waiting to be written), and every caller of
// [Journal.AppendSync] or [Journal.Sync] whose records are in the same batch
// shares one fsync (group commit).
//
//   - After AppendSync returns nil (or Sync, called after the Append,
//     returns nil), the record has been written and fsynced and so has the
//     directory entry of its segment: it survives kill -9 and power loss.
//   - After Append returns, the record is only in this process's memory: it
//     is lost if the process dies. The committer writes it to the kernel
//     with the next batch, as soon as the write or fsync in progress is done
//     (SyncInterval does not delay writes); from then on it survives kill -9
//     (the page cache holds it) but not power loss. It is fsynced at most
//     Config.SyncInterval later plus the fsync's own time, even if nobody
//     calls Sync, and from then on survives power loss. Stats.Written and
//     Stats.Synced tell how far the committer has got.
//   - Config.SyncInterval is the longest the committer delays an fsync to
//     gather more records: fsyncs start at most once per interval. With 0 it
//     fsyncs as soon as it has written something and the previous fsync is
//     done. AppendSync returns only after the fsync covering its record
//     either way, so SyncInterval trades latency for fewer fsyncs (less
//     flash wear), never safety.
//   - Records survive in append order: if a record survives a crash, so does
//     every record appended before it. A segment is fsynced before the next
//     one is created, so only the last segment can be torn.
//   - A write or fsync error is sticky: the journal stops accepting records
//     and every later call reports that error (after a failed fsync the
//     kernel may have dropped the dirty pages, so a retry proves nothing).
//     Callers waiting for the failed batch get the error: their records may
//     or may not be on disk.
//   - All of this assumes the storage honours fsync: an SD card that
//     acknowledges a flush it has not done can lose acknowledged records on
//     power loss, and no software above it can tell.
//
// # Recovery
//
// Open recovers from a crash. A crash while the committer was writing can
// leave the end of the last segment torn: a partial record, or, after a
// power cut, blocks of zeros or of stale data. Open truncates such a tail
// (logging what it cut) when nothing after the first bad record parses as a
// valid record. A defect anywhere else is reported as [ErrCorrupt] naming
// the file and offset: a bad record in a segment that is not the last, a
// bad record followed by a valid one in the last, a segment id missing
// between two present ones. Open never skips records. To get past an
// ErrCorrupt after inspecting the file, truncate it at the named offset (or
// move the segment away) and open again.
//
// The rule cannot tell a torn write from damage to the very last record (a
// flipped bit in it is truncated like a tear), and it errs towards
// ErrCorrupt when a torn tail happens to hold valid records, for example
// stale journal blocks exposed by a power cut on FAT or ext4 with
// data=writeback (ext4's default data=ordered does not expose stale data).
//
// The journal holds an exclusive flock(2) on a LOCK file in its directory, so
// a second process opening it fails with [ErrLocked].
package journal

import (
	"cmp"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

const (
	// DefaultSegmentSize is the segment size used when Config.SegmentSize is 0.
	DefaultSegmentSize = 16 << 20
	// MaxRecordSize is the largest record Append accepts.
	MaxRecordSize = 1 << 20

	headerSize = 8
	// maxPending is how many bytes may wait in memory to be written before
	// Append blocks until the committer takes them.
	maxPending = 8 << 20
	// keepBuffer is the largest write buffer kept for reuse.
	keepBuffer = 1 << 20
)

var (
	// ErrCorrupt is returned by Open and Replay when a segment holds a record
	// that fails its checks anywhere but in a torn tail of the last segment.
	ErrCorrupt = errors.New("journal is corrupt")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("journal is closed")
	// ErrTooLarge is returned by Append for a record over MaxRecordSize bytes.
	ErrTooLarge = errors.New("record too large")
	// ErrEmpty is returned by Append for a zero-length record: on disk it
	// would look like the zero-filled tail a power cut leaves.
	ErrEmpty = errors.New("empty record")
	// ErrLocked is returned by Open when another process has the journal open.
	ErrLocked = errors.New("journal is in use by another process")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Config configures a Journal. The zero value, with Dir set, works.
type Config struct {
	// Dir holds the segment files; it is created (mode 0700) if missing.
	Dir string
	// SegmentSize: a record that would take the current segment past this
	// many bytes starts a new segment (a single larger record gets a segment
	// of its own). 0 means DefaultSegmentSize.
	SegmentSize int64
	// SyncInterval is the longest the committer delays an fsync to gather
	// more records, so fsyncs happen at most this often. 0 means fsync as
	// soon as the previous fsync is done. See the package documentation.
	SyncInterval time.Duration
	// Logger receives recovery and failure reports; nil discards them.
	Logger *slog.Logger
	// Now stamps Stats.LastSync; nil means time.Now. The fsync schedule uses
	// the runtime's timers.
	Now func() time.Time
}

// Pos is the position of a record: its segment id and the byte offset of its
// header in that segment. Positions increase in append order. The zero Pos
// is before every record.
type Pos struct {
	Segment uint64
	Offset  int64
}

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Pos) Compare(q Pos) int {
	if c := cmp.Compare(p.Segment, q.Segment); c != 0 {
		return c
	}
	return cmp.Compare(p.Offset, q.Offset)
}

// String formats p as segment:offset.
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Segment, p.Offset) }

// Segment describes one segment file.
type Segment struct {
	ID   uint64
	Path string
	// Size and Records count every record appended to the segment,
	// including ones the committer has not written yet.
	Size    int64
	Records int
	// First and Last are the positions of the first and last records; both
	// are zero for an empty segment.
	First, Last Pos
}

// Stats counts the journal's work since Open.
type Stats struct {
	Records uint64 // records appended
	Bytes   uint64 // bytes appended, headers included
	Written uint64 // records written to the kernel (they survive kill -9)
	Synced  uint64 // records fsynced (they survive power loss)
	Writes  uint64 // batch writes
	Syncs   uint64 // fsyncs of segment files
	// LastSync is when the last fsync finished (zero before the first).
	LastSync time.Time
}

// commit is the fsync that will cover a set of records: callers waiting for
// those records block on done and then read err.
type commit struct {
	done chan struct{}
	err  error
}

func newCommit() *commit { return &commit{done: make(chan struct{})} }

// chunk is a run of encoded records bound for one segment. A chunk with no
// bytes asks the committer to start that segment's file.
type chunk struct {
	seg uint64
	buf []byte
}

// Journal is an open journal. It is safe for concurrent use.
type Journal struct {
	dir      string
	segSize  int64
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	unlock   func() error

	wake chan struct{} // capacity 1: work for the committer
	wg   sync.WaitGroup
	done chan struct{} // closed when Close has finished
	// removeMu serializes RemoveBefore calls.
	removeMu sync.Mutex

	mu sync.Mutex
	// space is signalled when the committer takes the pending buffer;
	// written when a batch has been written.
	space, written sync.Cond
	closing        bool
	closeErr       error
	err            error // sticky write or fsync failure
	segs           []segMeta
	removedBefore  uint64 // segments below this were removed by RemoveBefore
	pending        []chunk
	pendingBytes   int
	spare          []chunk
	open           *commit // covers the records in pending
	lastTaken      *commit // covers every record taken by the committer
	force          bool    // fsync the next batch without waiting for the interval
	seq            uint64  // records appended
	takenSeq       uint64  // records taken by the committer
	fileSeg        uint64  // the segment whose file the committer has open
	stats          Stats

	// Owned by the committer goroutine.
	f        *os.File
	fseg     uint64
	dirty    bool // written since the last fsync
	awaiting []*commit
	synced   time.Time // monotonic start of the last fsync, for SyncInterval
}

// segMeta is what the journal knows about one segment.
type segMeta struct {
	id          uint64
	path        string
	size        int64
	records     int
	first, last Pos
}

// Open opens the journal in cfg.Dir, creating it if needed, and recovers it
// after a crash: it checks every record of every segment, in numeric order
// of segment id, truncates a torn tail of the last segment and refuses any
// other damage with ErrCorrupt. New records go to the end of the last
// segment.
func Open(cfg Config) (*Journal, error) {
	if cfg.Dir == "" {
		return nil, errors.New("journal: Config.Dir is empty")
	}
	if cfg.SegmentSize < 0 {
		return nil, fmt.Errorf("journal: Config.SegmentSize %d is negative", cfg.SegmentSize)
	}
	if cfg.SyncInterval < 0 {
		return nil, fmt.Errorf("journal: Config.SyncInterval %v is negative", cfg.SyncInterval)
	}
	if cfg.SegmentSize == 0 {
		cfg.SegmentSize = DefaultSegmentSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	j := &Journal{
		dir:      cfg.Dir,
		segSize:  cfg.SegmentSize,
		interval: cfg.SyncInterval,
		log:      cfg.Logger,
		now:      cfg.Now,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		open:     newCommit(),
	}
	j.space.L = &j.mu
	j.written.L = &j.mu
	if err := makeDir(cfg.Dir); err != nil {
		return nil, err
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	j.unlock = unlock
	if err := j.recover(); err != nil {
		if j.f != nil {
			j.f.Close()
		}
		unlock()
		return nil, err
	}
	j.lastTaken = newCommit()
	close(j.lastTaken.done)
	j.wg.Add(1)
	go j.run()
	return j, nil
}

// Append adds rec (copied) to the journal and returns its position. It does
// not wait for the record to be written or fsynced: see the package
// documentation for when it survives what. It returns ErrTooLarge or
// ErrEmpty for a record it cannot hold.
func (j *Journal) Append(rec []byte) (Pos, error) {
	p, _, err := j.append(rec)
	return p, err
}

// AppendSync appends rec like Append and waits until it is durable: written,
// fsynced, and its segment's directory entry fsynced. Concurrent callers
// share one fsync.
func (j *Journal) AppendSync(rec []byte) (Pos, error) {
	p, c, err := j.append(rec)
	if err != nil {
		return p, err
	}
	<-c.done
	return p, c.err
}

// Ticket identifies an appended record for [Journal.Wait]: it lets a
// caller append while holding its own lock (so that its order and the
// journal's agree) and wait for the disk after releasing it.
type Ticket struct {
	seq uint64
	c   *commit
}

// AppendTicket appends rec like Append and returns a ticket to wait on.
func (j *Journal) AppendTicket(rec []byte) (Pos, Ticket, error) {
	p, c, seq, err := j.appendSeq(rec)
	return p, Ticket{seq: seq, c: c}, err
}

// Wait waits until the ticket's record has been written to the kernel (it
// then survives kill -9) or, when durable is true, fsynced (it then survives
// power loss). It returns the journal's write or fsync failure, if any.
func (j *Journal) Wait(t Ticket, durable bool) error {
	if durable {
		<-t.c.done
		return t.c.err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.stats.Written < t.seq && j.err == nil {
		j.written.Wait()
	}
	if j.stats.Written >= t.seq {
		return nil
	}
	return j.err
}

func (j *Journal) append(rec []byte) (Pos, *commit, error) {
	p, c, _, err := j.appendSeq(rec)
	return p, c, err
}

func (j *Journal) appendSeq(rec []byte) (Pos, *commit, uint64, error) {
	switch {
	case len(rec) == 0:
		return Pos{}, nil, 0, fmt.Errorf("journal: append: %w", ErrEmpty)
	case len(rec) > MaxRecordSize:
		return Pos{}, nil, 0, fmt.Errorf("journal: append: %d bytes, more than %d: %w", len(rec), MaxRecordSize, ErrTooLarge)
	}
	var hdr [headerSize]byte
	putHeader(hdr[:], rec)
	n := headerSize + len(rec)

	j.mu.Lock()
	for j.err == nil && !j.closing && j.pendingBytes > 0 && j.pendingBytes+n > maxPending {
		j.space.Wait()
	}
	if err := j.usableLocked(); err != nil {
		j.mu.Unlock()
		return Pos{}, nil, 0, err
	}
	kick := len(j.pending) == 0
	cur := &j.segs[len(j.segs)-1]
	if cur.size > 0 && cur.size+int64(n) > j.segSize {
		cur = j.rollLocked()
	}
	p := Pos{Segment: cur.id, Offset: cur.size}
	ch := j.chunkLocked(cur.id)
	ch.buf = append(ch.buf, hdr[:]...)
	ch.buf = append(ch.buf, rec...)
	if cur.records == 0 {
		cur.first = p
	}
	cur.last = p
	cur.size += int64(n)
	cur.records++
	j.pendingBytes += n
	j.seq++
	j.stats.Records++
	j.stats.Bytes += uint64(n)
	c, seq := j.open, j.seq
	j.mu.Unlock()
	if kick {
		j.kick()
	}
	return p, c, seq, nil
}

// usableLocked returns the error a call must fail with, if any.
func (j *Journal) usableLocked() error {
	if j.closing {
		return fmt.Errorf("journal: %s: %w", j.dir, ErrClosed)
	}
	return j.err
}

// chunkLocked returns the pending chunk records for segment seg go to,
// starting one (reusing a spare buffer) if the last chunk is for another
// segment.
func (j *Journal) chunkLocked(seg uint64) *chunk {
	if n := len(j.pending); n > 0 && j.pending[n-1].seg == seg {
		return &j.pending[n-1]
	}
	if n := len(j.pending); n < cap(j.pending) {
		j.pending = j.pending[:n+1]
		j.pending[n].seg = seg
		j.pending[n].buf = j.pending[n].buf[:0]
	} else {
		j.pending = append(j.pending, chunk{seg: seg})
	}
	return &j.pending[len(j.pending)-1]
}

// rollLocked starts a new segment and returns it.
func (j *Journal) rollLocked() *segMeta {
	id := j.segs[len(j.segs)-1].id + 1
	j.segs = append(j.segs, segMeta{id: id, path: segmentPath(j.dir, id)})
	j.chunkLocked(id) // an empty chunk: the committer creates the file
	return &j.segs[len(j.segs)-1]
}

// kick wakes the committer.
func (j *Journal) kick() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Sync waits until every record appended before it was called is durable.
// Concurrent callers, and AppendSync callers, share one fsync.
func (j *Journal) Sync() error {
	j.mu.Lock()
	if err := j.usableLocked(); err != nil {
		j.mu.Unlock()
		return err
	}
	var c *commit
	if len(j.pending) > 0 {
		c = j.open
	} else {
		c = j.lastTaken
	}
	j.mu.Unlock()
	j.kick()
	<-c.done
	return c.err
}

// Roll starts a new segment: it waits until every record appended before it
// is durable and the new segment's file exists, and later records go to the
// new segment. When the current segment holds no records Roll does nothing.
func (j *Journal) Roll() error {
	j.mu.Lock()
	if err := j.usableLocked(); err != nil {
		j.mu.Unlock()
		return err
	}
	if j.segs[len(j.segs)-1].records == 0 {
		c := j.lastTaken
		if len(j.pending) > 0 {
			c = j.open
		}
		j.mu.Unlock()
		<-c.done
		return c.err
	}
	j.rollLocked()
	j.force = true
	c := j.open
	j.mu.Unlock()
	j.kick()
	<-c.done
	return c.err
}

// Segments describes the journal's segments, oldest first. The last one is
// the segment being appended to.
func (j *Journal) Segments() []Segment {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Segment, len(j.segs))
	for i, s := range j.segs {
		out[i] = s.segment()
	}
	return out
}

func (s segMeta) segment() Segment {
	return Segment{ID: s.id, Path: s.path, Size: s.size, Records: s.records, First: s.first, Last: s.last}
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// RemoveBefore deletes the segments whose id is below segmentID, oldest
// first, and then fsyncs the directory. It never deletes the segment being
// written or a later one: segmentID beyond it is clamped. Call Roll first to
// make the current segment removable.
func (j *Journal) RemoveBefore(segmentID uint64) error {
	j.removeMu.Lock()
	defer j.removeMu.Unlock()
	j.mu.Lock()
	if err := j.usableLocked(); err != nil {
		j.mu.Unlock()
		return err
	}
	limit := min(segmentID, j.fileSeg)
	k := 0
	for k < len(j.segs)-1 && j.segs[k].id < limit {
		k++
	}
	victims := slices.Clone(j.segs[:k])
	j.segs = slices.Clone(j.segs[k:])
	j.removedBefore = max(j.removedBefore, limit)
	j.mu.Unlock()
	if len(victims) == 0 {
		return nil
	}
	for i, s := range victims {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			j.mu.Lock()
			j.segs = append(slices.Clone(victims[i:]), j.segs...)
			j.removedBefore = victims[i].id
			j.mu.Unlock()
			return fmt.Errorf("journal: remove segment: %w", err)
		}
	}
	j.log.Debug("journal: removed segments", "dir", j.dir, "first", victims[0].id, "last", victims[len(victims)-1].id)
	return syncDir(j.dir)
}

// Close writes and fsyncs every appended record, stops the committer and
// closes the files. It reports a write or fsync failure the journal has met.
// Later calls return the same result.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closing {
		j.mu.Unlock()
		<-j.done
		return j.closeErr
	}
	j.closing = true
	j.space.Broadcast()
	j.mu.Unlock()
	j.kick()
	j.wg.Wait()

	j.mu.Lock()
	err := j.err
	j.mu.Unlock()
	if j.f != nil {
		if cerr := j.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("journal: close %s: %w", j.f.Name(), cerr)
		}
		j.f = nil
	}
	if uerr := j.unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("journal: unlock %s: %w", j.dir, uerr)
	}
	j.closeErr = err
	close(j.done)
	return err
}
