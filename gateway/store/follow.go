package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/perch-gw/perch/gateway/journal"
	"github.com/perch-gw/perch/gateway/payload"
)

// A follower (the upstream sync) reads the store's accepted messages back
// in the order they were accepted, from the journal, and keeps the journal
// segments it has not read yet with a named hold. Reading the journal rather
// than the engine sees every message exactly as acknowledged, late and
// out-of-order ones included, and costs no extra write: while a follower
// keeps up, its holds release segments as soon as the engine has them.
//
// A hold is durable (holds.json, replaced by rename at every change, fsynced
// at most every holdSyncInterval and at Close): after kill -9 it is exact;
// after a power cut it may be older than the last change, so a follower
// reads some messages again (at-least-once), never fewer. Retention
// overrides holds: a segment whose every point is older than the retention
// is deleted even if held, since its points are gone from the store anyway.

// Pos is a message's position in the store's journal: positions increase in
// the order messages were accepted. The zero Pos is before every message.
type Pos = journal.Pos

// Entry is an accepted message read back by ReadAfter.
type Entry struct {
	Pos    Pos
	Time   int64 // ms since the Unix epoch, rounded to the resolution
	Device string
	Topic  string
	Fields []payload.Field
}

// Hold is a follower's durable state: its position and a note of its own.
type Hold struct {
	// After: every message after it is kept for the follower.
	After Pos `json:"after"`
	// Note is the follower's, stored with the hold (at most 64 KiB).
	Note json.RawMessage `json:"note,omitempty"`
}

const (
	holdsName        = "holds.json"
	holdSyncInterval = time.Second
	maxHoldNote      = 64 << 10
)

// errStop ends a journal replay early.
var errStop = errors.New("stop")

// loadHolds reads holds.json. An unreadable file (torn by a power cut on a
// file system that does not order a rename after its data) keeps the whole
// journal until a follower sets its hold again, and says so.
func (s *Store) loadHolds() error {
	s.holds = map[string]Hold{}
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, holdsName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = json.Unmarshal(b, &s.holds)
	}
	if err != nil {
		s.log.Warn("store: followers' positions unreadable; keeping the whole journal until they set them again (they will resend what they had sent)",
			"file", filepath.Join(s.cfg.Dir, holdsName), "err", err)
		s.holds = map[string]Hold{}
		s.holdAll = true
	}
	return nil
}

// HoldOf returns a follower's hold, if it has one.
func (s *Store) HoldOf(name string) (Hold, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.holds[name]
	return h, ok
}

// SetHold records a follower's position: the journal keeps every message
// after h.After for it. The first hold of a follower is fsynced before
// SetHold returns; later ones are written at once and fsynced within a
// second.
func (s *Store) SetHold(name string, h Hold) error {
	if name == "" {
		return errors.New("store: a hold needs a name")
	}
	if len(h.Note) > maxHoldNote {
		return fmt.Errorf("store: hold %s: a note of %d bytes is over %d", name, len(h.Note), maxHoldNote)
	}
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	_, had := s.holds[name]
	s.holds[name] = Hold{After: h.After, Note: slices.Clone(h.Note)}
	s.holdAll = false
	b, err := json.Marshal(s.holds)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store: holds: %w", err)
	}
	return s.writeHolds(b, !had)
}

// Release drops a follower's hold: the journal no longer waits for it.
func (s *Store) Release(name string) error {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	s.mu.Lock()
	if _, ok := s.holds[name]; !ok {
		s.mu.Unlock()
		return nil
	}
	delete(s.holds, name)
	b, err := json.Marshal(s.holds)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store: holds: %w", err)
	}
	return s.writeHolds(b, true)
}

// writeHolds replaces holds.json; holdMu is held. With sync, or when the
// last fsync is over a second old, the file and directory are fsynced.
func (s *Store) writeHolds(b []byte, sync bool) error {
	path := filepath.Join(s.cfg.Dir, holdsName)
	tmp := path + ".tmp"
	sync = sync || time.Since(s.holdSynced) >= holdSyncInterval
	var err error
	if sync {
		err = writeFileSync(tmp, b)
	} else {
		err = os.WriteFile(tmp, b, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && sync {
		err = syncPath(s.cfg.Dir)
	}
	if err != nil {
		return fmt.Errorf("store: holds: %w", err)
	}
	if sync {
		s.holdSynced = time.Now()
		s.holdDirty = false
	} else {
		s.holdDirty = true
	}
	return nil
}

// syncHolds fsyncs holds.json if a change has not been (at Close).
func (s *Store) syncHolds() error {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	if !s.holdDirty {
		return nil
	}
	if err := syncPath(filepath.Join(s.cfg.Dir, holdsName)); err != nil {
		return fmt.Errorf("store: holds: %w", err)
	}
	s.holdDirty = false
	return syncDir(s.cfg.Dir)
}

// holdFloorLocked is the first journal segment some follower still needs
// (math.MaxUint64 when none does).
func (s *Store) holdFloorLocked() uint64 {
	if s.holdAll {
		return 0
	}
	floor := ^uint64(0)
	for _, h := range s.holds {
		floor = min(floor, h.After.Segment)
	}
	return floor
}

// Changed returns a channel closed at the next accepted message (or Clear,
// or Close). Take it before ReadAfter finds nothing, and no message can slip
// between the two.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
		if s.closed || s.err != nil {
			close(s.changed)
			s.changed = nil
			c := make(chan struct{})
			close(c)
			return c
		}
	}
	return s.changed
}

// notifyLocked wakes the followers waiting on Changed.
func (s *Store) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Appended counts the points accepted since Open (see Backlog).
func (s *Store) Appended() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appended
}

// ReadAfter calls fn with up to max accepted messages after the position
// after, in the order they were accepted, skipping those that retention or
// Clear has removed since. e and its Fields are valid only until fn
// returns. It returns how many it visited; 0 means the follower has caught
// up.
func (s *Store) ReadAfter(after Pos, max int, fn func(e *Entry) error) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	gen := s.gen
	s.mu.Unlock()

	var (
		e    Entry
		rows []row
		n    int
		err  error
	)
	rerr := s.j.Replay(after, func(p journal.Pos, rec []byte) error {
		if p.Compare(after) <= 0 && after != (Pos{}) {
			return nil
		}
		var ts int64
		ts, rows, err = decodeRecord(rec, rows)
		if err != nil {
			return fmt.Errorf("journal record at %s: %w", p, err)
		}
		s.mu.Lock()
		if s.gen != gen {
			s.mu.Unlock()
			return errStop // cleared under us: what was read is gone
		}
		skip := ts < s.cutoff || s.clearedLocked(ts)
		e.Pos, e.Time, e.Fields = p, ts, e.Fields[:0]
		for i, r := range rows {
			sr := s.series[r.sid]
			if sr == nil {
				s.mu.Unlock()
				return fmt.Errorf("journal record at %s names series %d, missing from the series log", p, r.sid)
			}
			if i == 0 {
				e.Device, e.Topic = sr.key.device, sr.key.topic
			}
			e.Fields = append(e.Fields, payload.Field{Name: sr.key.field, Value: r.val})
		}
		s.mu.Unlock()
		if skip {
			return nil
		}
		if err := fn(&e); err != nil {
			return err
		}
		n++
		if n >= max {
			return errStop
		}
		return nil
	})
	if errors.Is(rerr, errStop) {
		rerr = nil
	}
	if rerr != nil {
		return n, fmt.Errorf("store: read %s: %w", s.cfg.Dir, rerr)
	}
	return n, nil
}

// Backlog counts the points accepted after the position after, and returns
// with it the value of Appended at the same instant: a follower's lag is
// then points + (Appended() - appended) - what it has read since.
func (s *Store) Backlog(after Pos) (points, appended int64, err error) {
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return 0, 0, err
	}
	last, appended, gen := s.lastPos, s.appended, s.gen
	s.mu.Unlock()
	if last.Compare(after) <= 0 {
		return 0, appended, nil
	}
	var rows []row
	rerr := s.j.Replay(after, func(p journal.Pos, rec []byte) error {
		if p.Compare(last) > 0 {
			return errStop
		}
		if p.Compare(after) <= 0 && after != (Pos{}) {
			return nil
		}
		var err error
		if _, rows, err = decodeRecord(rec, rows); err != nil {
			return fmt.Errorf("journal record at %s: %w", p, err)
		}
		points += int64(len(rows))
		return nil
	})
	if errors.Is(rerr, errStop) {
		rerr = nil
	}
	if rerr != nil {
		return 0, 0, fmt.Errorf("store: backlog %s: %w", s.cfg.Dir, rerr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return 0, s.appended, nil
	}
	return points, appended, nil
}
