package store

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/perch-gw/perch/gateway/journal"
)

// Clear deletes the points with from <= ts <= to. Clearing everything
// (from <= 0, to == math.MaxInt64) empties the store and frees its space.
// A partial clear is permanent: the range is hidden at once, whole
// partitions inside it are deleted, and points later written into it (up
// to the newest time stored when it was cleared) are refused with
// ReasonCleared, so that nothing cleared can reappear from the journal.
func (s *Store) Clear(from, to int64) error {
	if from > to {
		return fmt.Errorf("store: clear: from %d is after to %d", from, to)
	}
	if from <= 0 && to == math.MaxInt64 {
		return s.reset()
	}
	s.ins.Lock()
	defer s.ins.Unlock()
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	// Never block the future: a range open to the right ends at the newest
	// point known.
	newest := s.globMax
	for _, rs := range [][]row{s.pending, s.held} {
		for _, r := range rs {
			newest = max(newest, r.ts)
		}
	}
	to = min(to, newest)
	if from > to {
		s.mu.Unlock()
		return nil
	}
	s.man.Tombstones = mergeSpans(append(s.man.Tombstones, span{From: from, To: to}))
	in := func(r row) bool { return r.ts >= from && r.ts <= to }
	n := len(s.pending) + len(s.held)
	s.pending = slices.DeleteFunc(s.pending, in)
	s.held = slices.DeleteFunc(s.held, in)
	s.points -= int64(n - len(s.pending) - len(s.held))
	for _, p := range s.memParts() {
		p.overlay = slices.DeleteFunc(p.overlay, in)
	}
	// Only partitions strictly inside may go: a query window ending just
	// before from still makes the engine look at a partition starting at
	// from (see the package doc on why a dropped partition must never be
	// read).
	drop := s.dropWhereLocked(func(p partInfo) bool { return p.Min > from && p.Max <= to })
	s.mu.Unlock()
	if err := s.saveManifest(); err != nil {
		return err
	}
	return s.dropAndSave(drop)
}

func mergeSpans(sp []span) []span {
	slices.SortFunc(sp, func(a, b span) int {
		if a.From != b.From {
			return cmpInt(a.From, b.From)
		}
		return cmpInt(a.To, b.To)
	})
	out := sp[:0]
	for _, t := range sp {
		if n := len(out); n > 0 && t.From <= out[n-1].To+1 {
			out[n-1].To = max(out[n-1].To, t.To)
			continue
		}
		out = append(out, t)
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// reset empties the store: engine, journal, series and manifest.
func (s *Store) reset() error {
	s.ins.Lock()
	defer s.ins.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	fail := func(err error) error {
		if s.err == nil {
			s.err = err
		}
		s.space.Broadcast()
		return err
	}
	// Close flushes the memory partitions (wasted work, but the engine has
	// no other way to let go of them); then every partition's space is
	// freed by truncation, since the old engine keeps its mappings.
	if err := s.eng.Close(); err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	s.eng = nil
	entries, err := os.ReadDir(s.tsDir)
	if err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	s.man = manifest{Flushed: -1}
	if err := s.man.save(s.cfg.Dir); err != nil {
		return fail(err)
	}
	for _, e := range entries {
		if err := dropPartition(filepath.Join(s.tsDir, e.Name())); err != nil {
			return fail(err)
		}
	}
	if err := s.j.Roll(); err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	segs := s.j.Segments()
	if err := s.j.RemoveBefore(segs[len(segs)-1].ID); err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	clear(s.segMax)
	clear(s.segTop)
	s.gen++
	s.notifyLocked()
	if err := s.sj.Close(); err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	sdir := filepath.Join(s.cfg.Dir, "series")
	if err := os.RemoveAll(sdir); err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	s.sj, err = journal.Open(journal.Config{Dir: sdir, Logger: s.log, SegmentSize: 1 << 20})
	if err != nil {
		return fail(fmt.Errorf("store: clear: %w", err))
	}
	s.series, s.byKey = nil, map[seriesKey]uint32{}
	s.pending, s.held = nil, nil
	s.points = 0
	if err := s.openEngine(); err != nil {
		return fail(err)
	}
	s.resetMirror()
	s.space.Broadcast()
	return nil
}
