package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// manifest is the store's durable state besides the journal: which engine
// partitions are known complete and fsynced, up to when, and what has been
// cleared. It is replaced atomically (write, fsync, rename, fsync dir).
type manifest struct {
	// Flushed: every accepted point at or before it is in Partitions (or
	// was cleared). Replay skips journal records at or before it.
	Flushed    int64      `json:"flushed"`
	Partitions []partInfo `json:"partitions"`
	Tombstones []span     `json:"tombstones,omitempty"`
	Points     int64      `json:"points"` // in Partitions
}

type partInfo struct {
	Name     string `json:"name"`
	Min      int64  `json:"min"`
	First    int64  `json:"first"` // the oldest point (Min may be an anchor's)
	Max      int64  `json:"max"`
	Points   int64  `json:"points"`
	DataSize int64  `json:"data_size"`
}

const manifestName = "manifest.json"

func loadManifest(dir string) (manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return manifest{Flushed: -1}, nil
	}
	if err != nil {
		return manifest{}, fmt.Errorf("store: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest{}, fmt.Errorf("store: %s: %w", filepath.Join(dir, manifestName), err)
	}
	return m, nil
}

func (m *manifest) save(dir string) error {
	// Compact: it is rewritten at every flush, and SD cards wear by the byte.
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, manifestName+".tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("store: manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, manifestName)); err != nil {
		return fmt.Errorf("store: manifest: %w", err)
	}
	return syncDir(dir)
}

func (m *manifest) has(name string) bool {
	return slices.ContainsFunc(m.Partitions, func(p partInfo) bool { return p.Name == name })
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	if err := syncPath(dir); err != nil {
		return fmt.Errorf("store: fsync %s: %w", dir, err)
	}
	return nil
}

// partitionName is the directory the engine flushes a partition to.
func partitionName(minT, maxT int64) string { return fmt.Sprintf("p-%d-%d", minT, maxT) }

func parsePartitionName(name string) (minT, maxT int64, ok bool) {
	rest, found := strings.CutPrefix(name, "p-")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	minT, err1 := strconv.ParseInt(a, 10, 64)
	maxT, err2 := strconv.ParseInt(b, 10, 64)
	return minT, maxT, err1 == nil && err2 == nil
}

// dropPartition frees a flushed partition's disk space. The engine keeps the
// data file memory-mapped for the rest of the process, so removing it would
// free nothing: it is truncated first. Queries never reach the partition
// again (its range is hidden), so the mapping is never read past the end.
func dropPartition(dir string) error {
	data := filepath.Join(dir, "data")
	if err := os.Truncate(data, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: truncate %s: %w", data, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("store: remove %s: %w", dir, err)
	}
	return nil
}
