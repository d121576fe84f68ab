package limits

import (
	"sync"
	"time"
)

// DefaultMaxKeys bounds a Keyed limiter's memory when Options.MaxKeys is 0.
const DefaultMaxKeys = 50_000

// Keyed is a set of GCRA limiters, one per key, sharing a default limit
// with per-key overrides. Keys whose limiter has fully recovered are
// forgotten (a new limiter behaves identically), so memory is bounded by
// the keys active within one burst period, and by maxKeys in any case.
// It is safe for concurrent use; lookups of known keys do not allocate.
type Keyed[K comparable] struct {
	mu        sync.Mutex
	def       Limit
	overrides map[K]Limit
	entries   map[K]*GCRA
	maxKeys   int
	sweepAt   int // sweep idle entries when len(entries) reaches this
}

// NewKeyed returns a keyed limiter. maxKeys ≤ 0 means DefaultMaxKeys.
func NewKeyed[K comparable](def Limit, overrides map[K]Limit, maxKeys int) *Keyed[K] {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	k := &Keyed[K]{entries: make(map[K]*GCRA), maxKeys: maxKeys}
	k.setLimits(def, overrides)
	return k
}

// SetLimits swaps the default and the overrides at now; keys keep what
// they have consumed (see GCRA.SetLimit).
func (k *Keyed[K]) SetLimits(def Limit, overrides map[K]Limit, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.setLimits(def, overrides)
	for key, g := range k.entries {
		g.SetLimit(k.limit(key), now)
	}
}

func (k *Keyed[K]) setLimits(def Limit, overrides map[K]Limit) {
	k.def = def
	k.overrides = make(map[K]Limit, len(overrides))
	for key, l := range overrides {
		k.overrides[key] = l
	}
	k.sweepAt = min(64, k.maxKeys)
}

// Limit returns the limit that applies to key.
func (k *Keyed[K]) Limit(key K) Limit {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.limit(key)
}

func (k *Keyed[K]) limit(key K) Limit {
	if l, ok := k.overrides[key]; ok {
		return l
	}
	return k.def
}

// Allow admits a request for key at now if it conforms, or reports how
// long until one would.
func (k *Keyed[K]) Allow(key K, now time.Time) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	g := k.get(key, now)
	if g == nil {
		return true, 0
	}
	return g.Allow(now)
}

// Delay reports how long until a request for key would conform, without
// consuming anything.
func (k *Keyed[K]) Delay(key K, now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if g, ok := k.entries[key]; ok {
		return g.Delay(now)
	}
	return 0 // a new key has its full burst
}

// Reserve books key's next slot if it comes within maxWait (see
// GCRA.Reserve).
func (k *Keyed[K]) Reserve(key K, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	g := k.get(key, now)
	if g == nil {
		return 0, true
	}
	return g.Reserve(now, maxWait)
}

// Cancel returns key's most recently booked, unused slot.
func (k *Keyed[K]) Cancel(key K, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if g, ok := k.entries[key]; ok {
		g.Cancel(now)
	}
}

// Len returns the number of keys remembered.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.entries)
}

// get returns key's limiter, creating it; nil when the key is unlimited
// (nothing to remember).
func (k *Keyed[K]) get(key K, now time.Time) *GCRA {
	if g, ok := k.entries[key]; ok {
		return g
	}
	l := k.limit(key)
	if l.Unlimited() {
		return nil
	}
	if len(k.entries) >= k.sweepAt {
		k.sweep(now)
	}
	g := new(GCRA)
	*g = NewGCRA(l)
	k.entries[key] = g
	return g
}

// sweep forgets recovered limiters; if every key is still busy and the
// map is full, it forgets the one closest to recovery, which loosens that
// key's limit least. The next sweep is scheduled at twice the survivors,
// so sweeping costs O(1) amortised per new key.
func (k *Keyed[K]) sweep(now time.Time) {
	var (
		oldest    K
		oldestTAT int64
		found     bool
	)
	for key, g := range k.entries {
		if g.Idle(now) {
			delete(k.entries, key)
			continue
		}
		if !found || g.tat < oldestTAT {
			oldest, oldestTAT, found = key, g.tat, true
		}
	}
	if len(k.entries) >= k.maxKeys && found {
		delete(k.entries, oldest)
	}
	k.sweepAt = min(max(2*len(k.entries), 64), k.maxKeys)
}
