package filters

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// Watch polls the list files every interval and reloads the lists when one
// changes (size, modification time, then content hash). A failed reload is
// logged and the previous lists stay in force; the same broken content is
// not reported again. Watch returns nil when ctx ends.
func (f *Filter) Watch(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("word filter: watch interval %v: must be positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var failed map[string]fileStamp // stamps of the last failed attempt
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		l := f.cur.Load()
		if len(l.opts.Files) == 0 {
			continue
		}
		now, changed := f.changedFiles(l)
		if !changed || sameStamps(now, failed) {
			continue
		}
		if err := f.reloadFrom(l); err != nil {
			failed = now
			l.log.Warn("word filter: list reload failed; keeping the previous lists", "err", err)
			continue
		}
		failed = nil
		f.cur.Load().log.Info("word filter: lists reloaded", "files", len(l.opts.Files))
	}
}

// changedFiles stats (and, when size or time moved, hashes) the list files
// of l and reports whether any differs from what l was built from.
func (f *Filter) changedFiles(l *lists) (map[string]fileStamp, bool) {
	now := make(map[string]fileStamp, len(l.opts.Files))
	changed := false
	for _, path := range l.opts.Files {
		old := l.files[path]
		st, err := os.Stat(path)
		if err != nil {
			// A missing file is a change: Reload reports it and keeps the old list.
			now[path] = fileStamp{size: -1}
			changed = true
			continue
		}
		s := fileStamp{size: st.Size(), mod: st.ModTime().UnixNano()}
		if s.size == old.size && s.mod == old.mod {
			s.sum = old.sum
			now[path] = s
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			now[path] = fileStamp{size: -1}
			changed = true
			continue
		}
		s.sum = sha256.Sum256(data)
		now[path] = s
		if s.sum != old.sum {
			changed = true
		}
	}
	return now, changed
}

func sameStamps(a, b map[string]fileStamp) bool {
	if a == nil || b == nil || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// reloadFrom recompiles l's options unless another Reload replaced l in
// the meantime (its newer options must not be overwritten by old ones).
func (f *Filter) reloadFrom(l *lists) error {
	f.reload.Lock()
	defer f.reload.Unlock()
	if f.cur.Load() != l {
		return nil
	}
	nl, err := compile(l.opts)
	if err != nil {
		return err
	}
	f.cur.Store(nl)
	return nil
}
