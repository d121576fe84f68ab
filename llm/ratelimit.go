package llm

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimits is what a response's rate-limit headers said. Zero fields were
// absent or unparsable.
type RateLimits struct {
	LimitRequests, LimitTokens         int
	RemainingRequests, RemainingTokens int
	ResetRequests, ResetTokens         time.Duration // x-ratelimit-reset-requests / -tokens
	RetryAfter                         time.Duration // retry-after-ms, or Retry-After
}

// retryDelay is how long to wait before retrying a rate-limited call: the
// server's explicit Retry-After when given, else the reset time of the
// exhausted bucket (both when it is unclear which one ran out).
func (rl RateLimits) retryDelay() time.Duration {
	if rl.RetryAfter > 0 {
		return rl.RetryAfter
	}
	var d time.Duration
	exhausted := false
	if rl.RemainingRequests == 0 && rl.LimitRequests > 0 {
		d, exhausted = max(d, rl.ResetRequests), true
	}
	if rl.RemainingTokens == 0 && rl.LimitTokens > 0 {
		d, exhausted = max(d, rl.ResetTokens), true
	}
	if !exhausted {
		d = max(rl.ResetRequests, rl.ResetTokens)
	}
	return d
}

// rateLimitHeaders lists the headers parseRateLimits reads; a response with
// none of them produces no OnRateLimits call.
var rateLimitHeaders = [...]string{
	"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens",
	"x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
	"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
	"retry-after-ms", "retry-after",
}

// parseRateLimits reads the rate-limit headers of h. now is used for a
// Retry-After given as an HTTP date. ok is false when h has none of them.
func parseRateLimits(h http.Header, now time.Time) (rl RateLimits, ok bool) {
	for _, name := range rateLimitHeaders {
		if h.Get(name) != "" {
			ok = true
			break
		}
	}
	if !ok {
		return RateLimits{}, false
	}
	atoi := func(name string) int {
		n, err := strconv.Atoi(strings.TrimSpace(h.Get(name)))
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	reset := func(name string) time.Duration {
		d, err := ParseResetDuration(h.Get(name))
		if err != nil {
			return 0
		}
		return d
	}
	rl = RateLimits{
		LimitRequests:     atoi("x-ratelimit-limit-requests"),
		LimitTokens:       atoi("x-ratelimit-limit-tokens"),
		RemainingRequests: atoi("x-ratelimit-remaining-requests"),
		RemainingTokens:   atoi("x-ratelimit-remaining-tokens"),
		ResetRequests:     reset("x-ratelimit-reset-requests"),
		ResetTokens:       reset("x-ratelimit-reset-tokens"),
		RetryAfter:        parseRetryAfter(h, now),
	}
	return rl, true
}

// parseRetryAfter prefers OpenAI's retry-after-ms (milliseconds, possibly
// fractional) over the standard Retry-After (seconds or an HTTP date).
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		ms, err := strconv.ParseFloat(v, 64)
		if err == nil && ms > 0 && ms < float64(math.MaxInt64/int64(time.Millisecond)) {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("retry-after"))
	if v == "" {
		return 0
	}
	if d, err := parseSeconds(v); err == nil {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

var errBadDuration = errors.New("invalid reset duration")

// ParseResetDuration parses the x-ratelimit-reset-* header values OpenAI and
// compatible servers send: Go-style durations such as "6m0s", "1.146s",
// "20ms" or "1h2m3.5s", optionally led by whole days ("1d2h"), and plain
// seconds ("30", "0.5"). Negative values are rejected.
func ParseResetDuration(s string) (time.Duration, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fmt.Errorf("%w: empty", errBadDuration)
	}
	if d, err := parseSeconds(v); err == nil {
		return d, nil
	}
	if v[0] == '-' || v[0] == '+' {
		return 0, fmt.Errorf("%w: %q is signed", errBadDuration, s)
	}
	var days time.Duration
	if i := strings.IndexByte(v, 'd'); i > 0 {
		n, err := strconv.ParseUint(v[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%w: %q", errBadDuration, s)
		}
		days = time.Duration(n) * 24 * time.Hour
		v = v[i+1:]
		if v == "" {
			return days, nil
		}
		if v[0] == '-' || v[0] == '+' {
			return 0, fmt.Errorf("%w: %q is signed", errBadDuration, s)
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", errBadDuration, s)
	}
	if d > math.MaxInt64-days {
		return 0, fmt.Errorf("%w: %q overflows", errBadDuration, s)
	}
	return days + d, nil
}

// parseSeconds parses a non-negative decimal number of seconds.
func parseSeconds(v string) (time.Duration, error) {
	for _, r := range v {
		if (r < '0' || r > '9') && r != '.' {
			return 0, errBadDuration
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f >= float64(math.MaxInt64)/float64(time.Second) {
		return 0, errBadDuration
	}
	return time.Duration(f * float64(time.Second)), nil
}
