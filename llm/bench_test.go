package llm_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// BenchmarkStreamLongContent replays the 181-event recording through the
// client over loopback: the client's per-chunk overhead (SSE filter,
// go-openai line splitting, chunk decoding, watchdog resets).
func BenchmarkStreamLongContent(b *testing.B) {
	srv, err := fakeopenai.Start(fakeopenai.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close(context.Background())
	c, err := llm.New(llm.Config{BaseURL: srv.URL(), APIKey: testKey, Logger: slog.New(slog.DiscardHandler),
		FirstTokenTimeout: time.Minute, IdleTimeout: time.Minute, TotalTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var lat []time.Duration
	chunks := 0
	b.ResetTimer()
	for b.Loop() {
		srv.Enqueue(fakeopenai.Replay(recorded("long-content.sse"), 0))
		start := time.Now()
		if _, err := c.Stream(context.Background(), hello(), func(string) { chunks++ }); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs/call")
	b.ReportMetric(float64(chunks)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkCountPrompt(b *testing.B) {
	tc := llm.NewTokenCounter()
	msgs := hello().Messages
	tc.CountPrompt("gpt-4o", msgs) // load the encoding outside the timing
	for b.Loop() {
		tc.CountPrompt("gpt-4o", msgs)
	}
}
