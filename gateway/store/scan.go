package store

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/nakabonne/tstorage"

	"github.com/perch-gw/perch/gateway/query"
)

// Query selects points for Scan.
type Query struct {
	From, To int64    // ms, inclusive
	Fields   []string // the value columns, in this order; nil = every field, sorted
	Device   string   // "" = any
	Topic    string   // "" = any
	Agg      query.Agg
	Every    int64 // ms; with Agg, 0 = one aggregate over the range
	Limit    int   // records; 0 = no limit
	Desc     bool
}

// Record is one row of a result: a time (the interval start, when
// aggregated), a device and a value per column, NaN where it has none.
type Record struct {
	Time   int64
	Device string
	Values []float64
}

// Scan streams the records that q selects, in time order (then device):
// one per timestamp and device, with a column per field. It calls begin
// once with the columns, then emit for each record (rec is reused: copy
// what you keep). Memory stays bounded by one partition's worth of points per
// series, whatever the range.
func (s *Store) Scan(q Query, begin func(fields []string) error, emit func(rec *Record) error) error {
	if q.From > q.To {
		return errors.New("store: scan: from is after to")
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	cols, curs := s.selectSeriesLocked(q)
	windows := s.windowsLocked(q.From, q.To)
	s.mu.Unlock()
	if err := begin(cols); err != nil {
		return err
	}
	if len(windows) == 0 || len(curs) == 0 {
		return nil
	}
	if q.Desc {
		slices.Reverse(windows)
	}
	h := &cursorHeap{desc: q.Desc}
	for _, c := range curs {
		c.s, c.windows, c.desc, c.agg, c.every = s, windows, q.Desc, q.Agg, q.Every
		ok, err := c.advance()
		if err != nil {
			return err
		}
		if ok {
			h.items = append(h.items, c)
		}
	}
	h.init()
	rec := &Record{Values: make([]float64, len(cols))}
	n := 0
	for len(h.items) > 0 {
		top := h.items[0]
		rec.Time, rec.Device = top.ts, top.dev
		for i := range rec.Values {
			rec.Values[i] = math.NaN()
		}
		for len(h.items) > 0 && h.items[0].ts == rec.Time && h.items[0].dev == rec.Device {
			c := h.items[0]
			rec.Values[c.col] = c.val
			ok, err := c.advance()
			if err != nil {
				return err
			}
			if ok {
				h.fix(0)
			} else {
				h.pop()
			}
		}
		if err := emit(rec); err != nil {
			return err
		}
		n++
		if q.Limit > 0 && n >= q.Limit {
			return nil
		}
	}
	return nil
}

// selectSeriesLocked returns the value columns and a cursor per matching
// series.
func (s *Store) selectSeriesLocked(q Query) ([]string, []*cursor) {
	colOf := map[string]int{}
	var cols []string
	if q.Fields != nil {
		for _, f := range q.Fields {
			if _, ok := colOf[f]; !ok {
				colOf[f] = len(cols)
				cols = append(cols, f)
			}
		}
	} else {
		for _, sr := range s.series {
			if sr != nil && s.seriesMatches(sr, q) {
				colOf[sr.key.field] = 0
			}
		}
		for f := range colOf {
			cols = append(cols, f)
		}
		slices.Sort(cols)
		for i, f := range cols {
			colOf[f] = i
		}
	}
	var curs []*cursor
	for id, sr := range s.series {
		if sr == nil || !s.seriesMatches(sr, q) {
			continue
		}
		col, ok := colOf[sr.key.field]
		if !ok {
			continue
		}
		curs = append(curs, &cursor{sid: uint32(id), sr: sr, dev: sr.key.device, col: col})
	}
	return cols, curs
}

func (s *Store) seriesMatches(sr *series, q Query) bool {
	return (q.Device == "" || sr.key.device == q.Device) && (q.Topic == "" || sr.key.topic == q.Topic)
}

// windowsLocked splits [from, to] at partition boundaries, leaving out what
// retention and Clear hide. A query reads the engine one window at a time,
// so it holds one partition's points per series at most, and it never asks
// the engine for a hidden range (whose partition files may be truncated).
func (s *Store) windowsLocked(from, to int64) []span {
	from = max(from, s.cutoff)
	if from > to {
		return nil
	}
	var bounds []int64
	for _, p := range s.man.Partitions {
		bounds = append(bounds, p.Min)
	}
	for _, p := range s.memParts() {
		if !p.empty {
			bounds = append(bounds, p.minT)
		}
	}
	slices.Sort(bounds)
	var ws []span
	start := from
	for _, b := range bounds {
		if b > start && b <= to {
			ws = append(ws, span{start, b - 1})
			start = b
		}
	}
	ws = append(ws, span{start, to})
	for _, t := range s.man.Tombstones {
		var out []span
		for _, w := range ws {
			if t.To < w.From || t.From > w.To {
				out = append(out, w)
				continue
			}
			if w.From < t.From {
				out = append(out, span{w.From, t.From - 1})
			}
			if w.To > t.To {
				out = append(out, span{t.To + 1, w.To})
			}
		}
		ws = out
	}
	return ws
}

// cursor walks one series through the windows, aggregating when asked.
type cursor struct {
	s       *Store
	sid     uint32
	sr      *series
	dev     string
	col     int
	windows []span
	desc    bool
	agg     query.Agg
	every   int64

	pts []point // the current window's points, in scan order
	i   int

	// the current output
	ts  int64
	val float64

	acc     query.Acc
	accKey  int64
	pending bool // acc holds points not yet output
}

type point struct {
	ts  int64
	val float64
}

// advance moves to the next output; false at the end.
func (c *cursor) advance() (bool, error) {
	if c.agg == "" {
		p, ok, err := c.raw()
		c.ts, c.val = p.ts, p.val
		return ok, err
	}
	for {
		p, ok, err := c.raw()
		if err != nil {
			return false, err
		}
		if !ok {
			if !c.pending {
				return false, nil
			}
			c.pending = false
			c.ts, c.val = c.accKey, c.acc.Result(c.agg)
			return true, nil
		}
		key := c.accKey
		if c.every > 0 {
			key = query.IntervalStart(p.ts, c.every)
		} else if !c.pending || p.ts < key {
			key = p.ts // one aggregate: stamped with its earliest point
		}
		if c.pending && c.every > 0 && key != c.accKey {
			c.ts, c.val = c.accKey, c.acc.Result(c.agg)
			c.acc.Reset()
			c.acc.Add(p.ts, p.val)
			c.accKey = key
			return true, nil
		}
		c.acc.Add(p.ts, p.val)
		c.accKey = key
		c.pending = true
	}
}

// raw returns the next point of the series, in scan order.
func (c *cursor) raw() (point, bool, error) {
	for c.i >= len(c.pts) {
		if len(c.windows) == 0 {
			return point{}, false, nil
		}
		w := c.windows[0]
		c.windows = c.windows[1:]
		if err := c.load(w); err != nil {
			return point{}, false, err
		}
	}
	p := c.pts[c.i]
	c.i++
	return p, true, nil
}

// load reads window w of the series: the engine's points and the ones only
// memory has (queued, held back, or stored out of order and invisible).
func (c *cursor) load(w span) error {
	s := c.s
	s.ins.RLock()
	defer s.ins.RUnlock()
	c.pts, c.i = c.pts[:0], 0
	eng := s.eng
	if eng == nil {
		return ErrClosed
	}
	end := w.To
	if end < math.MaxInt64 {
		end++
	}
	got, err := eng.Select(c.sr.metric, nil, w.From, end)
	if err != nil && !errors.Is(err, tstorage.ErrNoDataPoints) {
		return fmt.Errorf("store: select: %w", err)
	}
	for _, p := range got {
		c.pts = append(c.pts, point{p.Timestamp, p.Value})
	}
	nEng := len(c.pts)
	s.mu.Lock()
	add := func(rs []row) {
		for _, r := range rs {
			if r.sid == c.sid && r.ts >= w.From && r.ts <= w.To {
				c.pts = append(c.pts, point{r.ts, r.val})
			}
		}
	}
	add(s.pending)
	add(s.held)
	for _, p := range s.memParts() {
		add(p.overlay)
	}
	s.mu.Unlock()
	if len(c.pts) > nEng {
		slices.SortStableFunc(c.pts, func(a, b point) int { return cmp.Compare(a.ts, b.ts) })
	}
	if c.desc {
		slices.Reverse(c.pts)
	}
	return nil
}

// cursorHeap orders cursors by (time, device), time descending when desc.
type cursorHeap struct {
	items []*cursor
	desc  bool
}

func (h *cursorHeap) less(a, b *cursor) bool {
	if a.ts != b.ts {
		return (a.ts < b.ts) != h.desc
	}
	return a.dev < b.dev
}

func (h *cursorHeap) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *cursorHeap) fix(i int) { h.down(i) }

func (h *cursorHeap) pop() {
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items = h.items[:n]
	if n > 0 {
		h.down(0)
	}
}

func (h *cursorHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			m = r
		}
		if !h.less(h.items[m], h.items[i]) {
			return
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
