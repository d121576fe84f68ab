package llm_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

const answerText = "Sunny and mild."

// retryEvent is one OnRetry call.
type retryEvent struct {
	model string
	class bot.ModelErrorClass
	wait  time.Duration
}

// rig is a Resilient around a real Client talking to the fake over
// in-memory pipes inside a synctest bubble, so every wait runs on fake time
// and the request times it records are exact.
type rig struct {
	srv *fakeopenai.Server
	res *llm.Resilient

	mu      sync.Mutex
	sent    []time.Time // when each request left the client
	retries []retryEvent
	paced   []time.Duration
	quota   []*bot.ModelError
}

func (g *rig) sentTimes() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sent)
}

func (g *rig) retryEvents() []retryEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.retries)
}

func (g *rig) pacedWaits() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.paced)
}

func (g *rig) quotaCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.quota)
}

// models lists the model of each request the fake received.
func (g *rig) models() []string {
	var out []string
	for _, r := range g.srv.Requests() {
		out = append(out, r.Model)
	}
	return out
}

func (g *rig) stream(ctx context.Context, req bot.ChatRequest) result {
	var r result
	r.comp, r.err = g.res.Stream(ctx, req, func(s string) { r.deltas = append(r.deltas, s) })
	return r
}

// withResilient runs fn in a synctest bubble; ccfg configures the Client,
// rcfg the Resilient (its Model and hooks are set here).
func withResilient(t *testing.T, opts fakeopenai.Options, ccfg llm.Config, rcfg llm.ResilientConfig, fn func(*testing.T, *rig)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		opts.Listener = ln
		opts.Logger = slog.New(slog.DiscardHandler)
		if opts.Answer == nil {
			opts.Answer = func(fakeopenai.Request) string { return answerText }
		}
		srv, err := fakeopenai.Start(opts)
		if err != nil {
			t.Fatal(err)
		}
		g := &rig{srv: srv}
		tr := &http.Transport{DialContext: ln.dial}
		// Cleanups run inside the bubble, also after t.Fatal, so that no
		// goroutine outlives it.
		t.Cleanup(func() {
			tr.CloseIdleConnections()
			if err := srv.Close(context.Background()); err != nil {
				t.Error(err)
			}
		})
		ccfg.BaseURL, ccfg.APIKey, ccfg.Logger = srv.URL(), testKey, slog.New(slog.DiscardHandler)
		ccfg.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			g.mu.Lock()
			g.sent = append(g.sent, time.Now())
			g.mu.Unlock()
			return tr.RoundTrip(r)
		})
		ccfg.OnRateLimits = func(model string, rl llm.RateLimits) { g.res.ObserveRateLimits(model, rl) }
		c, err := llm.New(ccfg)
		if err != nil {
			t.Fatal(err)
		}
		rcfg.Model = c
		rcfg.Logger = slog.New(slog.DiscardHandler)
		rcfg.OnRetry = func(model string, class bot.ModelErrorClass, wait time.Duration) {
			g.mu.Lock()
			g.retries = append(g.retries, retryEvent{model, class, wait})
			g.mu.Unlock()
		}
		rcfg.OnPaced = func(_ string, wait time.Duration) {
			g.mu.Lock()
			g.paced = append(g.paced, wait)
			g.mu.Unlock()
		}
		rcfg.OnQuotaExhausted = func(_ string, err *bot.ModelError) {
			g.mu.Lock()
			g.quota = append(g.quota, err)
			g.mu.Unlock()
		}
		g.res = llm.NewResilient(rcfg)
		fn(t, g)
	})
}

func wantAnswer(t *testing.T, r result, model string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("Stream: %v", r.err)
	}
	if r.comp.Text != answerText || r.joined() != answerText || r.comp.Model != model {
		t.Fatalf("completion %+v (deltas %q), want %q from %s", r.comp, r.joined(), answerText, model)
	}
}

// The acceptance case: a 429 with Retry-After 2 is retried exactly once,
// 2 s later.
func TestResilientRetryAfter(t *testing.T) {
	withResilient(t, fakeopenai.Options{}, llm.Config{}, llm.ResilientConfig{}, func(t *testing.T, g *rig) {
		g.srv.Enqueue(fakeopenai.Fault{Status: 429, RetryAfter: "2"})
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		sent := g.sentTimes()
		if len(sent) != 2 {
			t.Fatalf("%d requests, want 2", len(sent))
		}
		if gap := sent[1].Sub(sent[0]); gap < 2*time.Second || gap > 2100*time.Millisecond {
			t.Errorf("retry %v after the 429, want 2s", gap)
		}
		if got, want := g.retryEvents(), []retryEvent{{"gpt-4o", bot.ModelRateLimited, 2 * time.Second}}; !slices.Equal(got, want) {
			t.Errorf("retries %+v, want %+v", got, want)
		}
	})
}

// Once text reached the user, no error is retried: the text would repeat.
// Without a delta callback nothing was shown, so the same failure is retried.
func TestResilientNoRetryAfterText(t *testing.T) {
	withResilient(t, fakeopenai.Options{}, llm.Config{}, llm.ResilientConfig{}, func(t *testing.T, g *rig) {
		// Chunk 1 is the role, chunk 2 the first token, chunk 3 the error.
		fault := fakeopenai.Fault{MidStreamErrorAt: 3, ErrorType: "requests", ErrorCode: "rate_limit_exceeded",
			ErrorMessage: "Rate limit reached for gpt-4o"}
		g.srv.Enqueue(fault)
		r := g.stream(t.Context(), hello())
		wantClass(t, r.err, bot.ModelStreamError)
		if r.joined() == "" || r.comp.Text != r.joined() {
			t.Errorf("deltas %q, text %q: want the shown text back", r.joined(), r.comp.Text)
		}
		if n := len(g.srv.Requests()); n != 1 {
			t.Errorf("%d requests after text was shown, want 1", n)
		}

		g.srv.Enqueue(fault)
		comp, err := g.res.Stream(t.Context(), hello(), nil)
		if err != nil || comp.Text != answerText {
			t.Fatalf("without a delta callback: %+v, %v; want a retried answer", comp, err)
		}
		if n := len(g.srv.Requests()); n != 3 {
			t.Errorf("%d requests in all, want 3", n)
		}
	})
}

// modelFunc adapts a function to bot.Model.
type modelFunc func(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error)

func (f modelFunc) Stream(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
	return f(ctx, req, delta)
}

// A ModelRateLimited after text was shown is returned, not retried.
func TestResilientRateLimitedAfterTextNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		m := modelFunc(func(_ context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
			calls++
			delta("Hel")
			return bot.Completion{Model: req.Model, Text: "Hel"},
				&bot.ModelError{Class: bot.ModelRateLimited, Model: req.Model, StatusCode: 429, RetryAfter: time.Second}
		})
		r := llm.NewResilient(llm.ResilientConfig{Model: m, Fallbacks: []string{"gpt-4o-mini"}, Logger: slog.New(slog.DiscardHandler)})
		var shown strings.Builder
		comp, err := r.Stream(t.Context(), hello(), func(s string) { shown.WriteString(s) })
		wantClass(t, err, bot.ModelRateLimited)
		if calls != 1 || comp.Text != "Hel" || shown.String() != "Hel" {
			t.Errorf("%d calls, text %q, shown %q; want 1 call and the partial text", calls, comp.Text, shown.String())
		}
	})
}

// insufficient_quota is never retried nor sent to a fallback (the quota is
// the key's); the admins are told once per outage.
func TestResilientQuotaExhausted(t *testing.T) {
	rcfg := llm.ResilientConfig{Fallbacks: []string{"gpt-4o-mini"}}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		quota := fakeopenai.Fault{Status: 429, ErrorCode: "insufficient_quota"}
		for i := range 3 {
			g.srv.Enqueue(quota)
			me := wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelQuotaExhausted)
			if !strings.Contains(me.UserNotice(), "quota is used up") || me.Code != "insufficient_quota" {
				t.Errorf("call %d: notice %q, code %q", i, me.UserNotice(), me.Code)
			}
		}
		if got := g.models(); !slices.Equal(got, []string{"gpt-4o", "gpt-4o", "gpt-4o"}) {
			t.Errorf("requests to %v, want three to gpt-4o and no retry or fallback", got)
		}
		if n := g.quotaCalls(); n != 1 {
			t.Errorf("OnQuotaExhausted called %d times over three failures, want 1", n)
		}
		if len(g.retryEvents()) != 0 {
			t.Errorf("retries: %+v", g.retryEvents())
		}
		// A success ends the outage; the next one is reported again.
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		g.srv.Enqueue(quota)
		wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelQuotaExhausted)
		if n := g.quotaCalls(); n != 2 {
			t.Errorf("OnQuotaExhausted called %d times over two outages, want 2", n)
		}
	})
}

// Three 500s use up the primary's retries; the fallback answers.
func TestResilientFallbackAfterServerErrors(t *testing.T) {
	rcfg := llm.ResilientConfig{Fallbacks: []string{"gpt-4o-mini"}, MaxRetries: 2,
		BaseBackoff: time.Second, MaxBackoff: 4 * time.Second}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		for range 3 {
			g.srv.Enqueue(fakeopenai.Fault{Status: 500})
		}
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o-mini")
		if got, want := g.models(), []string{"gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o-mini"}; !slices.Equal(got, want) {
			t.Errorf("requests to %v, want %v", got, want)
		}
		retries, sent := g.retryEvents(), g.sentTimes()
		if len(retries) != 2 {
			t.Fatalf("retries %+v, want 2", retries)
		}
		// Jittered exponential backoff: [base/2, base], then [base, 2·base].
		for i, lo := range []time.Duration{500 * time.Millisecond, time.Second} {
			ev := retries[i]
			if ev.model != "gpt-4o" || ev.class != bot.ModelServer || ev.wait < lo || ev.wait > 2*lo {
				t.Errorf("retry %d: %+v, want a server retry waiting %v..%v", i, ev, lo, 2*lo)
			}
			if gap := sent[i+1].Sub(sent[i]); gap != ev.wait {
				t.Errorf("retry %d sent %v after the failure, announced %v", i, gap, ev.wait)
			}
		}
		if gap := sent[3].Sub(sent[2]); gap != 0 {
			t.Errorf("fallback sent %v after the last failure, want at once", gap)
		}
	})
}

// The breaker opens after BreakerFailures consecutive failures, fails fast
// while open, lets one probe through after the cooldown, reopens when it
// fails and closes when it succeeds.
func TestResilientBreaker(t *testing.T) {
	rcfg := llm.ResilientConfig{MaxRetries: -1, BreakerFailures: 3, BreakerCooldown: 30 * time.Second}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		for range 3 {
			g.srv.Enqueue(fakeopenai.Fault{Status: 500})
			wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelServer)
		}
		fastFail := func(wantRetry time.Duration) {
			t.Helper()
			before := len(g.srv.Requests())
			start := time.Now()
			me := wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelUnavailable)
			if me.Code != "circuit_open" || me.RetryAfter != wantRetry || !strings.Contains(me.Message, "circuit open") {
				t.Errorf("error %+v, want circuit_open with RetryAfter %v", me, wantRetry)
			}
			if len(g.srv.Requests()) != before || time.Since(start) != 0 {
				t.Errorf("an open circuit sent a request or waited")
			}
		}
		fastFail(30 * time.Second)
		time.Sleep(10 * time.Second)
		fastFail(20 * time.Second)

		time.Sleep(20 * time.Second) // cooldown over: one probe; it fails
		g.srv.Enqueue(fakeopenai.Fault{Status: 500})
		wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelServer)
		if n := len(g.srv.Requests()); n != 4 {
			t.Fatalf("%d requests, want the probe as the 4th", n)
		}
		fastFail(30 * time.Second) // reopened for a new cooldown

		time.Sleep(30 * time.Second) // the next probe succeeds and closes it
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		if n := len(g.srv.Requests()); n != 6 {
			t.Errorf("%d requests, want 6", n)
		}
	})
}

// With the primary's circuit open, calls go straight to the fallback.
func TestResilientBreakerOpenGoesToFallback(t *testing.T) {
	rcfg := llm.ResilientConfig{MaxRetries: -1, BreakerFailures: 2, BreakerCooldown: time.Minute,
		Fallbacks: []string{"gpt-4o-mini"}}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		// Each call: the primary fails, the fallback answers.
		for range 2 {
			g.srv.Enqueue(fakeopenai.Fault{Status: 503})
			wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o-mini")
		}
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o-mini")
		want := []string{"gpt-4o", "gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "gpt-4o-mini"}
		if got := g.models(); !slices.Equal(got, want) {
			t.Errorf("requests to %v, want %v", got, want)
		}
	})
}

// RPM 60: five requests at once go out a second apart, not in a burst.
func TestResilientPacesRPM(t *testing.T) {
	rcfg := llm.ResilientConfig{RequestsPerMinute: 60}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for range 5 {
			wg.Go(func() {
				_, err := g.res.Stream(t.Context(), hello(), nil)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		sent := g.sentTimes()
		slices.SortFunc(sent, time.Time.Compare)
		for i := 1; i < len(sent); i++ {
			if gap := sent[i].Sub(sent[i-1]); gap < time.Second {
				t.Errorf("requests %d and %d %v apart, want ≥ 1s", i-1, i, gap)
			}
		}
		waits := g.pacedWaits()
		slices.Sort(waits)
		if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}; !slices.Equal(waits, want) {
			t.Errorf("paced waits %v, want %v", waits, want)
		}
	})
}

// remaining-requests 0 with reset 1.5s: the next request waits 1.5 s.
func TestResilientWaitsForHeaderReset(t *testing.T) {
	withResilient(t, fakeopenai.Options{}, llm.Config{}, llm.ResilientConfig{}, func(t *testing.T, g *rig) {
		g.srv.Enqueue(fakeopenai.Fault{Headers: map[string]string{
			"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s",
		}})
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		sent := g.sentTimes()
		if gap := sent[1].Sub(sent[0]); gap != 1500*time.Millisecond {
			t.Errorf("second request %v after the first, want 1.5s", gap)
		}
		if got := g.pacedWaits(); !slices.Equal(got, []time.Duration{1500 * time.Millisecond}) {
			t.Errorf("paced waits %v", got)
		}
		// After the reset the stale headers no longer hold anything back.
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		if got := g.pacedWaits(); len(got) != 1 {
			t.Errorf("paced waits %v, want no new wait", got)
		}
	})
}

// A request too large for the window is returned at once, to a fallback
// neither: the engine shrinks it. OpenAI's 429 "Request too large" for the
// TPM bucket is the same case.
func TestResilientContextTooLongAtOnce(t *testing.T) {
	rcfg := llm.ResilientConfig{Fallbacks: []string{"gpt-4o-mini"}}
	withResilient(t, fakeopenai.Options{Window: 30}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		req := hello()
		req.Messages[1].Content = strings.Repeat("weather ", 100)
		start := time.Now()
		me := wantClass(t, g.stream(t.Context(), req).err, bot.ModelContextTooLong)
		if me.Code != "context_length_exceeded" || time.Since(start) != 0 {
			t.Errorf("error %+v after %v", me, time.Since(start))
		}

		g.srv.Enqueue(fakeopenai.Fault{Status: 429, RetryAfter: "1", ErrorMessage: "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 50000. The input or output tokens must be reduced in order to run successfully."})
		me = wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelContextTooLong)
		if me.Code != "request_too_large" || me.StatusCode != 429 || bot.ModelErrorClassOf(me.Err) != bot.ModelRateLimited {
			t.Errorf("error %+v, want request_too_large wrapping the 429", me)
		}
		if got := g.models(); !slices.Equal(got, []string{"gpt-4o", "gpt-4o"}) || len(g.retryEvents()) != 0 {
			t.Errorf("requests %v, retries %+v: want one each, no retry", got, g.retryEvents())
		}
	})
}

// Auth and bad-request errors are final.
func TestResilientNoRetryForClientErrors(t *testing.T) {
	rcfg := llm.ResilientConfig{Fallbacks: []string{"gpt-4o-mini"}}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		g.srv.Enqueue(fakeopenai.Fault{Status: 401})
		wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelAuth)
		g.srv.Enqueue(fakeopenai.Fault{Status: 404})
		wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelBadRequest)
		if n := len(g.srv.Requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

// A timeout before the first token is retried; the retry answers.
func TestResilientRetriesTimeoutBeforeFirstToken(t *testing.T) {
	ccfg := llm.Config{FirstTokenTimeout: 10 * time.Second}
	withResilient(t, fakeopenai.Options{}, ccfg, llm.ResilientConfig{}, func(t *testing.T, g *rig) {
		g.srv.Enqueue(fakeopenai.Fault{StallAfterChunks: 1})
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		if ev := g.retryEvents(); len(ev) != 1 || ev[0].class != bot.ModelTimeout {
			t.Errorf("retries %+v, want one after a timeout", ev)
		}
	})
}

// A Retry-After beyond MaxRetryAfter fails at once with the wait in the
// error; with a fallback, the fallback answers, and while the primary is
// blocked later calls go to the fallback without asking the primary.
func TestResilientRetryAfterBeyondMax(t *testing.T) {
	rcfg := llm.ResilientConfig{MaxRetryAfter: 30 * time.Second}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		g.srv.Enqueue(fakeopenai.Fault{Status: 429, RetryAfter: "120"})
		start := time.Now()
		me := wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelRateLimited)
		if me.RetryAfter != 2*time.Minute || time.Since(start) != 0 {
			t.Errorf("error %+v after %v, want RetryAfter 2m at once", me, time.Since(start))
		}
		// The block holds for the next call too: a paced error, no request.
		me = wantClass(t, g.stream(t.Context(), hello()).err, bot.ModelRateLimited)
		if me.Code != "paced" || me.RetryAfter != 2*time.Minute || len(g.srv.Requests()) != 1 {
			t.Errorf("second call: %+v with %d requests", me, len(g.srv.Requests()))
		}
	})
	rcfg.Fallbacks = []string{"gpt-4o-mini"}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		g.srv.Enqueue(fakeopenai.Fault{Status: 429, RetryAfter: "120"})
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o-mini")
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o-mini")
		if got, want := g.models(), []string{"gpt-4o", "gpt-4o-mini", "gpt-4o-mini"}; !slices.Equal(got, want) {
			t.Errorf("requests to %v, want %v", got, want)
		}
	})
}

// Cancelling during a backoff or a pacing wait returns at once, and a
// pacing slot given up is handed back.
func TestResilientCancelDuringWaits(t *testing.T) {
	rcfg := llm.ResilientConfig{BaseBackoff: 10 * time.Second, RequestsPerMinute: 1, MaxRetryAfter: 5 * time.Minute}
	withResilient(t, fakeopenai.Options{}, llm.Config{}, rcfg, func(t *testing.T, g *rig) {
		cancelAfter := func(d time.Duration) (context.Context, func()) {
			ctx, cancel := context.WithCancel(t.Context())
			timer := time.AfterFunc(d, cancel)
			return ctx, func() { timer.Stop(); cancel() }
		}
		// Backoff: the 500 is followed by at least 5 s of backoff.
		g.srv.Enqueue(fakeopenai.Fault{Status: 500})
		ctx, stop := cancelAfter(time.Second)
		start := time.Now()
		r := g.stream(ctx, hello())
		stop()
		if !errors.Is(r.err, context.Canceled) || bot.ModelErrorClassOf(r.err) != "" {
			t.Fatalf("error %v, want the cancellation", r.err)
		}
		if took := time.Since(start); took != time.Second {
			t.Errorf("returned %v after the call began, want 1s (at the cancel)", took)
		}
		if n := len(g.srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}

		// Pacing: at RPM 1 the next slot is a minute after the first request.
		ctx, stop = cancelAfter(time.Second)
		start = time.Now()
		r = g.stream(ctx, hello())
		stop()
		if !errors.Is(r.err, context.Canceled) || time.Since(start) != time.Second {
			t.Fatalf("error %v after %v, want the cancellation after 1s", r.err, time.Since(start))
		}
		// The abandoned slot is free again: the next call waits for it, not
		// for the one after.
		start = time.Now()
		wantAnswer(t, g.stream(t.Context(), hello()), "gpt-4o")
		if took := time.Since(start); took != 58*time.Second {
			t.Errorf("next call waited %v, want 58s (the slot at 1m)", took)
		}
	})
}
