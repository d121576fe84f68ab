package limits

import (
	"fmt"
	"github.com/parley-bot/parley/config"
	"time"
)

// Limit is a request rate with bursts: Count requests per Per, and up to
// Burst at once. A zero Count or Per means unlimited.
type Limit struct {
	Count int
	Per   time.Duration
	Burst int // < 1 is taken as 1
}

// Unlimited reports whether the limit admits everything.
func (l Limit) Unlimited() bool { return l.Count <= 0 || l.Per <= 0 }

// Interval is the time between two requests at the steady rate (0 when
// unlimited).
func (l Limit) Interval() time.Duration {
	if l.Unlimited() {
		return 0
	}
	return l.Per / time.Duration(l.Count)
}

// String renders the limit as "20/min burst 5", or "unlimited".
func (l Limit) String() string {
	if l.Unlimited() {
		return "unlimited"
	}
	return fmt.Sprintf("%s burst %d", config.Rate{Count: l.Count, Per: l.Per}, max(l.Burst, 1))
}

// GCRA is the generic cell rate algorithm: a leaky bucket kept as a single
// "theoretical arrival time". It is a plain value (no locks, no clock, no
// allocations); callers serialise access and pass the time in.
//
// A request at now conforms when tat − now ≤ tolerance, where tolerance is
// (burst − 1) intervals; admitting it moves tat one interval on. Hence in
// any window of length w at most burst + w/interval requests are admitted.
type GCRA struct {
	interval  int64 // ns between requests; 0 means unlimited
	tolerance int64 // ns: (burst − 1) · interval
	tat       int64 // theoretical arrival time, unix ns
}

// NewGCRA returns a limiter for l with a full burst available.
func NewGCRA(l Limit) GCRA {
	var g GCRA
	g.setLimit(l)
	return g
}

// SetLimit changes the rate and burst at now, keeping what has been
// consumed but no more than the new limit can hold: after a change to a
// faster rate, nobody waits longer than the new rate requires.
func (g *GCRA) SetLimit(l Limit, now time.Time) {
	g.setLimit(l)
	if g.interval != 0 {
		g.tat = min(g.tat, now.UnixNano()+g.tolerance+g.interval)
	}
}

func (g *GCRA) setLimit(l Limit) {
	if l.Unlimited() {
		g.interval, g.tolerance = 0, 0
		return
	}
	g.interval = int64(l.Interval())
	if g.interval < 1 {
		g.interval = 1
	}
	g.tolerance = int64(max(l.Burst, 1)-1) * g.interval
}

// Allow admits a request at now if it conforms. Otherwise it reports how
// long until one would.
func (g *GCRA) Allow(now time.Time) (ok bool, retryAfter time.Duration) {
	if g.interval == 0 {
		return true, 0
	}
	t := now.UnixNano()
	tat := max(g.tat, t)
	if d := tat - g.tolerance - t; d > 0 {
		return false, time.Duration(d)
	}
	g.tat = tat + g.interval
	return true, 0
}

// Delay reports how long until a request would conform, without
// consuming anything (0: it conforms now).
func (g *GCRA) Delay(now time.Time) time.Duration {
	if g.interval == 0 {
		return 0
	}
	t := now.UnixNano()
	if d := max(g.tat, t) - g.tolerance - t; d > 0 {
		return time.Duration(d)
	}
	return 0
}

// Reserve books the next conforming slot if it comes within maxWait and
// reports how long the caller must wait before using it; a caller that
// then gives up should call Cancel. When the slot is further away than
// maxWait, nothing is booked, ok is false and wait says how far it is.
func (g *GCRA) Reserve(now time.Time, maxWait time.Duration) (wait time.Duration, ok bool) {
	if g.interval == 0 {
		return 0, true
	}
	t := now.UnixNano()
	tat := max(g.tat, t)
	d := max(tat-g.tolerance-t, 0)
	if time.Duration(d) > maxWait {
		return time.Duration(d), false
	}
	g.tat = tat + g.interval
	return time.Duration(d), true
}

// Cancel returns the most recently booked slot (from Allow or Reserve)
// that has not yet been used, so that the next caller can have it.
func (g *GCRA) Cancel(now time.Time) {
	if g.interval == 0 {
		return
	}
	g.tat = max(g.tat-g.interval, now.UnixNano())
}

// Idle reports whether the limiter has fully recovered at now, i.e. is
// indistinguishable from a new one and may be forgotten.
func (g *GCRA) Idle(now time.Time) bool { return g.tat <= now.UnixNano() }
