// Package db is the gateway's embedded, crash-safe store for small records
// (devices, tokens, settings): a bbolt file whose every committed transaction
// is fsynced, holding JSON values in named buckets.
package db

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	// ErrNotFound is returned when a key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLocked is returned when another process holds the database open.
	ErrLocked = errors.New("database is in use by another process")
	// ErrCorrupt is returned when the database file cannot be read as a bbolt database.
	ErrCorrupt = errors.New("database is corrupt")
)

// DB is an open database. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens or creates the database file at path (mode 0600). It fails
// fast, instead of waiting, when another process has the file open.
func Open(path string) (db *DB, err error) {
	// bbolt panics on some kinds of corruption while reading the meta
	// pages; turn that into an error that names the file.
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("db: open %s: %w: %v", path, ErrCorrupt, r)
		}
	}()
	if err := checkSize(path); err != nil {
		return nil, err
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("db: open %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return nil, fmt.Errorf("db: open %s: %w: %v", path, ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	d := &DB{bolt: b, path: path}
	// A cheap consistency walk catches a truncated or overwritten file at
	// start instead of at the first write.
	if err := d.check(); err != nil {
		b.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) check() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("db: check %s: %w: %v", d.path, ErrCorrupt, r)
		}
	}()
	return d.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error { return nil })
		})
	})
}

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// Close closes the database. It is safe to call more than once.
func (d *DB) Close() error {
	if err := d.bolt.Close(); err != nil {
		return fmt.Errorf("db: close %s: %w", d.path, err)
	}
	return nil
}

// Tx is a read-write or read-only transaction over JSON values.
type Tx struct{ tx *bolt.Tx }

// Get decodes the value at bucket/key into v, or returns ErrNotFound.
func (t Tx) Get(bucket, key string, v any) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return ErrNotFound
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("db: decode %s/%s: %w: %v", bucket, key, ErrCorrupt, err)
	}
	return nil
}

// Put encodes v as JSON and stores it at bucket/key.
func (t Tx) Put(bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("db: encode %s/%s: %w", bucket, key, err)
	}
	b, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("db: bucket %s: %w", bucket, err)
	}
	if err := b.Put([]byte(key), raw); err != nil {
		return fmt.Errorf("db: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes bucket/key; it returns ErrNotFound when it did not exist.
func (t Tx) Delete(bucket, key string) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil || b.Get([]byte(key)) == nil {
		return ErrNotFound
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("db: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// ForEach calls fn with every key and raw JSON value of bucket, in key order.
func (t Tx) ForEach(bucket string, fn func(key string, raw []byte) error) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(Tx) error) error {
	return d.bolt.View(func(tx *bolt.Tx) error { return fn(Tx{tx}) })
}

// Update runs fn in a read-write transaction, committed and fsynced when fn
// returns nil, rolled back otherwise.
func (d *DB) Update(fn func(Tx) error) error {
	return d.bolt.Update(func(tx *bolt.Tx) error { return fn(Tx{tx}) })
}

// Batch is like Update but may coalesce concurrent calls into one commit
// (one fsync), for bursts such as many devices disconnecting at once. fn may
// run more than once and must be idempotent.
func (d *DB) Batch(fn func(Tx) error) error {
	return d.bolt.Batch(func(tx *bolt.Tx) error { return fn(Tx{tx}) })
}

// Exists reports whether the file at path exists, for callers that need to
// know whether a store is new.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// bbolt's on-disk meta page, as far as checkSize needs it: a 16-byte page
// header, then magic, version, page size, flags, root bucket (16 bytes),
// freelist page id, the high-water page id, the txid and a checksum of the
// meta fields before it (FNV-64a).
const (
	boltMagic    = 0xED0CDAED
	metaOffset   = 16
	metaPageSize = metaOffset + 8
	metaPgid     = metaOffset + 40
	metaTxid     = metaOffset + 48
	metaChecksum = metaOffset + 56
	metaLen      = metaChecksum + 8
	minPageSize  = 512
	maxPageSize  = 1 << 16
)

// checkSize refuses a database file shorter than its own meta page says.
// bbolt maps the file and reads pages past a truncated end, which is a
// SIGBUS (a crash no recover can catch), e.g. after a power cut on an SD
// card that lost the file's tail.
func checkSize(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil // a new database
	}
	if err != nil {
		return fmt.Errorf("db: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("db: stat %s: %w", path, err)
	}
	if st.Size() == 0 {
		return nil // bbolt initialises an empty file
	}
	var best struct {
		ok         bool
		txid, need uint64
	}
	// The first meta page is at 0; the second one page size later.
	buf := make([]byte, metaLen)
	offset := int64(0)
	for i := 0; i < 2; i++ {
		if _, err := f.ReadAt(buf, offset); err != nil && err != io.EOF {
			return fmt.Errorf("db: read %s: %w", path, err)
		} else if err == io.EOF {
			break
		}
		le := binary.LittleEndian
		pageSize := le.Uint32(buf[metaPageSize:])
		h := fnv.New64a()
		h.Write(buf[metaOffset:metaChecksum])
		if le.Uint32(buf[metaOffset:]) == boltMagic && h.Sum64() == le.Uint64(buf[metaChecksum:]) &&
			pageSize >= minPageSize && pageSize <= maxPageSize {
			if txid := le.Uint64(buf[metaTxid:]); !best.ok || txid > best.txid {
				best.ok, best.txid, best.need = true, txid, le.Uint64(buf[metaPgid:])*uint64(pageSize)
			}
			offset = int64(pageSize)
		} else if i == 0 {
			offset = int64(os.Getpagesize())
		}
	}
	if !best.ok {
		return fmt.Errorf("db: open %s: %w: no valid meta page", path, ErrCorrupt)
	}
	if uint64(st.Size()) < best.need {
		return fmt.Errorf("db: open %s: %w: truncated to %d bytes, its last commit needs %d", path, ErrCorrupt, st.Size(), best.need)
	}
	return nil
}
