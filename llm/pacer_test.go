package llm

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// RPM 60: five requests asked for at the same instant get slots a second
// apart.
func TestPacerRPMSpacing(t *testing.T) {
	p := newPacer(60, 0)
	for i := range 5 {
		res, wait, ok := p.reserve(t0, 100, 0)
		if !ok || wait != time.Duration(i)*time.Second || !res.start.Equal(t0.Add(wait)) {
			t.Errorf("request %d: wait %v ok %v, want %ds", i, wait, ok, i)
		}
	}
	// Idle time is not banked: after a quiet minute one request goes at
	// once, the next a second later.
	later := t0.Add(time.Hour)
	if _, wait, _ := p.reserve(later, 100, 0); wait != 0 {
		t.Errorf("after an idle hour: wait %v", wait)
	}
	if _, wait, _ := p.reserve(later, 100, 0); wait != time.Second {
		t.Errorf("second after an idle hour: wait %v, want 1s", wait)
	}
}

// TPM spaces by the token estimate: at 6,000 TPM (100 tokens/s) a 500-token
// request holds the next one back 5 s.
func TestPacerTPMSpacing(t *testing.T) {
	p := newPacer(0, 6000)
	if _, wait, _ := p.reserve(t0, 500, 0); wait != 0 {
		t.Fatalf("first wait %v", wait)
	}
	if _, wait, _ := p.reserve(t0, 50, 0); wait != 5*time.Second {
		t.Errorf("second wait %v, want 5s", wait)
	}
	if _, wait, _ := p.reserve(t0, 0, 0); wait != 0 {
		t.Errorf("a zero-token request waited %v for the token schedule", wait)
	}
	if _, wait, _ := p.reserve(t0, 10, 0); wait != 5500*time.Millisecond {
		t.Errorf("third wait %v, want 5.5s", wait)
	}
}

// Property: whatever the arrival pattern, granted slots are at least the
// RPM interval apart, never before the request, and each waits no longer
// than the schedule requires.
func TestPacerSpacingProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		rpm := 1 + rng.IntN(600)
		interval := time.Minute / time.Duration(rpm)
		p := newPacer(rpm, 0)
		now := t0
		var last time.Time
		for i := range 200 {
			now = now.Add(time.Duration(rng.Int64N(int64(2 * interval))))
			res, wait, ok := p.reserve(now, rng.IntN(5000), 0)
			if !ok || wait < 0 || res.start.Before(now) {
				t.Fatalf("trial %d req %d: wait %v ok %v", trial, i, wait, ok)
			}
			if i > 0 {
				if gap := res.start.Sub(last); gap < interval {
					t.Fatalf("trial %d req %d: slots %v apart, want ≥ %v", trial, i, gap, interval)
				}
				// Work-conserving: a request waits only for the previous slot.
				if res.start.After(now) && res.start.Sub(last) != interval {
					t.Fatalf("trial %d req %d: waited past the schedule", trial, i)
				}
			}
			last = res.start
		}
	}
}

// remaining-requests 0 with reset 1.5s holds the next request back 1.5 s;
// afterwards the stale headers hold nothing back.
func TestPacerHeaderReset(t *testing.T) {
	p := newPacer(0, 0)
	p.observe(t0, RateLimits{LimitRequests: 3, RemainingRequests: 0, ResetRequests: sec(1.5)})
	if _, wait, _ := p.reserve(t0.Add(100*time.Millisecond), 10, 0); wait != 1400*time.Millisecond {
		t.Errorf("wait %v, want 1.4s (the rest of 1.5s)", wait)
	}
	if _, wait, _ := p.reserve(t0.Add(2*time.Second), 10, 0); wait != 0 {
		t.Errorf("after the reset: wait %v", wait)
	}
}

// Remaining counts are spent locally until fresh headers come.
func TestPacerRemainingCountsDown(t *testing.T) {
	p := newPacer(0, 0)
	p.observe(t0, RateLimits{RemainingRequests: 2, ResetRequests: 10 * time.Second})
	for i, want := range []time.Duration{0, 0, 10 * time.Second} {
		if _, wait, _ := p.reserve(t0, 10, 0); wait != want {
			t.Errorf("request %d: wait %v, want %v", i, wait, want)
		}
	}
	// Fresh headers replace the local count.
	p.observe(t0.Add(time.Second), RateLimits{RemainingRequests: 5, ResetRequests: time.Second})
	if _, wait, _ := p.reserve(t0.Add(time.Second), 10, 0); wait != 0 {
		t.Errorf("after fresh headers: wait %v", wait)
	}
}

// Headers without request fields leave the request gate alone: a zero
// RemainingRequests there means "absent", not "none left".
func TestPacerAbsentHeadersAreNotZero(t *testing.T) {
	p := newPacer(0, 0)
	p.observe(t0, RateLimits{RemainingTokens: 1000, ResetTokens: time.Minute, LimitTokens: 30000})
	if _, wait, _ := p.reserve(t0, 10, 0); wait != 0 {
		t.Errorf("wait %v with no request headers", wait)
	}
}

// Tokens: a request the remaining tokens cannot cover waits for the reset,
// unless it exceeds the whole bucket, which no wait can fix.
func TestPacerTokenGate(t *testing.T) {
	p := newPacer(0, 0)
	p.observe(t0, RateLimits{LimitTokens: 30000, RemainingTokens: 1000, ResetTokens: 4 * time.Second})
	if _, wait, _ := p.reserve(t0, 800, 0); wait != 0 {
		t.Errorf("800 of 1000 tokens: wait %v", wait)
	}
	if _, wait, _ := p.reserve(t0, 800, 0); wait != 4*time.Second {
		t.Errorf("800 of the 200 left: wait %v, want 4s", wait)
	}
	if _, wait, _ := p.reserve(t0, 40000, 0); wait != 0 {
		t.Errorf("a request over the bucket waited %v", wait)
	}
}

// Retry-After blocks every request until it passes.
func TestPacerRetryAfterBlock(t *testing.T) {
	p := newPacer(60, 0)
	p.observe(t0, RateLimits{RetryAfter: 7 * time.Second})
	p.block(t0.Add(3 * time.Second)) // an earlier block does not shorten it
	if _, wait, _ := p.reserve(t0, 1, 0); wait != 7*time.Second {
		t.Errorf("wait %v, want 7s", wait)
	}
	// The RPM schedule continues from the block.
	if _, wait, _ := p.reserve(t0, 1, 0); wait != 8*time.Second {
		t.Errorf("wait %v, want 8s", wait)
	}
}

// Past maxWait nothing is reserved; the caller fails fast with the wait.
func TestPacerMaxWait(t *testing.T) {
	p := newPacer(2, 0) // 30 s apart
	p.reserve(t0, 1, 0)
	if _, wait, ok := p.reserve(t0, 1, 10*time.Second); ok || wait != 30*time.Second {
		t.Errorf("wait %v ok %v, want a refusal with 30s", wait, ok)
	}
	if _, wait, ok := p.reserve(t0, 1, time.Minute); !ok || wait != 30*time.Second {
		t.Errorf("the refusal reserved a slot: wait %v ok %v, want 30s", wait, ok)
	}
}

// A cancelled reservation is handed back when nothing was built on it.
func TestPacerCancel(t *testing.T) {
	p := newPacer(60, 0)
	p.observe(t0, RateLimits{RemainingRequests: 1, ResetRequests: time.Minute})
	p.reserve(t0, 1, 0)
	res, _, _ := p.reserve(t0, 1, 0) // no requests remain: waits for the reset
	p.cancel(res)
	if p.remReq != 0 || !p.tatReq.Equal(t0.Add(time.Second)) {
		t.Errorf("after cancel: remaining %d, next slot %v", p.remReq, p.tatReq.Sub(t0))
	}
	// With a later reservation on top, the schedule stays: the later one
	// keeps its slot.
	a, _, _ := p.reserve(t0, 1, 0)
	b, _, _ := p.reserve(t0, 1, 0)
	p.cancel(a)
	if !p.tatReq.Equal(b.tatReq) {
		t.Errorf("cancelling an earlier slot moved the schedule")
	}
}
