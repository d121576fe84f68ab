package llm

import (
	"net/http"
	"testing"
	"time"
)

func TestParseResetDuration(t *testing.T) {
	good := map[string]time.Duration{
		"6m0s":     6 * time.Minute,
		"1.146s":   1146 * time.Millisecond,
		"20ms":     20 * time.Millisecond,
		"1h2m3.5s": time.Hour + 2*time.Minute + 3500*time.Millisecond,
		"0s":       0,
		"30":       30 * time.Second,
		"0.5":      500 * time.Millisecond,
		" 2s ":     2 * time.Second,
		"1d2h":     26 * time.Hour,
		"2d":       48 * time.Hour,
	}
	for in, want := range good {
		got, err := ParseResetDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseResetDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1s", "+1s", "abc", "1.2.3", "1d-2h", "d", "5x", "99999999999999999999h", "1e3"} {
		if d, err := ParseResetDuration(in); err == nil {
			t.Errorf("ParseResetDuration(%q) = %v, want an error", in, d)
		}
	}
}

func FuzzParseResetDuration(f *testing.F) {
	for _, s := range []string{"6m0s", "1.146s", "20ms", "1h2m3.5s", "30", "1d2h", "-1s", "", "1e9", "0.000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseResetDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseResetDuration(%q) = %v, negative", s, d)
		}
		// Go's own rendering of the result must parse back to it.
		back, err := ParseResetDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("round trip of %q: %v -> %q -> %v, %v", s, d, d.String(), back, err)
		}
	})
}

func TestParseRateLimits(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	if _, ok := parseRateLimits(http.Header{"Content-Type": {"text/event-stream"}}, now); ok {
		t.Error("no rate-limit headers should give ok=false")
	}
	h := http.Header{}
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	h.Set("x-ratelimit-remaining-tokens", "junk")
	rl, ok := parseRateLimits(h, now)
	if !ok || rl.RetryAfter != 90*time.Second || rl.RemainingTokens != 0 {
		t.Errorf("HTTP-date Retry-After: %+v %v", rl, ok)
	}
	// Tokens exhausted: their reset is the wait.
	rl = RateLimits{LimitRequests: 10, RemainingRequests: 5, ResetRequests: time.Minute,
		LimitTokens: 100, RemainingTokens: 0, ResetTokens: 3 * time.Second}
	if got := rl.retryDelay(); got != 3*time.Second {
		t.Errorf("retryDelay %v, want 3s", got)
	}
	// Nothing says which ran out: the longer reset.
	rl = RateLimits{ResetRequests: time.Minute, ResetTokens: 3 * time.Second, RemainingRequests: 1, LimitRequests: 2}
	if got := rl.retryDelay(); got != time.Minute {
		t.Errorf("retryDelay %v, want 1m", got)
	}
}
