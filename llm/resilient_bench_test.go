package llm_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// BenchmarkResilientOverhead streams a short answer over loopback through
// the bare Client and through Resilient around it (RPM/TPM high enough
// never to wait, headers observed, breaker armed): the wrapper's cost per
// call against a real call.
func BenchmarkResilientOverhead(b *testing.B) {
	srv, err := fakeopenai.Start(fakeopenai.Options{Logger: slog.New(slog.DiscardHandler),
		Answer: func(fakeopenai.Request) string { return answerText }})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close(context.Background())
	var res *llm.Resilient
	headers := map[string]string{"x-ratelimit-limit-requests": "1000000", "x-ratelimit-remaining-requests": "999999",
		"x-ratelimit-reset-requests": "6ms", "x-ratelimit-limit-tokens": "100000000",
		"x-ratelimit-remaining-tokens": "99999000", "x-ratelimit-reset-tokens": "1ms"}
	c, err := llm.New(llm.Config{BaseURL: srv.URL(), APIKey: testKey, Logger: slog.New(slog.DiscardHandler),
		OnRateLimits: func(model string, rl llm.RateLimits) {
			if res != nil {
				res.ObserveRateLimits(model, rl)
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	res = llm.NewResilient(llm.ResilientConfig{Model: c, Fallbacks: []string{"gpt-4o-mini"},
		RequestsPerMinute: 100_000_000, TokensPerMinute: 1_000_000_000, Logger: slog.New(slog.DiscardHandler)})

	for _, bc := range []struct {
		name  string
		model bot.Model
	}{{"bare", c}, {"resilient", res}} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			req := hello()
			for b.Loop() {
				srv.Enqueue(fakeopenai.Fault{Headers: headers})
				start := time.Now()
				if _, err := bc.model.Stream(context.Background(), req, func(string) {}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs/call")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs/call")
		})
	}
}

// BenchmarkResilientWrapper is the wrapper alone around a model that
// answers at once: pacer, breaker and bookkeeping per call.
func BenchmarkResilientWrapper(b *testing.B) {
	m := modelFunc(func(_ context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
		delta(answerText)
		return bot.Completion{Model: req.Model, Text: answerText}, nil
	})
	res := llm.NewResilient(llm.ResilientConfig{Model: m, RequestsPerMinute: 1_000_000_000,
		TokensPerMinute: 1_000_000_000_000, Logger: slog.New(slog.DiscardHandler)})
	req := hello()
	req.PromptTokens, req.MaxTokens = 30, 100
	b.ReportAllocs()
	for b.Loop() {
		if _, err := res.Stream(context.Background(), req, func(string) {}); err != nil {
			b.Fatal(err)
		}
	}
}
