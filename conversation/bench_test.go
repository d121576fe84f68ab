package conversation

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

// seedThread writes n messages (alternating user and assistant, ~40 tokens
// each) straight into the database, as a long-lived thread would have them.
func seedThread(b *testing.B, s *Store, key bot.ThreadKey, n int) {
	b.Helper()
	ctx := context.Background()
	enc := s.encodingOf("gpt-4o")
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		tid, err := s.upsertThread(ctx, tx, key, nowMilli())
		if err != nil {
			return err
		}
		for i := range n {
			role, pid := "assistant", ""
			if i%2 == 0 {
				role, pid = "user", fmt.Sprintf("seed%d", i)
			}
			text := fmt.Sprintf("message %d: %s", i, filler(i, 30))
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (thread_id, role, platform_message_id, author_id, author_name, text,
				token_count, token_encoding, status, created_at, updated_at) VALUES (?, ?, ?, 'U1', 'Ana', ?, ?, ?, 'complete', 0, 0)`,
				tid, role, pid, text, s.codecs.count(enc, text), enc.String()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchStore(b *testing.B) *Store {
	return openStore(b, Options{Policy: PolicyTruncate, Models: smallModels(), MaxOutputTokens: 4096})
}

// BenchmarkAppend stores user messages in a long thread whose entry is
// cached; it reports the 99th percentile latency.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("msgs=%d", n), func(b *testing.B) {
			s := benchStore(b)
			key := testKey("bench")
			seedThread(b, s, key, n)
			ctx := context.Background()
			if _, err := s.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o"}); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			text := "a new question: " + filler(3, 30)
			i := 0
			for b.Loop() {
				start := time.Now()
				if _, err := s.SaveUserMessage(ctx, userMsg(key, fmt.Sprintf("new%d", i), "Ana", text), bot.StatusComplete); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				i++
			}
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkPrompt builds the request for a long cached thread: for gpt-4o
// (124k-token budget, thousands of messages sent) and a 4k-window model.
func BenchmarkPrompt(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, model := range []string{"gpt-4o", smallModel} {
			b.Run(fmt.Sprintf("msgs=%d/model=%s", n, model), func(b *testing.B) {
				s := benchStore(b)
				key := testKey("bench")
				seedThread(b, s, key, n)
				ctx := context.Background()
				if _, err := s.SaveUserMessage(ctx, userMsg(key, "q", "Ana", "the newest question"), bot.StatusComplete); err != nil {
					b.Fatal(err)
				}
				opts := bot.PromptOptions{Model: model, SystemPrompt: "You are Parley, a helpful assistant."}
				if _, err := s.Prompt(ctx, key, opts); err != nil { // load and count once
					b.Fatal(err)
				}
				lat := make([]time.Duration, 0, b.N)
				var p bot.Prompt
				for b.Loop() {
					start := time.Now()
					var err error
					if p, err = s.Prompt(ctx, key, opts); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				b.ReportMetric(float64(len(p.Messages)), "msgs_sent")
				reportPercentiles(b, lat)
			})
		}
	}
}

// BenchmarkPromptCold loads a 10,000-message thread from the database on
// every request (the cache holds one thread and another one evicts it).
func BenchmarkPromptCold(b *testing.B) {
	s := openStore(b, Options{Policy: PolicyTruncate, CacheThreads: 1})
	key, other := testKey("bench"), testKey("other")
	seedThread(b, s, key, 10000)
	seedThread(b, s, other, 2)
	ctx := context.Background()
	opts := bot.PromptOptions{Model: "gpt-4o"}
	for b.Loop() {
		if _, err := s.Prompt(ctx, key, opts); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ThreadActive(ctx, other); err != nil {
			b.Fatal(err)
		}
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50_ms")
	b.ReportMetric(at(0.99), "p99_ms")
}
