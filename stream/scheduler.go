package stream

import (
	"context"
	"time"

	"github.com/parley-bot/parley/bot"
)

// opKind says which of an Outbox's budgets a request spends.
type opKind uint8

const (
	opEdit opKind = iota
	opPost
)

func (k opKind) String() string {
	if k == opPost {
		return "post"
	}
	return "edit"
}

// bucketKey names one budget: the kind of request and Scope.Key(thread).
type bucketKey struct {
	op  opKind
	key string
}

// platformState is shared by every bucket of one platform, so that a
// global rate limit pauses all of them.
type platformState struct {
	pausedUntil time.Time
}

// bucket is a token bucket with a queue of waiting requests. Tokens are
// kept as a theoretical time (base): the bucket holds
// floor((now-base)/Every) tokens, at most Burst. Integer time arithmetic
// makes "when will there be n tokens" exact, so waiters wake exactly when
// they can be served. All fields are guarded by Renderer.mu.
type bucket struct {
	key         bucketKey
	platform    *platformState
	budget      bot.Budget
	base        time.Time
	pausedUntil time.Time
	waiters     []*waiter
	// active counts the open replies that will need a final edit from
	// this bucket; intermediate edits leave that many tokens (at most
	// Burst-1) in the bucket.
	active  int
	reserve bool // ration intermediate requests (edit buckets)
	// borrow is how many reserved tokens a first text may spend
	// (bot.Limits.FirstTextBorrow).
	borrow int
}

// waiter is one reply's pending request. Each reply reuses its own waiter,
// so a grant allocates nothing.
type waiter struct {
	final    bool      // the request shows a message's final text
	first    bool      // the request replaces the placeholder with the reply's first text
	lastUsed time.Time // when the reply last got a grant: round robin
	seq      uint64    // arrival order, to break ties
	queued   bool
	granted  bool
	signal   chan struct{} // cap 1: granted, or the queue changed
}

func newBucket(key bucketKey, b bot.Budget, p *platformState, now time.Time) *bucket {
	bk := &bucket{key: key, platform: p, reserve: key.op == opEdit}
	bk.setBudget(b, now)
	bk.base = now.Add(-time.Duration(bk.budget.Burst) * bk.budget.Every) // starts full
	return bk
}

func (b *bucket) setBudget(bud bot.Budget, now time.Time) {
	b.budget = normBudget(bud)
	b.refill(now)
}

// normBudget treats a burst below one as one request at a time.
func normBudget(b bot.Budget) bot.Budget {
	if b.Burst < 1 {
		b.Burst = 1
	}
	return b
}

// refill caps the stored tokens at Burst.
func (b *bucket) refill(now time.Time) {
	if b.budget.Unlimited() {
		return
	}
	full := time.Duration(b.budget.Burst) * b.budget.Every
	if now.Sub(b.base) > full {
		b.base = now.Add(-full)
	}
}

func (b *bucket) tokens(now time.Time) int {
	if now.Before(b.base) {
		return 0
	}
	return int(now.Sub(b.base) / b.budget.Every)
}

func (b *bucket) paused(now time.Time) (until time.Time, ok bool) {
	until = b.pausedUntil
	if b.platform.pausedUntil.After(until) {
		until = b.platform.pausedUntil
	}
	return until, now.Before(until)
}

// need is how many tokens must be in the bucket to grant w.
func (b *bucket) need(w *waiter) int {
	if w.final || !b.reserve {
		return 1
	}
	// Keep one token for the final edit of each active reply. After this
	// edit the bucket holds at most Burst-1, so that is the useful cap:
	// a larger reserve would stop intermediate edits altogether.
	reserve := min(b.active, b.budget.Burst-1)
	if w.first {
		// A user waits for the first text as for the final one; where the
		// platform allows, it may borrow from the reserve.
		reserve = max(0, reserve-b.borrow)
	}
	return 1 + reserve
}

// next returns the waiter to serve first: final requests in arrival
// order, then first texts in arrival order, then the reply that was
// served least recently.
func (b *bucket) next() *waiter {
	var best *waiter
	for _, w := range b.waiters {
		if best == nil || w.before(best) {
			best = w
		}
	}
	return best
}

func (w *waiter) before(o *waiter) bool {
	if w.final != o.final {
		return w.final
	}
	if w.first != o.first {
		return w.first
	}
	if !w.final && !w.first && !w.lastUsed.Equal(o.lastUsed) {
		return w.lastUsed.Before(o.lastUsed)
	}
	return w.seq < o.seq
}

func (b *bucket) remove(w *waiter) {
	for i, x := range b.waiters {
		if x == w {
			last := len(b.waiters) - 1
			b.waiters[i] = b.waiters[last]
			b.waiters[last] = nil
			b.waiters = b.waiters[:last]
			break
		}
	}
	w.queued = false
}

// dispatch grants queued requests while the budget allows.
func (b *bucket) dispatch(now time.Time) {
	if _, p := b.paused(now); p {
		return
	}
	b.refill(now)
	for len(b.waiters) > 0 {
		w := b.next()
		if !b.budget.Unlimited() {
			if b.tokens(now) < b.need(w) {
				return
			}
			b.base = b.base.Add(b.budget.Every)
		}
		b.remove(w)
		w.granted, w.lastUsed = true, now
		notify(w.signal)
	}
}

// wakeAt is when the first waiter can next be served (zero: no waiter).
func (b *bucket) wakeAt(now time.Time) time.Time {
	if until, p := b.paused(now); p {
		return until
	}
	if len(b.waiters) == 0 || b.budget.Unlimited() {
		return time.Time{}
	}
	return b.base.Add(time.Duration(b.need(b.next())) * b.budget.Every)
}

// nudge makes every waiter re-check the bucket, after a change that may
// let them go earlier than the time they are sleeping until.
func (b *bucket) nudge() {
	for _, w := range b.waiters {
		notify(w.signal)
	}
}

// pause stops the bucket until the platform's retry time. The platform's
// count and ours disagreed, so the bucket restarts with one token.
func (b *bucket) pause(until time.Time) {
	if !until.After(b.pausedUntil) {
		return
	}
	b.pausedUntil = until
	if !b.budget.Unlimited() {
		b.base = until.Add(-b.budget.Every)
	}
}

// idle reports whether the bucket holds no state worth keeping: nobody
// uses it and it is full again, so a new bucket would behave the same.
func (b *bucket) idle(now time.Time) bool {
	if b.active > 0 || len(b.waiters) > 0 || now.Before(b.pausedUntil) {
		return false
	}
	return b.budget.Unlimited() || b.tokens(now) >= b.budget.Burst
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// bucketFor returns the bucket for op under budget with the given budget
// key (bot.BudgetKey), creating it on first use. Caller holds r.mu.
func (r *Renderer) bucketFor(op opKind, bud bot.Budget, budgetKey string, platform bot.Platform, now time.Time) *bucket {
	key := bucketKey{op: op, key: budgetKey}
	if b, ok := r.buckets[key]; ok {
		if b.budget != normBudget(bud) {
			b.setBudget(bud, now) // the adapter changed its limits (config reload)
			b.nudge()
		}
		return b
	}
	p := r.platforms[platform]
	if p == nil {
		p = &platformState{}
		r.platforms[platform] = p
	}
	b := newBucket(key, bud, p, now)
	r.buckets[key] = b
	return b
}

// sweep forgets idle buckets, so that a daemon serving many channels does
// not keep one bucket per channel forever. Caller holds r.mu.
func (r *Renderer) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < sweepEvery {
		return
	}
	r.lastSweep = now
	for k, b := range r.buckets {
		if b.idle(now) {
			delete(r.buckets, k)
		}
	}
}

const sweepEvery = time.Minute

// acquire waits until b grants w. While it waits, the request may become
// more urgent: a Close makes it final, the first token makes it a first
// text (wake is the reply's wake channel and urgency re-reads both). It returns how
// long it waited, or the context's error.
func (r *Renderer) acquire(ctx context.Context, b *bucket, w *waiter, timer *time.Timer, wake <-chan struct{}, urgency func() (final, first bool)) (time.Duration, error) {
	start := time.Now()
	r.mu.Lock()
	r.seq++
	w.seq, w.granted, w.queued = r.seq, false, true
	drain(w.signal)
	b.waiters = append(b.waiters, w)
	b.dispatch(start)
	for {
		if w.granted {
			r.mu.Unlock()
			return time.Since(start), nil
		}
		at := b.wakeAt(time.Now())
		r.mu.Unlock()

		var tc <-chan time.Time
		if !at.IsZero() {
			timer.Reset(time.Until(at))
			tc = timer.C
		}
		select {
		case <-w.signal:
		case <-tc:
		case <-wake:
		case <-ctx.Done():
		}
		timer.Stop()

		r.mu.Lock()
		if !w.granted {
			if ctx.Err() != nil {
				b.remove(w)
				b.dispatch(time.Now())
				r.mu.Unlock()
				return time.Since(start), ctx.Err()
			}
			final, first := urgency()
			w.final = w.final || final
			w.first = w.first || first
			b.dispatch(time.Now())
		}
	}
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}
