package journal

import (
	"fmt"
	"os"
	"time"
)

// run is the committer: the one goroutine that writes and fsyncs segment
// files. Each round it takes the whole pending buffer (appenders then fill
// the spare one), writes it with one write per segment touched, and fsyncs
// when SyncInterval allows, releasing every caller waiting on the records
// written so far.
func (j *Journal) run() {
	defer j.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		j.mu.Lock()
		batch, c, seq := j.takeLocked()
		closing, force, failed := j.closing, j.force, j.err != nil
		j.force = false
		j.mu.Unlock()

		if failed {
			if closing {
				return
			}
			<-j.wake
			continue
		}
		if batch != nil {
			rolled, err := j.writeBatch(batch)
			j.mu.Lock()
			j.recycleLocked(batch)
			if err == nil {
				j.stats.Written = seq
				j.stats.Writes++
			}
			j.written.Broadcast()
			j.mu.Unlock()
			if err != nil {
				j.fail(err, c)
				continue
			}
			j.awaiting = append(j.awaiting, c)
			// The old segment was fsynced by the roll: finish the batch now
			// rather than keep its callers waiting for the interval.
			force = force || rolled
		}
		if len(j.awaiting) > 0 {
			wait := time.Duration(0)
			if j.interval > 0 && !force && !closing {
				wait = j.interval - time.Since(j.synced)
			}
			if wait <= 0 {
				if err := j.syncFile(); err != nil {
					j.fail(err, nil)
					continue
				}
			} else {
				timer.Reset(wait)
			}
		}
		if closing {
			if batch == nil && len(j.awaiting) == 0 {
				return
			}
			continue
		}
		select {
		case <-j.wake:
		case <-timer.C:
		}
	}
}

// takeLocked swaps the pending buffer for the spare one and returns the
// taken chunks, the commit covering them and the sequence number of their
// last record, or a nil batch when nothing is pending.
func (j *Journal) takeLocked() ([]chunk, *commit, uint64) {
	if len(j.pending) == 0 {
		return nil, nil, 0
	}
	batch, c := j.pending, j.open
	j.pending, j.spare = j.spare[:0], nil
	j.pendingBytes = 0
	j.open = newCommit()
	j.lastTaken = c
	j.takenSeq = j.seq
	j.space.Broadcast()
	return batch, c, j.seq
}

// recycleLocked keeps a written batch's buffers for reuse, dropping
// large ones so that one burst does not pin megabytes for good.
func (j *Journal) recycleLocked(batch []chunk) {
	for i := range batch {
		if cap(batch[i].buf) > keepBuffer {
			batch[i].buf = nil
		}
	}
	j.spare = batch[:0]
}

// writeBatch writes the chunks in order, switching files at segment
// boundaries. It reports whether it switched.
func (j *Journal) writeBatch(batch []chunk) (rolled bool, err error) {
	for _, ch := range batch {
		if ch.seg != j.fseg {
			if err := j.switchTo(ch.seg); err != nil {
				return rolled, err
			}
			rolled = true
		}
		if len(ch.buf) == 0 {
			continue
		}
		if _, err := j.f.Write(ch.buf); err != nil {
			return rolled, fmt.Errorf("journal: write %s: %w", j.f.Name(), err)
		}
		j.dirty = true
	}
	return rolled, nil
}

// switchTo finishes the open segment (fsync, close) and creates segment seg.
// The old segment is durable before the new file exists, so only the last
// segment can ever have a torn tail.
func (j *Journal) switchTo(seg uint64) error {
	if j.dirty {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("journal: fsync %s: %w", j.f.Name(), err)
		}
		j.dirty = false
		j.mu.Lock()
		j.stats.Syncs++
		j.mu.Unlock()
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("journal: close %s: %w", j.f.Name(), err)
	}
	j.f = nil
	path := segmentPath(j.dir, seg)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: create segment: %w", err)
	}
	j.f, j.fseg = f, seg
	if err := syncDir(j.dir); err != nil {
		return err
	}
	j.mu.Lock()
	j.fileSeg = seg
	j.mu.Unlock()
	return nil
}

// syncFile fsyncs the open segment if it has unsynced writes and releases
// every waiting commit: every record written so far is durable (earlier
// segments were fsynced when the committer left them).
func (j *Journal) syncFile() error {
	if j.dirty {
		start := time.Now()
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("journal: fsync %s: %w", j.f.Name(), err)
		}
		j.dirty = false
		j.synced = start
		now := j.now()
		j.mu.Lock()
		j.stats.Syncs++
		j.stats.LastSync = now
		j.mu.Unlock()
	}
	j.mu.Lock()
	j.stats.Synced = j.stats.Written
	j.mu.Unlock()
	for _, c := range j.awaiting {
		close(c.done)
	}
	clear(j.awaiting)
	j.awaiting = j.awaiting[:0]
	return nil
}

// fail makes err sticky and releases every waiting caller with it: the
// awaiting commits, the commit of the batch that failed (c, may be nil) and
// the one covering records not yet taken.
func (j *Journal) fail(err error, c *commit) {
	j.log.Error("journal: write failed; no more records are accepted", "dir", j.dir, "err", err)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err = err
	waiting := append(j.awaiting, j.open)
	if c != nil {
		waiting = append(waiting, c)
	}
	for _, w := range waiting {
		w.err = err
		close(w.done)
	}
	j.awaiting = nil
	j.open = newCommit()
	j.open.err = err
	close(j.open.done)
	j.pending = nil
	j.pendingBytes = 0
	j.space.Broadcast()
	j.written.Broadcast()
}
