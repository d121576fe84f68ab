package slack

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// seenSet remembers recent delivery IDs (envelope, event_id, channel/ts) so
// that retries are dropped before any work; the engine's persistent
// de-duplication stays the authority. Bounded by size and age.
type seenSet struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of seenEntry, oldest first
	items map[string]*list.Element
}

type seenEntry struct {
	id string
	at time.Time
}

func newSeenSet(max int, ttl time.Duration) *seenSet {
	return &seenSet{max: max, ttl: ttl, order: list.New(), items: make(map[string]*list.Element)}
}

// firstTime records id and reports whether it was not seen recently. An
// empty id is always new.
func (s *seenSet) firstTime(id string) bool {
	if id == "" {
		return true
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.order.Front(); e != nil; e = s.order.Front() {
		ent := e.Value.(seenEntry)
		if now.Sub(ent.at) < s.ttl && s.order.Len() <= s.max {
			break
		}
		s.order.Remove(e)
		delete(s.items, ent.id)
	}
	if _, ok := s.items[id]; ok {
		return false
	}
	s.items[id] = s.order.PushBack(seenEntry{id: id, at: now})
	return true
}

// userInfo is what Parley needs of a Slack user.
type userInfo struct {
	ID      string
	Name    string // display name, else real name, else handle
	IsAdmin bool   // workspace admin or owner
	IsBot   bool
}

// userCache is a bounded TTL cache in front of users.info: authors and
// mentions repeat, and users.info is Tier 4 but still rate limited.
type userCache struct {
	fetch func(ctx context.Context, id string) (userInfo, error)
	ttl   time.Duration
	max   int

	mu    sync.Mutex
	order *list.List // of *userEntry, least recently stored first
	items map[string]*list.Element
}

type userEntry struct {
	id      string // the key it is cached under (info.ID may differ)
	info    userInfo
	expires time.Time
}

func newUserCache(max int, ttl time.Duration, fetch func(context.Context, string) (userInfo, error)) *userCache {
	return &userCache{fetch: fetch, ttl: ttl, max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// cached returns id's entry if it is cached and fresh, without fetching.
func (c *userCache) cached(id string) (userInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		if ent := e.Value.(*userEntry); time.Now().Before(ent.expires) {
			return ent.info, true
		}
	}
	return userInfo{}, false
}

func (c *userCache) get(ctx context.Context, id string) (userInfo, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.items[id]; ok {
		ent := e.Value.(*userEntry)
		if now.Before(ent.expires) {
			c.mu.Unlock()
			return ent.info, nil
		}
		c.order.Remove(e)
		delete(c.items, id)
	}
	c.mu.Unlock()

	// Fetched without the lock: two concurrent misses cost two calls, which
	// is cheaper than serialising every lookup behind one slow request.
	info, err := c.fetch(ctx, id)
	if err != nil {
		return userInfo{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.order.Remove(e)
	}
	c.items[id] = c.order.PushBack(&userEntry{id: id, info: info, expires: time.Now().Add(c.ttl)})
	for c.order.Len() > c.max {
		old := c.order.Front()
		c.order.Remove(old)
		delete(c.items, old.Value.(*userEntry).id)
	}
	return info, nil
}

func (c *userCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (a *Adapter) fetchUser(ctx context.Context, id string) (userInfo, error) {
	u, err := a.api.GetUserInfoContext(ctx, id)
	if err != nil {
		return userInfo{}, fmt.Errorf("users.info %s: %w", id, mapError("users.info", err))
	}
	name := u.Profile.DisplayName
	if name == "" {
		name = u.Profile.RealName
	}
	if name == "" {
		name = u.RealName
	}
	if name == "" {
		name = u.Name
	}
	if name == "" {
		name = id
	}
	return userInfo{ID: u.ID, Name: name, IsAdmin: u.IsAdmin || u.IsOwner, IsBot: u.IsBot}, nil
}

// forget removes id, so that a later delivery is processed again.
func (s *seenSet) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[id]; ok {
		s.order.Remove(e)
		delete(s.items, id)
	}
}
