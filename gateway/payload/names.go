package payload

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest field name, in bytes, after flattening.
const MaxNameLen = 128

// checkName returns "" when b is a valid name or a part of one between
// dots (a key), else what is wrong with it: see the name rule in the
// package doc. It does not check the length.
func checkName(b []byte) string {
	if len(b) == 0 {
		return "empty name"
	}
	if b[0] == '.' {
		return "name starts with '.'"
	}
	if b[len(b)-1] == '.' {
		return "name ends with '.'"
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '.' && b[i+1] == '.': // b does not end with '.'
			return "empty part between dots"
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("control character %U", rune(c))
		case c < utf8.RuneSelf:
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError:
			return "not UTF-8 (or U+FFFD)"
		case !unicode.IsPrint(r):
			return fmt.Sprintf("character %U is not printable", r)
		}
		i += n
	}
	return ""
}

// validName is checkName for a whole name, with the length.
func validName(s string) string {
	if len(s) > MaxNameLen {
		return fmt.Sprintf("longer than %d bytes", MaxNameLen)
	}
	return checkName([]byte(s))
}

// nameSet is a set of byte strings, each within a scope (an object's
// number, or -1 for whole field names), for finding duplicates without
// allocating once it has grown: open addressing with linear probing over a
// seeded hash, so crafted keys cannot make it quadratic.
type nameSet struct {
	seed    maphash.Seed
	slots   []int32 // 1 + an index into entries, 0 when free; len is a power of two
	entries []setEntry
	buf     []byte // the entries' bytes
}

type setEntry struct {
	hash     uint64
	scope    int32
	off, end int32 // in buf
}

const (
	minSlots  = 64
	keepSlots = 1 << 12 // a set grown beyond this by a big payload is dropped by reset
	keepBytes = 1 << 16
)

func newNameSet() nameSet {
	return nameSet{seed: maphash.MakeSeed()}
}

// reset empties the set, and lets go of memory a large payload made it
// grow.
func (s *nameSet) reset() {
	if len(s.slots) > keepSlots || cap(s.buf) > keepBytes {
		s.slots, s.entries, s.buf = nil, nil, nil
		return
	}
	if len(s.entries) > 0 {
		clear(s.slots)
	}
	s.entries, s.buf = s.entries[:0], s.buf[:0]
}

// add adds b in scope, and reports false if it was there already.
func (s *nameSet) add(scope int32, b []byte) bool {
	if 2*(len(s.entries)+1) > len(s.slots) {
		s.grow()
	}
	h := maphash.Bytes(s.seed, b) ^ uint64(uint32(scope))*0x9e3779b97f4a7c15
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		j := s.slots[i]
		if j == 0 {
			s.entries = append(s.entries, setEntry{hash: h, scope: scope, off: int32(len(s.buf)), end: int32(len(s.buf) + len(b))})
			s.buf = append(s.buf, b...)
			s.slots[i] = int32(len(s.entries))
			return true
		}
		e := &s.entries[j-1]
		if e.hash == h && e.scope == scope && bytes.Equal(s.buf[e.off:e.end], b) {
			return false
		}
	}
}

func (s *nameSet) grow() {
	n := max(minSlots, 2*len(s.slots))
	if s.entries == nil {
		s.entries, s.buf = make([]setEntry, 0, n/2), make([]byte, 0, 4*n)
	}
	s.slots = make([]int32, n)
	mask := uint64(n - 1)
	for k, e := range s.entries {
		i := e.hash & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = int32(k + 1)
	}
}
