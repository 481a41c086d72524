package journal

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// segmentPath is the file of segment id: its number zero-padded to 20
// digits, so that a directory listing sorts like the numbers (Open does not
// rely on it).
func segmentPath(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.log", id))
}

// parseSegmentName returns the id in a segment file name: decimal digits
// (any padding) followed by ".log".
func parseSegmentName(name string) (uint64, bool) {
	stem, ok := strings.CutSuffix(name, ".log")
	if !ok || stem == "" || len(stem) > 20 {
		return 0, false
	}
	for _, c := range []byte(stem) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(stem, 10, 64)
	return id, err == nil
}

func putHeader(hdr []byte, rec []byte) {
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(rec, castagnoli))
}

// frameError is a record that fails its checks.
type frameError struct {
	off    int64
	reason string
}

func (e *frameError) Error() string { return fmt.Sprintf("offset %d: %s", e.off, e.reason) }

// reader reads the records of one segment file up to size bytes.
type reader struct {
	br   *bufio.Reader
	off  int64 // offset of the next record
	size int64
	buf  []byte
}

func newReader(f io.ReaderAt, size int64) *reader {
	return &reader{br: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 256<<10), size: size}
}

// newReaderAt reads from off, which must be the offset of a record.
func newReaderAt(f io.ReaderAt, off, size int64) *reader {
	return &reader{br: bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 256<<10), off: off, size: size}
}

// next returns the next record, valid until the following call; io.EOF at
// the end; a *frameError for a record that fails its checks, after which
// the reader must not be used; or an I/O error.
func (r *reader) next() ([]byte, error) {
	rest := r.size - r.off
	if rest == 0 {
		return nil, io.EOF
	}
	if rest < headerSize {
		return nil, &frameError{r.off, fmt.Sprintf("%d bytes left, too few for a record header", rest)}
	}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return nil, fmt.Errorf("offset %d: %w", r.off, noEOF(err))
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	switch {
	case n == 0:
		return nil, &frameError{r.off, "zero record length"}
	case n > MaxRecordSize:
		return nil, &frameError{r.off, fmt.Sprintf("record length %d is over the maximum %d", n, MaxRecordSize)}
	case n > rest-headerSize:
		return nil, &frameError{r.off, fmt.Sprintf("record length %d runs past the end of the segment (%d bytes left)", n, rest-headerSize)}
	}
	r.buf = slices.Grow(r.buf[:0], int(n))[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return nil, fmt.Errorf("offset %d: %w", r.off, noEOF(err))
	}
	if crc32.Checksum(r.buf, castagnoli) != sum {
		return nil, &frameError{r.off, "checksum mismatch"}
	}
	r.off += headerSize + n
	return r.buf, nil
}

// noEOF turns an end of file inside the size the reader was given (the file
// shrank under it) into an error that cannot pass for a clean end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// scanBudget bounds the payload bytes validRecordIn checksums: a tail
// crafted so that every offset looks like the header of a large record
// would otherwise take hours.
const scanBudget = 256 << 20

// validRecordIn looks for a valid record in tail that starts after its first
// byte and returns its offset. exhausted reports that it gave up, having
// checksummed scanBudget bytes, after checking offsets below off.
func validRecordIn(tail []byte) (off int, found, exhausted bool) {
	work := 0
	for i := 1; i+headerSize < len(tail); i++ {
		n32 := binary.LittleEndian.Uint32(tail[i:])
		if n32 == 0 || n32 > MaxRecordSize {
			continue
		}
		n := int(n32) // fits an int on 32-bit systems too
		if n > len(tail)-i-headerSize {
			continue
		}
		if work += n; work > scanBudget {
			return i, false, true
		}
		payload := tail[i+headerSize : i+headerSize+n]
		if crc32.Checksum(payload, castagnoli) == binary.LittleEndian.Uint32(tail[i+4:]) {
			return i, true, false
		}
	}
	return 0, false, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// recover loads the segments in j.dir, checking every record, truncates a
// torn tail of the last one and opens it for appending (or creates segment
// 1 in an empty directory).
func (j *Journal) recover() error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var segs []segMeta
	for _, e := range entries {
		id, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		path := filepath.Join(j.dir, e.Name())
		switch {
		case !e.Type().IsRegular():
			return fmt.Errorf("journal: %s is not a regular file: %w", path, ErrCorrupt)
		case id == 0:
			return fmt.Errorf("journal: %s: segment ids start at 1: %w", path, ErrCorrupt)
		}
		segs = append(segs, segMeta{id: id, path: path})
	}
	// Numeric order, whatever the padding: a lexical sort would put
	// 10.log before 9.log.
	slices.SortFunc(segs, func(a, b segMeta) int { return cmp.Compare(a.id, b.id) })
	for i := 1; i < len(segs); i++ {
		prev, s := segs[i-1], segs[i]
		switch {
		case s.id == prev.id:
			return fmt.Errorf("journal: %s and %s are both segment %d: %w", prev.path, s.path, s.id, ErrCorrupt)
		case s.id != prev.id+1:
			return fmt.Errorf("journal: segments %d to %d are missing between %s and %s: %w",
				prev.id+1, s.id-1, prev.path, s.path, ErrCorrupt)
		}
	}

	if len(segs) == 0 {
		s := segMeta{id: 1, path: segmentPath(j.dir, 1)}
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("journal: create segment: %w", err)
		}
		j.f = f
		if err := syncDir(j.dir); err != nil {
			return err
		}
		j.segs = []segMeta{s}
		j.fseg, j.fileSeg = s.id, s.id
		return nil
	}

	records := 0
	for i := range segs {
		if err := j.checkSegment(&segs[i], i == len(segs)-1); err != nil {
			return err
		}
		records += segs[i].records
	}
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f = f
	// What the previous process wrote may still be only in the page cache:
	// make it durable before anyone builds on it.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync %s: %w", last.path, err)
	}
	if err := syncDir(j.dir); err != nil {
		return err
	}
	j.segs = segs
	j.fseg, j.fileSeg = last.id, last.id
	j.log.Info("journal: opened", "dir", j.dir, "segments", len(segs),
		"first", segs[0].id, "last", last.id, "records", records)
	return nil
}

// checkSegment reads every record of s, filling in its size, count and
// positions. A defect in the last segment followed by nothing that parses as
// a record is a torn write: the file is truncated there. Any other defect is
// ErrCorrupt.
func (j *Journal) checkSegment(s *segMeta, last bool) error {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR // to truncate a torn tail
	}
	f, err := os.OpenFile(s.path, flag, 0)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	size := fi.Size()
	r := newReader(f, size)
	for {
		off := r.off
		_, err := r.next()
		if err == io.EOF {
			s.size = size
			return nil
		}
		var fe *frameError
		if errors.As(err, &fe) {
			if !last {
				return fmt.Errorf("journal: %s: %v (not the last segment): %w", s.path, fe, ErrCorrupt)
			}
			return j.truncateTail(f, s, fe, size)
		}
		if err != nil {
			return fmt.Errorf("journal: read %s: %w", s.path, err)
		}
		p := Pos{Segment: s.id, Offset: off}
		if s.records == 0 {
			s.first = p
		}
		s.last = p
		s.records++
	}
}

// truncateTail handles a defect at fe.off in the last segment: a torn
// write is cut off; a defect followed by a valid record is ErrCorrupt.
func (j *Journal) truncateTail(f *os.File, s *segMeta, fe *frameError, size int64) error {
	tail := make([]byte, size-fe.off)
	if _, err := f.ReadAt(tail, fe.off); err != nil {
		return fmt.Errorf("journal: read %s: %w", s.path, noEOF(err))
	}
	kind := "zeros"
	if !allZero(tail) {
		kind = "garbage"
		i, found, exhausted := validRecordIn(tail)
		switch {
		case found:
			return fmt.Errorf("journal: %s: %v, and a valid record follows at offset %d: %w",
				s.path, fe, fe.off+int64(i), ErrCorrupt)
		case exhausted:
			return fmt.Errorf("journal: %s: %v, followed by too many record-like headers to tell a torn write from corruption (checked up to offset %d of %d): %w",
				s.path, fe, fe.off+int64(i), size, ErrCorrupt)
		}
	}
	if err := f.Truncate(fe.off); err != nil {
		return fmt.Errorf("journal: truncate torn tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync %s: %w", s.path, err)
	}
	j.log.Warn("journal: truncated a torn tail left by a crash", "file", s.path,
		"offset", fe.off, "bytes", len(tail), "tail", kind, "defect", fe.reason)
	s.size = fe.off
	return nil
}

// Replay calls fn with each record at or after from (the zero Pos means from
// the start; otherwise from is a position Append or Replay gave), in order. It visits the records appended before it was called
// (waiting until they are written, not fsynced) and none appended later.
// rec is valid only until fn returns. Replay stops at, and returns, the
// first error from fn. A record that fails its checks is ErrCorrupt; a
// segment removed by a concurrent RemoveBefore is skipped.
func (j *Journal) Replay(from Pos, fn func(p Pos, rec []byte) error) error {
	j.mu.Lock()
	if err := j.usableLocked(); err != nil {
		j.mu.Unlock()
		return err
	}
	segs := slices.Clone(j.segs)
	target := j.seq
	for j.stats.Written < target && j.err == nil {
		j.written.Wait()
	}
	err := j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s.id < from.Segment || s.records == 0 {
			continue
		}
		if err := j.replaySegment(s, from, fn); err != nil {
			return err
		}
	}
	return nil
}

func (j *Journal) replaySegment(s segMeta, from Pos, fn func(Pos, []byte) error) error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		j.mu.Lock()
		removed := s.id < j.removedBefore
		j.mu.Unlock()
		if removed {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("journal: replay: %w", err)
	}
	defer f.Close()
	r := newReader(f, s.size)
	if s.id == from.Segment && from.Offset > 0 && from.Offset <= s.size {
		// Positions are record boundaries: start there instead of reading
		// the segment from its beginning (a reader that follows the
		// journal batch by batch would otherwise reread it every time).
		r = newReaderAt(f, from.Offset, s.size)
	}
	for {
		off := r.off
		rec, err := r.next()
		if err == io.EOF {
			return nil
		}
		var fe *frameError
		if errors.As(err, &fe) {
			return fmt.Errorf("journal: replay %s: %v: %w", s.path, fe, ErrCorrupt)
		}
		if err != nil {
			return fmt.Errorf("journal: replay %s: %w", s.path, err)
		}
		p := Pos{Segment: s.id, Offset: off}
		if p.Compare(from) < 0 {
			continue
		}
		if err := fn(p, rec); err != nil {
			return err
		}
	}
}

// makeDir creates dir (mode 0700) if it does not exist, and makes its entry
// in the parent durable.
func makeDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("journal: %s is not a directory", dir)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir fsyncs a directory so that the files created or removed in it
// stay so after a power cut. Filesystems that cannot fsync a directory
// (EINVAL) are tolerated.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("journal: fsync directory %s: %w", dir, err)
	}
	return nil
}
