package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-bot/parley/bot"
)

// Defaults for zero fields of ResilientConfig.
const (
	DefaultMaxRetries      = 2
	DefaultBaseBackoff     = 500 * time.Millisecond
	DefaultMaxBackoff      = 10 * time.Second
	DefaultMaxRetryAfter   = 30 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// ResilientConfig configures a Resilient. Zero numbers and durations mean
// the Default* values; a negative MaxRetries means no retries, a negative
// BreakerFailures no circuit breaker.
type ResilientConfig struct {
	Model bot.Model // the model client, usually a *Client
	// Fallbacks are model names (llm.fallback_models) tried in order after
	// the requested model failed for good.
	Fallbacks []string

	// The API key's limits from config; 0 means unknown (only the
	// x-ratelimit-* headers pace then).
	RequestsPerMinute, TokensPerMinute int

	// MaxRetries bounds the retries per model (5xx, timeouts, unreachable,
	// rate limited); backoff between them is exponential from BaseBackoff,
	// capped at MaxBackoff, with jitter.
	MaxRetries              int
	BaseBackoff, MaxBackoff time.Duration

	// MaxRetryAfter is the longest Retry-After (or pacing delay) a call
	// waits for; beyond it the call goes to the fallbacks, or fails at once
	// with ModelRateLimited holding the wait in RetryAfter.
	MaxRetryAfter time.Duration

	// The per-model circuit breaker opens after BreakerFailures consecutive
	// failures and lets one probe through after BreakerCooldown.
	BreakerFailures int
	BreakerCooldown time.Duration

	// OnQuotaExhausted is called once per outage, when the first call finds
	// the API quota used up (429 insufficient_quota or a billing code); it
	// is armed again by the next successful call. For the admin notice.
	// The hooks run on the calling goroutine and must not block.
	OnQuotaExhausted func(model string, err *bot.ModelError)
	// OnRetry is called before each retry of model after a failure of
	// class, which waits wait first. For metrics.
	OnRetry func(model string, class bot.ModelErrorClass, wait time.Duration)
	// OnPaced is called when a request to model waits wait for its slot
	// under the key's limits. For metrics.
	OnPaced func(model string, wait time.Duration)

	Logger *slog.Logger // nil means slog.Default()
}

// Resilient wraps a bot.Model with what a shared, rate-limited API key
// needs: per-model pacing under the key's RPM/TPM and the rate-limit
// headers, retries of transient failures with jittered backoff and of 429s
// after Retry-After (only while no text has reached the user), fallback
// models, a per-model circuit breaker, and a once-per-outage notice when
// the quota is spent. It implements bot.Model and is safe for concurrent use.
type Resilient struct {
	cfg ResilientConfig
	log *slog.Logger

	mu     sync.Mutex
	models map[string]*modelGuard

	// quotaOut is set while the quota is known to be spent, so that
	// OnQuotaExhausted fires once per outage.
	quotaOut atomic.Bool
}

// modelGuard is the pacing and breaker state of one model name.
type modelGuard struct {
	pacer   *pacer
	breaker *breaker
}

var _ bot.Model = (*Resilient)(nil)

// NewResilient returns a Resilient around cfg.Model, which must not be nil.
func NewResilient(cfg ResilientConfig) *Resilient {
	if cfg.Model == nil {
		panic("llm: NewResilient without a Model")
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	cfg.MaxRetries = max(cfg.MaxRetries, 0)
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = DefaultBaseBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.BaseBackoff)
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = DefaultBreakerCooldown
	}
	cfg.Fallbacks = append([]string(nil), cfg.Fallbacks...)
	r := &Resilient{cfg: cfg, log: cfg.Logger, models: make(map[string]*modelGuard)}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r
}

// guard returns the state of model, creating it on first use.
func (r *Resilient) guard(model string) *modelGuard {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.models[model]
	if g == nil {
		g = &modelGuard{
			pacer:   newPacer(r.cfg.RequestsPerMinute, r.cfg.TokensPerMinute),
			breaker: newBreaker(r.cfg.BreakerFailures, r.cfg.BreakerCooldown),
		}
		r.models[model] = g
	}
	return g
}

// ObserveRateLimits takes in the rate-limit headers of a response from
// model; wire it to Config.OnRateLimits of the wrapped Client.
func (r *Resilient) ObserveRateLimits(model string, rl RateLimits) {
	r.guard(model).pacer.observe(time.Now(), rl)
}

// Stream sends req to req.Model, pacing, retrying and falling back as the
// type comment describes. The Completion is the last attempt's;
// Completion.Model names the model that answered. Errors are those of the
// wrapped model (a *bot.ModelError, or the caller's cancellation), or a
// ModelRateLimited/ModelUnavailable of Resilient's own (code "paced" or
// "circuit_open").
func (r *Resilient) Stream(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
	var shown atomic.Bool // text reached the caller; retrying would repeat it
	track := func(s string) {
		if s != "" {
			shown.Store(true)
		}
		delta(s)
	}
	if delta == nil {
		track = nil // nothing is shown, so every attempt may be repeated
	}
	cost := estimateCost(req)

	var (
		comp    = bot.Completion{Model: req.Model}
		lastErr *bot.ModelError
	)
	keep := func(me *bot.ModelError) {
		// A fast fail of our own says less than a real error seen earlier.
		if lastErr == nil || (me.Code != "circuit_open" && me.Code != "paced") {
			lastErr = me
		}
	}
	for i, model := range r.candidates(req.Model) {
		if i > 0 {
			// An open circuit or a paced-out model is already logged when
			// it happens; only a real failure is worth a warning per call.
			level := slog.LevelWarn
			if lastErr.Code == "circuit_open" || lastErr.Code == "paced" {
				level = slog.LevelDebug
			}
			r.log.Log(ctx, level, "model falling back", slog.String("from", req.Model), slog.String("to", model),
				slog.String("after", lastErr.Error()))
		}
		attempt := req
		attempt.Model = model
		c, next, err := r.tryModel(ctx, attempt, cost, track, &shown)
		if err == nil {
			return c, nil
		}
		if c.Model != "" { // an attempt ran
			comp = c
		}
		var me *bot.ModelError
		if !next || !errors.As(err, &me) {
			return c, err
		}
		keep(me)
	}
	return comp, lastErr
}

// candidates is the requested model followed by the fallbacks, without
// repeats.
func (r *Resilient) candidates(model string) []string {
	out := make([]string, 0, 1+len(r.cfg.Fallbacks))
	out = append(out, model)
	for _, f := range r.cfg.Fallbacks {
		if f != "" && !containsString(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// tryModel runs req against req.Model with its retries. next reports that
// the error leaves the next fallback model worth trying. The Completion is
// the last attempt's, zero when no attempt was made.
func (r *Resilient) tryModel(ctx context.Context, req bot.ChatRequest, cost int, delta func(string), shown *atomic.Bool) (comp bot.Completion, next bool, err error) {
	model := req.Model
	g := r.guard(model)
	for retry := 0; ; retry++ {
		if err := ctx.Err(); err != nil {
			return comp, false, fmt.Errorf("model %s: %w", model, context.Cause(ctx))
		}
		ticket, open := g.breaker.allow(model, time.Now())
		if open != nil {
			return comp, true, open
		}
		if err := r.pace(ctx, g, model, cost); err != nil {
			g.breaker.record(ticket, outcomeNeutral, time.Now())
			var me *bot.ModelError
			return comp, errors.As(err, &me), err // paced beyond MaxRetryAfter: another model may have room
		}

		comp, err = r.cfg.Model.Stream(ctx, req, delta)
		if err == nil {
			r.recordBreaker(g, model, ticket, outcomeSuccess)
			if r.quotaOut.Swap(false) {
				r.log.Info("model API quota available again", slog.String("model", model))
			}
			return comp, false, nil
		}
		if ctx.Err() != nil {
			// The caller's cancellation, never retried.
			r.recordBreaker(g, model, ticket, outcomeNeutral)
			return comp, false, err
		}
		var me *bot.ModelError
		if !errors.As(err, &me) {
			r.recordBreaker(g, model, ticket, outcomeNeutral)
			return comp, false, err
		}
		r.recordBreaker(g, model, ticket, health(me.Class))
		if shown.Load() {
			// Text reached the user: a retry would show it twice.
			return comp, false, err
		}

		var wait time.Duration
		switch me.Class {
		case bot.ModelQuotaExhausted:
			r.quotaExhausted(model, me)
			return comp, false, err // the quota is the key's: other models share it
		case bot.ModelRateLimited:
			if tooLarge := requestTooLarge(me); tooLarge != nil {
				return comp, false, tooLarge
			}
			wait = me.RetryAfter
			if wait > 0 {
				// Every request to this model waits, not only this one.
				g.pacer.block(time.Now().Add(wait))
			}
			if wait > r.cfg.MaxRetryAfter {
				return comp, true, err
			}
		case bot.ModelServer, bot.ModelTimeout, bot.ModelUnavailable, bot.ModelTruncated, bot.ModelStreamError:
		default:
			// Context too long (the engine shrinks the request), bad
			// request, auth, protocol: repeating the same request cannot help.
			return comp, false, err
		}
		if retry >= r.cfg.MaxRetries {
			return comp, true, err
		}
		explicit := wait > 0
		if !explicit {
			wait = r.backoff(retry)
		}
		r.log.Info("model call failed, retrying", slog.String("model", model),
			slog.String("class", string(me.Class)), slog.Duration("wait", wait), slog.Int("retry", retry+1))
		if r.cfg.OnRetry != nil {
			r.cfg.OnRetry(model, me.Class, wait)
		}
		if !explicit {
			if err := sleepCtx(ctx, wait); err != nil {
				return comp, false, fmt.Errorf("model %s: backing off: %w", model, err)
			}
		}
		// An explicit Retry-After is waited for by the pacer's block, with
		// every other request to the model.
	}
}

// pace waits for the model's next request slot.
func (r *Resilient) pace(ctx context.Context, g *modelGuard, model string, cost int) error {
	res, wait, ok := g.pacer.reserve(time.Now(), cost, r.cfg.MaxRetryAfter)
	if !ok {
		r.log.Info("model request paced out", slog.String("model", model), slog.Duration("next_slot", wait))
		return &bot.ModelError{Class: bot.ModelRateLimited, Model: model, Code: "paced", RetryAfter: wait,
			Message: fmt.Sprintf("the API key's rate limit allows the next request in %s", wait.Round(time.Second))}
	}
	if wait <= 0 {
		return nil
	}
	if r.cfg.OnPaced != nil {
		r.cfg.OnPaced(model, wait)
	}
	r.log.Debug("model request paced", slog.String("model", model), slog.Duration("wait", wait))
	if err := sleepCtx(ctx, wait); err != nil {
		g.pacer.cancel(res)
		return fmt.Errorf("model %s: waiting for a rate-limit slot: %w", model, err)
	}
	return nil
}

func (r *Resilient) recordBreaker(g *modelGuard, model string, t breakerTicket, o outcome) {
	state, changed := g.breaker.record(t, o, time.Now())
	if !changed {
		return
	}
	if state == breakerOpen {
		r.log.Warn("model circuit breaker open", slog.String("model", model),
			slog.Duration("cooldown", r.cfg.BreakerCooldown))
	} else {
		r.log.Info("model circuit breaker "+state.String(), slog.String("model", model))
	}
}

// quotaExhausted tells the admins, once per outage.
func (r *Resilient) quotaExhausted(model string, me *bot.ModelError) {
	if r.quotaOut.Swap(true) {
		return
	}
	r.log.Error("model API quota exhausted; requests fail until it is topped up",
		slog.String("model", model), slog.String("code", me.Code), slog.String("err", me.Error()))
	if r.cfg.OnQuotaExhausted != nil {
		r.cfg.OnQuotaExhausted(model, me)
	}
}

// backoff is the wait before retry n (from 0): exponential, capped, with
// "equal jitter" (half fixed, half random) so that clients that failed
// together do not retry together, yet never retry at once.
func (r *Resilient) backoff(n int) time.Duration {
	d := r.cfg.MaxBackoff
	if n < 30 {
		d = min(r.cfg.BaseBackoff<<n, r.cfg.MaxBackoff)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// health sorts an error class into what it says about the model's health.
func health(c bot.ModelErrorClass) outcome {
	switch c {
	case bot.ModelServer, bot.ModelTimeout, bot.ModelUnavailable, bot.ModelTruncated, bot.ModelStreamError:
		return outcomeFailure
	default:
		return outcomeNeutral
	}
}

// requestTooLarge turns OpenAI's 429 "Request too large … on tokens per
// min" into ModelContextTooLong: it is a rate-limit error no wait can
// cure, and the engine's answer to ModelContextTooLong (shrink the request)
// is the one that may help. It returns nil for other errors.
func requestTooLarge(me *bot.ModelError) *bot.ModelError {
	if !strings.Contains(strings.ToLower(me.Message), "request too large") {
		return nil
	}
	return &bot.ModelError{Class: bot.ModelContextTooLong, Model: me.Model, StatusCode: me.StatusCode,
		Code: "request_too_large", Message: me.Message, Err: me}
}

// estimateCost is the token count OpenAI's limiter charges for req: the
// prompt plus the completion limit. Without a local prompt count it falls
// back to about four bytes a token.
func estimateCost(req bot.ChatRequest) int {
	prompt := req.PromptTokens
	if prompt <= 0 {
		n := 0
		for _, m := range req.Messages {
			n += len(m.Content) + len(m.Name) + 4
		}
		prompt = n / 4
	}
	return prompt + max(req.MaxTokens, 0)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
