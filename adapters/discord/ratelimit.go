package discord

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Discord allows 50 requests per second per bot across all routes. The
// token bucket below admits at most globalBurst + globalRate requests in
// any one-second window (46), leaving headroom for network jitter so that a
// fixed-window counter on Discord's side never sees more than 50.
const (
	globalRate  = 44
	globalBurst = 2
)

// transport is the session's http.RoundTripper: it spends the global
// budget before every REST call, pauses everything after a global 429, and
// feeds each response's X-RateLimit-* headers to the route tracker.
type transport struct {
	api    *apiRewrite // nil: Discord itself
	base   http.RoundTripper
	global *rate.Limiter
	routes *routeTracker
	now    func() time.Time

	mu          sync.Mutex
	globalUntil time.Time // a global 429 asked everyone to wait until then
	rejected    int       // 429s received, for logs and tests
}

func newTransport(base http.RoundTripper, routes *routeTracker) *transport {
	return &transport{
		base:   base,
		global: rate.NewLimiter(globalRate, globalBurst),
		routes: routes,
		now:    time.Now,
	}
}

// exemptFromGlobal reports whether a path is an interaction endpoint, which
// Discord does not count against the global limit (and which must answer
// within 3 s, so it must not queue behind a burst of edits).
func exemptFromGlobal(path string) bool {
	return strings.Contains(path, "/interactions/") || strings.Contains(path, "/webhooks/")
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = t.api.apply(req)
	ctx := req.Context()
	if !exemptFromGlobal(req.URL.Path) {
		if err := t.waitGlobalPause(ctx); err != nil {
			return nil, err
		}
		if err := t.global.Wait(ctx); err != nil {
			return nil, fmt.Errorf("global rate limit: %w", err)
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	route := routeOf(req.Method, req.URL.Path)
	if resp.StatusCode == http.StatusTooManyRequests {
		wait := retryAfter(resp.Header)
		global := resp.Header.Get("X-RateLimit-Global") != "" || resp.Header.Get("X-RateLimit-Scope") == "global"
		t.mu.Lock()
		t.rejected++
		if global {
			if until := t.now().Add(wait); until.After(t.globalUntil) {
				t.globalUntil = until
			}
		}
		t.mu.Unlock()
		if route != "" && !global {
			t.routes.exhausted(route, wait)
		}
		return resp, nil
	}
	if route != "" {
		t.routes.observe(route, resp.Header)
	}
	return resp, nil
}

func (t *transport) waitGlobalPause(ctx context.Context) error {
	t.mu.Lock()
	d := t.globalUntil.Sub(t.now())
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting out a global rate limit: %w", ctx.Err())
	}
}

// globalPaused reports whether a global 429 is in force.
func (t *transport) globalPaused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now().Before(t.globalUntil)
}

// Rejections returns how many 429s Discord answered so far.
func (t *transport) Rejections() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rejected
}

// retryAfter reads how long a 429 asks to wait: X-RateLimit-Reset-After
// (fractional seconds) or Retry-After; one second when neither parses.
func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"X-RateLimit-Reset-After", "Retry-After"} {
		if v := h.Get(k); v != "" {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
				return time.Duration(f * float64(time.Second))
			}
		}
	}
	return time.Second
}

// routeOf names the per-channel buckets the adapter budgets itself:
// "post:<channel>" for creating messages, "edit:<channel>" for editing
// them. Other routes return "" and are left to discordgo's own buckets.
func routeOf(method, path string) string {
	i := strings.Index(path, "/channels/")
	if i < 0 {
		return ""
	}
	parts := strings.Split(strings.Trim(path[i+len("/channels/"):], "/"), "/")
	switch {
	case method == http.MethodPost && len(parts) == 2 && parts[1] == "messages":
		return "post:" + parts[0]
	case method == http.MethodPatch && len(parts) == 3 && parts[1] == "messages":
		return "edit:" + parts[0]
	}
	return ""
}

// routeTracker mirrors Discord's per-route buckets from the X-RateLimit-*
// headers, so that a request the bucket cannot take is refused locally
// with a bot.RateLimitedError (the renderer retries it with newer text)
// instead of being sent for a 429, or parked inside discordgo's limiter,
// which sleeps without a context.
type routeTracker struct {
	mu     sync.Mutex
	now    func() time.Time
	routes map[string]*routeState
}

type routeState struct {
	limit     int           // bucket size, from X-RateLimit-Limit; 0 until known
	remaining int           // from X-RateLimit-Remaining at the last response
	resetAt   time.Time     // when the bucket refills
	window    time.Duration // longest Reset-After seen: the bucket's period
	pending   int           // reserved requests whose response has not been observed
	last      time.Time     // last use, for pruning
}

func newRouteTracker(now func() time.Time) *routeTracker {
	return &routeTracker{now: now, routes: make(map[string]*routeState)}
}

// reserve claims one request on route. It returns the time to wait when
// the bucket, as last reported, has no room for it before it resets.
func (r *routeTracker) reserve(route string) (release func(), wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	st := r.routes[route]
	if st == nil {
		r.prune(now)
		st = &routeState{}
		r.routes[route] = st
	}
	st.last = now
	if st.limit > 0 {
		if !now.Before(st.resetAt) {
			// The window has passed: assume a full bucket, starting a
			// new window now, until a response says otherwise.
			st.remaining = st.limit
			st.resetAt = now.Add(st.window)
		}
		if st.remaining-st.pending <= 0 && now.Before(st.resetAt) {
			return nil, st.resetAt.Sub(now)
		}
	}
	st.pending++
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			if st.pending > 0 {
				st.pending--
			}
			r.mu.Unlock()
		})
	}, 0
}

// observe records a successful response's bucket headers. The request is
// still counted as pending until its release, so remaining-pending is one
// too low in between: conservative, never optimistic.
func (r *routeTracker) observe(route string, h http.Header) {
	rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return
	}
	limit, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	after, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset-After"), 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.routes[route]
	if st == nil {
		st = &routeState{}
		r.routes[route] = st
	}
	now := r.now()
	st.last = now
	if limit > 0 {
		st.limit = limit
	} else if st.limit == 0 {
		st.limit = rem + 1
	}
	st.remaining = rem
	d := time.Duration(after * float64(time.Second))
	st.resetAt = now.Add(d)
	st.window = max(st.window, d)
}

// exhausted records a 429 on route.
func (r *routeTracker) exhausted(route string, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.routes[route]
	if st == nil {
		st = &routeState{}
		r.routes[route] = st
	}
	now := r.now()
	if st.limit == 0 {
		st.limit = 1
	}
	st.remaining = 0
	st.resetAt = now.Add(wait)
	st.window = max(st.window, wait)
	st.last = now
}

// prune forgets idle routes so that the map stays bounded by the channels
// in active use. Called with mu held.
func (r *routeTracker) prune(now time.Time) {
	if len(r.routes) < 1024 {
		return
	}
	for k, st := range r.routes {
		if st.pending == 0 && now.Sub(st.last) > 10*time.Minute {
			delete(r.routes, k)
		}
	}
}
