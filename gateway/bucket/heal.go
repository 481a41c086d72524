package bucket

import (
	"syscall"
	"time"
)

// Defaults for healing failed stores.
const (
	DefaultHealInterval = 30 * time.Second
	DefaultHealMinFree  = 16 << 20
)

// healLoop reopens, every HealInterval, the stores that failed (a full
// disk, typically) once their disk has room again, so that a gateway
// whose SD card filled up recovers without a restart.
func (m *Manager) healLoop() {
	defer close(m.healDone)
	t := time.NewTicker(m.cfg.HealInterval)
	defer t.Stop()
	for {
		select {
		case <-m.healStop:
			return
		case <-t.C:
			m.heal()
		}
	}
}

// heal reopens each failed store whose disk has room again.
func (m *Manager) heal() {
	m.mu.RLock()
	var failed []*entry
	for _, e := range m.buckets {
		if e.st.Stats().Error != "" {
			failed = append(failed, e)
		}
	}
	m.mu.RUnlock()
	for _, e := range failed {
		dir := e.st.Dir()
		if free, err := freeBytes(dir); err != nil || free < m.cfg.HealMinFree {
			continue
		}
		m.mu.Lock()
		if m.closed || m.buckets[e.b.ID] != e {
			m.mu.Unlock()
			continue
		}
		m.log.Info("bucket: its disk has room again; reopening the failed store", "bucket", e.b.ID, "was", e.st.Stats().Error)
		// Close reports the failure again; what matters is that it lets go
		// of the files. Opening recovers from the journal.
		_ = e.st.Close()
		ne, err := m.open(e.b)
		if err != nil {
			// The failed (now closed) store stays in place, visible, and
			// is tried again next time.
			m.log.Warn("bucket: reopening failed; trying again later", "bucket", e.b.ID, "err", err)
			m.mu.Unlock()
			continue
		}
		ne.rejected.Store(e.rejected.Load())
		ne.lastRej.Store(e.lastRej.Load())
		ne.dropped.Store(e.dropped.Load())
		m.buckets[e.b.ID] = ne
		m.reroute()
		m.mu.Unlock()
		m.log.Info("bucket: recovered", "bucket", e.b.ID)
	}
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
