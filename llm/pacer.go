package llm

import (
	"sync"
	"time"
)

// pacer spaces the requests to one model so that the API key's limits are
// kept before the server has to answer 429. It combines three sources:
//
//   - the configured RPM and TPM, as GCRA (a virtual schedule) without
//     burst: OpenAI enforces per-minute limits over much shorter periods
//     ("60,000 requests/minute may be enforced as 1,000 requests/second"),
//     so evenly spaced requests are the ones that pass;
//   - the last x-ratelimit-remaining-*/reset-* headers: when nothing
//     remains, the next request waits for the reset. Remaining counts are
//     decremented locally for requests sent since, until fresh headers
//     replace them;
//   - a block until a given time, from a 429's Retry-After.
//
// Times are passed in, so the decisions are plain functions of the state.
// Safe for concurrent use.
type pacer struct {
	reqInterval time.Duration // 1 min / RPM; 0: not paced by requests
	tokInterval float64       // nanoseconds per token, 1 min / TPM; 0: not paced by tokens

	mu     sync.Mutex
	tatReq time.Time // GCRA theoretical arrival time of the next request
	tatTok time.Time // the same for tokens

	blockedUntil time.Time // from Retry-After

	// From the last rate-limit headers; applied only before the reset.
	remReq, remTok         int
	reqResetAt, tokResetAt time.Time
	limTok                 int    // x-ratelimit-limit-tokens, 0 when unknown
	seq                    uint64 // header observations so far
}

func newPacer(rpm, tpm int) *pacer {
	p := &pacer{}
	if rpm > 0 {
		p.reqInterval = time.Minute / time.Duration(rpm)
	}
	if tpm > 0 {
		p.tokInterval = float64(time.Minute) / float64(tpm)
	}
	return p
}

// maxCost bounds a request's token estimate so that the schedule cannot
// overflow on a nonsense estimate.
const maxCost = 100_000_000

// reservation is a request slot taken by reserve, kept so that a caller
// who gives up waiting can hand it back.
type reservation struct {
	start                  time.Time
	cost                   int
	prevTatReq, prevTatTok time.Time
	tatReq, tatTok         time.Time // the schedule after this reservation
	decReq, decTok         bool      // remaining counts taken
	seq                    uint64
}

// reserve schedules a request costing cost tokens, asked for at now. It
// returns the slot and how long to wait for it. When that wait would exceed
// maxWait (> 0), nothing is reserved and ok is false: the caller fails fast
// with the wait rather than queueing behind the limit.
func (p *pacer) reserve(now time.Time, cost int, maxWait time.Duration) (res reservation, wait time.Duration, ok bool) {
	cost = min(max(cost, 0), maxCost)
	p.mu.Lock()
	defer p.mu.Unlock()

	start := now
	if p.reqInterval > 0 && p.tatReq.After(start) {
		start = p.tatReq
	}
	if p.tokInterval > 0 && cost > 0 && p.tatTok.After(start) {
		start = p.tatTok
	}
	if p.blockedUntil.After(start) {
		start = p.blockedUntil
	}
	// Header gates: they only push start later, so a gate passed before a
	// later push stays passed.
	if start.Before(p.reqResetAt) && p.remReq <= 0 {
		start = p.reqResetAt
	}
	// A request larger than the whole token bucket can never fit; let the
	// server refuse it rather than wait for nothing.
	tokGate := cost > 0 && (p.limTok == 0 || cost <= p.limTok)
	if tokGate && start.Before(p.tokResetAt) && p.remTok < cost {
		start = p.tokResetAt
	}
	wait = start.Sub(now)
	if maxWait > 0 && wait > maxWait {
		return reservation{}, wait, false
	}

	res = reservation{start: start, cost: cost, prevTatReq: p.tatReq, prevTatTok: p.tatTok, seq: p.seq}
	if p.reqInterval > 0 {
		p.tatReq = start.Add(p.reqInterval)
	}
	if p.tokInterval > 0 && cost > 0 {
		p.tatTok = start.Add(time.Duration(float64(cost) * p.tokInterval))
	}
	res.tatReq, res.tatTok = p.tatReq, p.tatTok
	if start.Before(p.reqResetAt) {
		p.remReq--
		res.decReq = true
	}
	if cost > 0 && start.Before(p.tokResetAt) {
		p.remTok -= cost
		res.decTok = true
	}
	return res, wait, true
}

// cancel hands back a reservation whose request was not sent. The schedule
// is rolled back only when no later reservation was built on it, and the
// remaining counts only when no fresh headers replaced them.
func (p *pacer) cancel(res reservation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tatReq.Equal(res.tatReq) {
		p.tatReq = res.prevTatReq
	}
	if p.tatTok.Equal(res.tatTok) {
		p.tatTok = res.prevTatTok
	}
	if p.seq == res.seq {
		if res.decReq {
			p.remReq++
		}
		if res.decTok {
			p.remTok += res.cost
		}
	}
}

// observe takes in the rate-limit headers of a response that arrived at now.
func (p *pacer) observe(now time.Time, rl RateLimits) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	// A zero remaining count is only news when the header was there, which
	// the limit or reset header of the same bucket shows.
	if rl.LimitRequests > 0 || rl.RemainingRequests > 0 || rl.ResetRequests > 0 {
		p.remReq, p.reqResetAt = rl.RemainingRequests, now.Add(rl.ResetRequests)
	}
	if rl.LimitTokens > 0 || rl.RemainingTokens > 0 || rl.ResetTokens > 0 {
		p.remTok, p.tokResetAt = rl.RemainingTokens, now.Add(rl.ResetTokens)
		p.limTok = rl.LimitTokens
	}
	if rl.RetryAfter > 0 {
		p.blockUntilLocked(now.Add(rl.RetryAfter))
	}
}

// block holds every request back until until (a 429's Retry-After).
func (p *pacer) block(until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blockUntilLocked(until)
}

func (p *pacer) blockUntilLocked(until time.Time) {
	if until.After(p.blockedUntil) {
		p.blockedUntil = until
	}
}
