package llm

import (
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

func TestBreakerOpensAndProbes(t *testing.T) {
	b := newBreaker(3, 30*time.Second)
	now := t0
	for i := range 3 {
		tk, err := b.allow("m", now)
		if err != nil {
			t.Fatalf("call %d refused: %v", i, err)
		}
		b.record(tk, outcomeFailure, now)
	}
	_, err := b.allow("m", now.Add(29*time.Second))
	if err == nil || err.Class != bot.ModelUnavailable || err.RetryAfter != time.Second {
		t.Fatalf("open breaker: %+v, want unavailable with 1s left", err)
	}
	// Cooldown over: exactly one probe; others fail fast meanwhile.
	now = now.Add(30 * time.Second)
	probe, err := b.allow("m", now)
	if err != nil || !probe.probe {
		t.Fatalf("probe refused: %v", err)
	}
	if _, err := b.allow("m", now); err == nil {
		t.Fatal("a second call passed while the probe is in flight")
	}
	// A neutral probe (cancelled) leaves it half-open for the next caller.
	b.record(probe, outcomeNeutral, now)
	probe, err = b.allow("m", now)
	if err != nil || !probe.probe {
		t.Fatalf("no new probe after a neutral one: %v", err)
	}
	if state, changed := b.record(probe, outcomeSuccess, now); state != breakerClosed || !changed {
		t.Errorf("after a good probe: %v", state)
	}
	if _, err := b.allow("m", now); err != nil {
		t.Errorf("closed breaker refused: %v", err)
	}
}

// Successes reset the count: only consecutive failures open it.
func TestBreakerConsecutiveOnly(t *testing.T) {
	b := newBreaker(2, time.Second)
	for _, o := range []outcome{outcomeFailure, outcomeSuccess, outcomeFailure, outcomeNeutral, outcomeSuccess, outcomeFailure} {
		tk, err := b.allow("m", t0)
		if err != nil {
			t.Fatalf("opened on non-consecutive failures: %v", err)
		}
		b.record(tk, o, t0)
	}
}

// A call admitted before the breaker opened cannot close it by finishing
// well late.
func TestBreakerIgnoresStaleOutcomes(t *testing.T) {
	b := newBreaker(1, time.Minute)
	slow, _ := b.allow("m", t0)
	fast, _ := b.allow("m", t0)
	b.record(fast, outcomeFailure, t0)
	if state, _ := b.record(slow, outcomeSuccess, t0); state != breakerOpen {
		t.Errorf("a stale success moved the breaker to %v", state)
	}
}

func TestBreakerDisabled(t *testing.T) {
	b := newBreaker(-1, time.Minute)
	for range 10 {
		tk, err := b.allow("m", t0)
		if err != nil {
			t.Fatal(err)
		}
		b.record(tk, outcomeFailure, t0)
	}
}
