package llm

import (
	"fmt"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"
)

// breakerState is the state of a circuit breaker.
type breakerState int

const (
	breakerClosed   breakerState = iota // calls pass; consecutive failures are counted
	breakerOpen                         // calls fail fast until the cooldown has passed
	breakerHalfOpen                     // one probe call may pass; its outcome decides
)

func (s breakerState) String() string {
	switch s {
	case breakerClosed:
		return "closed"
	case breakerOpen:
		return "open"
	default:
		return "half-open"
	}
}

// outcome is what a call told the breaker about the model's health.
type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure         // the model misbehaved: 5xx, timeout, unreachable, cut stream
	outcomeNeutral         // says nothing about the model: cancelled, bad request, rate limited
)

// breakerTicket is handed out by allow and returned to record. gen ties the
// outcome to the state it was admitted in, so a slow call admitted before the
// breaker opened cannot close it again by succeeding late.
type breakerTicket struct {
	gen   uint64
	probe bool
}

// breaker is a per-model circuit breaker. It opens after failures
// consecutive health failures, lets one probe through after cooldown, and
// closes on the probe's success. Safe for concurrent use.
type breaker struct {
	failures int // threshold; <= 0 disables the breaker
	cooldown time.Duration

	mu        sync.Mutex
	state     breakerState
	gen       uint64
	count     int       // consecutive failures while closed
	openUntil time.Time // when open: the earliest probe
	probing   bool      // when half-open: a probe is in flight
}

func newBreaker(failures int, cooldown time.Duration) *breaker {
	return &breaker{failures: failures, cooldown: cooldown}
}

// allow admits a call at now, or returns the ModelUnavailable error a call
// to an open circuit fails with.
func (b *breaker) allow(model string, now time.Time) (breakerTicket, *bot.ModelError) {
	if b.failures <= 0 {
		return breakerTicket{}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerClosed:
		return breakerTicket{gen: b.gen}, nil
	case breakerOpen:
		if now.Before(b.openUntil) {
			return breakerTicket{}, b.openError(model, b.openUntil.Sub(now))
		}
		b.transition(breakerHalfOpen, now)
	}
	if b.probing {
		// Another call is probing; it alone decides. Callers come back
		// after a short while, or go to a fallback.
		return breakerTicket{}, b.openError(model, 0)
	}
	b.probing = true
	return breakerTicket{gen: b.gen, probe: true}, nil
}

func (b *breaker) openError(model string, wait time.Duration) *bot.ModelError {
	msg := "circuit open: a probe call is under way"
	if wait > 0 {
		msg = fmt.Sprintf("circuit open after %d consecutive failures; next probe in %s", b.failures, wait.Round(time.Millisecond))
	}
	return &bot.ModelError{Class: bot.ModelUnavailable, Model: model, Code: "circuit_open", RetryAfter: wait, Message: msg}
}

// record reports the outcome of an admitted call at now. It returns the
// breaker's new state and whether it changed, for logging.
func (b *breaker) record(t breakerTicket, o outcome, now time.Time) (breakerState, bool) {
	if b.failures <= 0 {
		return breakerClosed, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen {
		return b.state, false // admitted under an earlier state: stale news
	}
	before := b.state
	switch {
	case t.probe:
		b.probing = false
		switch o {
		case outcomeSuccess:
			b.transition(breakerClosed, now)
		case outcomeFailure:
			b.transition(breakerOpen, now)
		}
		// Neutral: stay half-open; the next call probes.
	case b.state == breakerClosed:
		switch o {
		case outcomeSuccess:
			b.count = 0
		case outcomeFailure:
			b.count++
			if b.count >= b.failures {
				b.transition(breakerOpen, now)
			}
		}
	}
	return b.state, b.state != before
}

// transition moves to s; callers hold mu.
func (b *breaker) transition(s breakerState, now time.Time) {
	b.state = s
	b.gen++
	b.count = 0
	b.probing = false
	if s == breakerOpen {
		b.openUntil = now.Add(b.cooldown)
	}
}
