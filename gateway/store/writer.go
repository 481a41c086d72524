package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nakabonne/tstorage"

	"github.com/perch-gw/perch/gateway/journal"
)

// engineRetention turns the engine's own retention off: it counts from a
// partition's flush time, not its data, and its goroutine may never start.
const engineRetention = 100 * 365 * 24 * time.Hour

func (s *Store) recover() error {
	m, err := loadManifest(s.cfg.Dir)
	if err != nil {
		return err
	}
	s.man = m
	s.cutoff = s.retentionCutoff()
	if err := s.loadHolds(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.tsDir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// The engine's WAL is never used; a leftover one would be replayed.
	if err := os.RemoveAll(filepath.Join(s.tsDir, "wal")); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	entries, err := os.ReadDir(s.tsDir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, e := range entries {
		if _, _, ok := parsePartitionName(e.Name()); !ok {
			continue
		}
		if !s.man.has(e.Name()) {
			// Flushed by the engine but not yet fsynced and recorded when
			// the process died: it may be torn. Its points are all in the
			// journal, which replays them.
			s.log.Info("store: discarding a partition written before a crash; the journal replays it", "dir", s.cfg.Dir, "partition", e.Name())
			if err := os.RemoveAll(filepath.Join(s.tsDir, e.Name())); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
	}
	kept := s.man.Partitions[:0]
	for _, p := range s.man.Partitions {
		dir := filepath.Join(s.tsDir, p.Name)
		fi, err := os.Stat(filepath.Join(dir, "data"))
		switch {
		case p.Max < s.cutoff:
			if err := dropPartition(dir); err != nil {
				return err
			}
			s.man.Points -= p.Points
			continue
		case err != nil:
			return fmt.Errorf("store: partition %s listed in the manifest is unreadable (%w); move %s away to start without it", p.Name, err, s.cfg.Dir)
		case fi.Size() != p.DataSize:
			return fmt.Errorf("store: partition %s has %d bytes of data, the manifest recorded %d; move %s away to start without it", p.Name, fi.Size(), p.DataSize, s.cfg.Dir)
		}
		kept = append(kept, p)
	}
	s.man.Partitions = kept
	if err := s.man.save(s.cfg.Dir); err != nil {
		return err
	}
	if err := s.openEngine(); err != nil {
		return err
	}

	s.sj, err = journal.Open(journal.Config{Dir: filepath.Join(s.cfg.Dir, "series"), Logger: s.log, SegmentSize: 1 << 20})
	if err != nil {
		return fmt.Errorf("store: series log: %w", err)
	}
	err = s.sj.Replay(journal.Pos{}, func(_ journal.Pos, rec []byte) error {
		id, k, err := decodeSeries(rec)
		if err != nil {
			return fmt.Errorf("series log: %w", err)
		}
		s.addSeriesLocked(id, k)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}

	s.j, err = journal.Open(journal.Config{Dir: filepath.Join(s.cfg.Dir, "journal"), Logger: s.log, SyncInterval: s.cfg.SyncInterval, SegmentSize: s.cfg.journalSegment})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.resetMirror()
	var rows []row
	var replayed, skipped int
	err = s.j.Replay(journal.Pos{}, func(p journal.Pos, rec []byte) error {
		var ts int64
		var err error
		ts, rows, err = decodeRecord(rec, rows)
		if err != nil {
			return fmt.Errorf("journal record at %s: %w", p, err)
		}
		for _, r := range rows {
			if int(r.sid) >= len(s.series) || s.series[r.sid] == nil {
				return fmt.Errorf("journal record at %s names series %d, missing from the series log", p, r.sid)
			}
		}
		s.lastPos = p
		if mx, ok := s.segTop[p.Segment]; !ok || ts > mx {
			s.segTop[p.Segment] = ts
		}
		if ts <= s.man.Flushed || ts < s.cutoff || s.clearedLocked(ts) {
			skipped++
			return nil
		}
		replayed++
		if mx, ok := s.segMax[p.Segment]; !ok || ts > mx {
			s.segMax[p.Segment] = ts
		}
		s.pending = append(s.pending, rows...)
		s.points += int64(len(rows))
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: replay %s: %w", s.j.Dir(), err)
	}
	if replayed > 0 {
		s.log.Info("store: replayed the journal", "dir", s.cfg.Dir, "messages", replayed, "already_stored", skipped)
	}
	return nil
}

func (s *Store) openEngine() error {
	eng, err := tstorage.NewStorage(
		tstorage.WithDataPath(s.tsDir),
		tstorage.WithPartitionDuration(s.cfg.PartitionDuration),
		tstorage.WithTimestampPrecision(tstorage.Milliseconds),
		tstorage.WithWALBufferedSize(-1),
		tstorage.WithRetention(engineRetention),
		tstorage.WithLogger(engineLog{s.log}),
	)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.tsDir, err)
	}
	s.eng = eng
	return nil
}

// engineLog passes the engine's reports (a failed flush, from a goroutine
// of its own) to the store's log instead of dropping them.
type engineLog struct{ l *slog.Logger }

func (e engineLog) Printf(format string, v ...any) {
	e.l.Warn("store: engine: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// resetMirror starts the mirror of a freshly opened engine: one empty head;
// its second partition, if any, is on disk and not writable.
func (s *Store) resetMirror() {
	s.head = newMpart()
	s.p2 = nil
	s.older = nil
	s.globMax = s.man.Flushed
	s.floor = max(s.man.Flushed+1, 1) // the engine drops timestamp 0
}

// The anchor series holds one point per partition, at its start; no
// payload field can have its name (names are printable).
const (
	anchorID     = math.MaxUint32
	anchorMetric = "\x00anchor"
)

func newMpart() *mpart { return &mpart{empty: true, last: map[uint32]int64{}} }

func (p *mpart) anchors() int64 {
	if p.anchored {
		return 1
	}
	return 0
}

func (s *Store) active(p *mpart) bool { return p.maxT-p.minT+1 < s.dur }

func (s *Store) clearedLocked(ts int64) bool {
	for _, t := range s.man.Tombstones {
		if ts >= t.From && ts <= t.To {
			return true
		}
	}
	return false
}

func (s *Store) retentionCutoff() int64 {
	if s.cfg.Retention == 0 {
		return math.MinInt64
	}
	return s.now().Add(-s.cfg.Retention).UnixMilli()
}

// run is the writer: the only goroutine that inserts into the engine.
func (s *Store) run() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.wake:
		case <-tick.C:
		}
		s.mu.Lock()
		closed, failed := s.closed, s.err != nil
		s.mu.Unlock()
		if failed {
			if closed {
				return
			}
			continue
		}
		if err := s.step(); err != nil {
			s.fail(err)
			continue
		}
		if err := s.maintain(); err != nil {
			s.fail(err)
		}
		if closed {
			return
		}
	}
}

func (s *Store) fail(err error) {
	s.log.Error("store: failed; the bucket accepts no more points until restarted (nothing acknowledged is lost: it is in the journal)", "dir", s.cfg.Dir, "err", err)
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.space.Broadcast()
	s.mu.Unlock()
}

// call is one InsertRows: roll says it starts a partition, after which the
// engine flushes the partitions in flushes.
type call struct {
	rows    []row
	roll    bool
	flushes []*mpart
}

// step moves every pending point into the engine.
func (s *Store) step() error {
	s.ins.Lock()
	defer s.ins.Unlock()
	s.mu.Lock()
	in := s.pending
	// The queue restarts on the spare array, which from now on belongs to
	// Write again: it must never also be the array being inserted.
	s.pending, s.spare = s.spare[:0], nil
	calls := s.planLocked(in)
	ser := s.series // entries are never changed once set
	s.space.Broadcast()
	s.mu.Unlock()

	buf := s.rowBuf
	defer func() {
		// Keep the buffers for the next step, unless a burst made them huge.
		if cap(buf) <= 1<<16 {
			s.rowBuf = buf[:0]
		}
		// in becomes the spare only when no held row points into it.
		s.mu.Lock()
		if cap(in) <= 1<<16 && len(s.held) == 0 {
			s.spare = in[:0]
		}
		s.mu.Unlock()
	}()
	for _, c := range calls {
		buf = buf[:0]
		for _, r := range c.rows {
			if r.sid == anchorID {
				buf = append(buf, tstorage.Row{Metric: anchorMetric, DataPoint: tstorage.DataPoint{Timestamp: r.ts}})
				continue
			}
			sr := ser[r.sid]
			buf = append(buf, tstorage.Row{Metric: sr.metric, DataPoint: tstorage.DataPoint{Timestamp: r.ts, Value: r.val}})
		}
		if err := s.eng.InsertRows(buf); err != nil {
			return fmt.Errorf("store: insert: %w", err)
		}
		if c.roll {
			// The roll made the engine flush the partition that left
			// the writable two, from a goroutine of its own. Wait for
			// it, still holding ins: queries then never see it half
			// way (its out-of-order points both in the overlay and
			// the engine), and two flushes never overlap.
			if err := s.waitFlushed(c.flushes); err != nil {
				return err
			}
		}
	}
	return nil
}

// planLocked decides the InsertRows calls for the pending points and the
// held late ones, and updates the mirror and the floor as they will be once
// the calls are done, so that Write, from now on, accepts only what the
// engine will be able to take.
//
// Rules (the engine's, see the package doc): a call starts a new partition
// when the head is full, with its minimum set to the smallest timestamp in
// the call; points below the head go to the second partition, and points
// below that are dropped. So a call that starts a partition holds only new
// points of one timestamp (bigger than any stored), and late points go in
// only while the head is not full.
func (s *Store) planLocked(in []row) []call {
	rows := in
	if len(s.held) > 0 {
		rows = append(s.held, in...)
	}
	s.held = nil
	if len(rows) == 0 {
		return nil
	}
	slices.SortStableFunc(rows, func(a, b row) int { return cmp.Compare(a.ts, b.ts) })
	cut, _ := slices.BinarySearchFunc(rows, s.globMax+1, func(r row, t int64) int { return cmp.Compare(r.ts, t) })
	late, fresh := rows[:cut], rows[cut:]
	var calls []call
	lateCall := func() {
		if len(late) == 0 {
			return
		}
		for _, r := range late {
			p := s.head
			if r.ts < s.head.minT {
				p = s.p2
			}
			if p == nil || r.ts < p.minT {
				// Write's floor makes this impossible; keep the point
				// (in memory and in the journal) rather than lose it.
				s.log.Error("store: late point below the writable partitions; kept in memory", "ts", r.ts)
				s.held = append(s.held, r)
				continue
			}
			s.mirrorInsert(p, r)
		}
		calls = append(calls, call{rows: late})
		late = nil
	}
	if !s.head.empty && s.active(s.head) {
		lateCall()
	}
	for i := 0; i < len(fresh); {
		if s.head.empty || !s.active(s.head) {
			c := call{roll: true}
			if !s.head.empty {
				if s.p2 != nil {
					s.older = append(s.older, s.p2)
					c.flushes = []*mpart{s.p2}
				}
				s.p2, s.head = s.head, newMpart()
			}
			t := fresh[i].ts
			// An anchor point opens the partition before its first
			// point, so that points a little older (another device's
			// clock, a slow network) still fit in it, also in the first
			// partition after a start, which has no writable partition
			// behind it.
			slack := min(s.dur/2, t-s.globMax-1, t-1)
			s.head.empty, s.head.minT, s.head.maxT = false, t-slack, t
			if slack > 0 {
				c.rows = append(c.rows, row{ts: t - slack, sid: anchorID})
				s.head.anchored = true
			}
			j := i
			for j < len(fresh) && fresh[j].ts == t {
				s.mirrorInsert(s.head, fresh[j])
				j++
			}
			c.rows = append(c.rows, fresh[i:j]...)
			calls = append(calls, c)
			s.globMax = t
			i = j
			lateCall()
			continue
		}
		j := i
		for j < len(fresh) && (j == i || fresh[j].ts == fresh[j-1].ts || s.active(s.head)) {
			s.mirrorInsert(s.head, fresh[j])
			j++
		}
		calls = append(calls, call{rows: fresh[i:j]})
		s.globMax = fresh[j-1].ts
		i = j
	}
	s.held = append(s.held, late...)
	switch {
	case s.head.empty:
		s.floor = max(s.globMax+1, 1)
	case s.active(s.head) && s.p2 != nil:
		s.floor = s.p2.minT
	default:
		s.floor = s.head.minT
	}
	return calls
}

// mirrorInsert records what the engine does with r in partition p: a point
// not after the series' newest in p is stored out of order, invisible to
// Select until the partition is flushed, so it is kept in the overlay.
func (s *Store) mirrorInsert(p *mpart, r row) {
	if r.ts > p.maxT {
		p.maxT = r.ts
	}
	if last, ok := p.last[r.sid]; !ok || r.ts > last {
		p.last[r.sid] = r.ts
	} else {
		p.overlay = append(p.overlay, r)
	}
	if p.points == 0 || r.ts < p.first {
		p.first = r.ts
	}
	p.points++
}

// waitFlushed waits until the partitions are flushed and recorded.
func (s *Store) waitFlushed(parts []*mpart) error {
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		waiting := slices.ContainsFunc(parts, func(p *mpart) bool { return slices.Contains(s.older, p) })
		s.mu.Unlock()
		if !waiting {
			return nil
		}
		if err := s.collectFlushed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("store: the engine did not flush a partition within a minute")
		}
		// Each check lists every goroutine's stack (see engineFlushing):
		// not too often, with thousands of device connections.
		time.Sleep(2 * time.Millisecond)
	}
}

// collectFlushed records the partitions the engine has flushed since the
// last call, oldest first: fsyncs them (the engine never does), adds them to
// the manifest and advances Flushed.
func (s *Store) collectFlushed() error {
	changed := false
	for {
		s.mu.Lock()
		if len(s.older) == 0 {
			s.mu.Unlock()
			break
		}
		p := s.older[0]
		s.mu.Unlock()
		info, ok, err := s.flushedPartition(p)
		if err != nil || !ok {
			if changed {
				if serr := s.saveManifest(); serr != nil {
					return serr
				}
			}
			return err
		}
		s.mu.Lock()
		s.older = s.older[1:]
		s.man.Partitions = append(s.man.Partitions, info)
		s.man.Points += info.Points
		s.points -= p.points
		s.man.Flushed = max(s.man.Flushed, p.maxT)
		s.mu.Unlock()
		changed = true
	}
	if changed {
		return s.saveManifest()
	}
	return nil
}

func (s *Store) saveManifest() error {
	s.mu.Lock()
	m := s.man
	m.Partitions = slices.Clone(m.Partitions)
	m.Tombstones = slices.Clone(m.Tombstones)
	s.mu.Unlock()
	return m.save(s.cfg.Dir)
}

// flushedPartition checks whether the engine has finished flushing p: its
// directory has a complete meta.json and the engine has mapped its data
// (it swaps the partition in right after). Then it fsyncs the files.
func (s *Store) flushedPartition(p *mpart) (partInfo, bool, error) {
	name := partitionName(p.minT, p.maxT)
	dir := filepath.Join(s.tsDir, name)
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return partInfo{}, false, nil
	}
	var meta struct {
		NumDataPoints int64 `json:"numDataPoints"`
	}
	if json.Unmarshal(b, &meta) != nil {
		return partInfo{}, false, nil
	}
	// The engine flushes from a goroutine of its own, then maps the file
	// and swaps the partition in. Until that goroutine is gone, a new
	// roll would start a second flush that still sees the partition in
	// memory and rewrites its files under the mapping: wait for it.
	if engineFlushing() {
		return partInfo{}, false, nil
	}
	for _, f := range []string{filepath.Join(dir, "data"), filepath.Join(dir, "meta.json"), dir, s.tsDir} {
		if err := syncPath(f); err != nil {
			return partInfo{}, false, fmt.Errorf("store: fsync %s: %w", f, err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "data"))
	if err != nil {
		return partInfo{}, false, fmt.Errorf("store: %w", err)
	}
	return partInfo{Name: name, Min: p.minT, First: p.first, Max: p.maxT, Points: meta.NumDataPoints - p.anchors(), DataSize: fi.Size()}, true, nil
}

// engineFlushing reports whether any engine in this process is running
// its flush goroutine (or has started one that has not run yet). The engine
// gives no other sign of it; the goroutine's frames are stable because the
// engine's version is pinned, and a test fails if they ever change.
func engineFlushing() bool {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Contains(buf, flushFrame) || bytes.Contains(buf, flushStart)
}

var (
	flushFrame = []byte("tstorage.(*storage).flushPartitions(")
	flushStart = []byte("tstorage.(*storage).ensureActiveHead.func1(")
)

// maintain records flushed partitions, trims the journal and applies
// retention.
func (s *Store) maintain() error {
	if err := s.collectFlushed(); err != nil {
		return err
	}
	if err := s.trimJournal(); err != nil {
		return err
	}
	return s.applyRetention()
}

// trimJournal removes the journal segments whose every point is on disk
// (at or before Flushed) or was never to be stored.
func (s *Store) trimJournal() error {
	segs := s.j.Segments()
	s.mu.Lock()
	var upto uint64
	floor := s.holdFloorLocked()
	for _, sg := range segs[:len(segs)-1] {
		if mx, ok := s.segMax[sg.ID]; ok && mx > s.man.Flushed {
			break
		}
		// A follower still needs it, unless every point in it has expired.
		if top, ok := s.segTop[sg.ID]; sg.ID >= floor && ok && top >= s.cutoff {
			break
		}
		upto = sg.ID + 1
	}
	for id := range s.segMax {
		if id < upto {
			delete(s.segMax, id)
		}
	}
	for id := range s.segTop {
		if id < upto {
			delete(s.segTop, id)
		}
	}
	s.mu.Unlock()
	if upto == 0 {
		return nil
	}
	if err := s.j.RemoveBefore(upto); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// applyRetention hides points older than the retention and drops the
// partitions wholly before it.
func (s *Store) applyRetention() error {
	cut := s.retentionCutoff()
	s.ins.Lock()
	defer s.ins.Unlock()
	s.mu.Lock()
	if cut > s.cutoff {
		s.cutoff = cut
	}
	drop := s.dropWhereLocked(func(p partInfo) bool { return p.Max < s.cutoff })
	tomb := s.man.Tombstones[:0]
	for _, t := range s.man.Tombstones {
		if t.To >= s.cutoff {
			tomb = append(tomb, t)
		}
	}
	s.man.Tombstones = tomb
	s.mu.Unlock()
	return s.dropAndSave(drop)
}

// dropWhereLocked takes the partitions matching from the manifest.
func (s *Store) dropWhereLocked(match func(partInfo) bool) []partInfo {
	var drop []partInfo
	kept := s.man.Partitions[:0]
	for _, p := range s.man.Partitions {
		if match(p) {
			drop = append(drop, p)
			s.man.Points -= p.Points
			continue
		}
		kept = append(kept, p)
	}
	s.man.Partitions = kept
	return drop
}

// dropAndSave saves the manifest first (so a crash never leaves it naming a
// removed partition) and then frees the partitions' space.
func (s *Store) dropAndSave(drop []partInfo) error {
	if len(drop) == 0 {
		return nil
	}
	if err := s.saveManifest(); err != nil {
		return err
	}
	for _, p := range drop {
		if err := dropPartition(filepath.Join(s.tsDir, p.Name)); err != nil {
			return err
		}
	}
	return nil
}

// shutdown, after the writer has stopped, inserts what is left, closes the
// engine (which flushes its memory partitions), records those and trims the
// journal.
func (s *Store) shutdown() error {
	s.mu.Lock()
	failed := s.err != nil
	s.mu.Unlock()
	if !failed {
		if err := s.step(); err != nil {
			s.closeFiles()
			return err
		}
		if err := s.waitFlushed(slices.Clone(s.older)); err != nil {
			s.closeFiles()
			return err
		}
	}
	err := s.eng.Close()
	s.eng = nil
	if err == nil && !failed {
		s.mu.Lock()
		// Close flushed the two writable partitions: record them like
		// any other (they are no longer mapped; skip that check).
		for _, p := range []*mpart{s.p2, s.head} {
			if p != nil && !p.empty {
				s.older = append(s.older, p)
			}
		}
		s.head, s.p2 = newMpart(), nil
		s.mu.Unlock()
		err = s.collectClosed()
		if err == nil {
			err = s.trimJournal()
		}
	}
	if jerr := s.j.Close(); err == nil {
		err = jerr
	}
	if serr := s.sj.Close(); err == nil {
		err = serr
	}
	s.j, s.sj = nil, nil
	return err
}

// collectClosed records the partitions Close flushed.
func (s *Store) collectClosed() error {
	s.mu.Lock()
	parts := s.older
	s.older = nil
	s.mu.Unlock()
	for _, p := range parts {
		name := partitionName(p.minT, p.maxT)
		dir := filepath.Join(s.tsDir, name)
		b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
		if err != nil {
			return fmt.Errorf("store: the engine did not flush %s on close: %w", name, err)
		}
		var meta struct {
			NumDataPoints int64 `json:"numDataPoints"`
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return fmt.Errorf("store: %s: %w", name, err)
		}
		for _, f := range []string{filepath.Join(dir, "data"), filepath.Join(dir, "meta.json"), dir} {
			if err := syncPath(f); err != nil {
				return fmt.Errorf("store: fsync %s: %w", f, err)
			}
		}
		fi, err := os.Stat(filepath.Join(dir, "data"))
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		s.mu.Lock()
		s.man.Partitions = append(s.man.Partitions, partInfo{Name: name, Min: p.minT, First: p.first, Max: p.maxT, Points: meta.NumDataPoints - p.anchors(), DataSize: fi.Size()})
		s.man.Points += meta.NumDataPoints - p.anchors()
		s.points -= p.points
		s.man.Flushed = max(s.man.Flushed, p.maxT)
		s.mu.Unlock()
	}
	if err := syncDir(s.tsDir); err != nil {
		return err
	}
	// Empty partitions leave p-0-0 behind.
	_ = os.RemoveAll(filepath.Join(s.tsDir, partitionName(0, 0)))
	return s.saveManifest()
}
