package discord

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/stream"
)

// These tests drive the adapter with the real stream renderer alone, where
// the test must see the model's tokens itself (e2e_test.go covers the
// rest with the whole engine).

// streamReply plays a model: text in chunks, gap apart, then Close.
func streamReply(t *testing.T, r *stream.Renderer, out bot.Outbox, key bot.ThreadKey, text string, chunks int, gap time.Duration, firstToken func(time.Time)) bot.Rendered {
	t.Helper()
	rs := r.Open(context.Background(), out, key, nil)
	step := (len(text) + chunks - 1) / chunks
	for i := 0; i < len(text); i += step {
		if i > 0 {
			time.Sleep(gap)
		}
		if i == 0 && firstToken != nil {
			firstToken(time.Now())
		}
		rs.Append(text[i:min(i+step, len(text))])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := rs.Close(ctx, "")
	if err != nil {
		t.Errorf("Close(%v): %v", key, err)
	}
	return res
}

func newRenderer(t *testing.T) *stream.Renderer {
	r := stream.NewRenderer(stream.Options{Logger: quietLogger()})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("renderer Close: %v", err)
		}
	})
	return r
}

// With five replies sharing the bucket, each one's first text shows within
// a second of its first token.
func TestFirstTextPromptWithFiveReplies(t *testing.T) {
	f := newFake(t, discordfake.Options{EditLimit: 5, EditWindow: 5 * time.Second})
	h := start(t, f, testOptions(f), newRecorder())
	r := newRenderer(t)

	var wg sync.WaitGroup
	var mu sync.Mutex
	first := map[int]time.Time{}
	results := make([]bot.Rendered, 5)
	for i := range 5 {
		wg.Go(func() {
			key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: fmt.Sprintf("8%017d", i)}
			// The placeholder goes out first; the model answers a moment later.
			time.Sleep(300 * time.Millisecond)
			results[i] = streamReply(t, r, h.ad, key, fmt.Sprintf("Reply %d begins here and goes on for a while.", i), 4, 400*time.Millisecond,
				func(at time.Time) { mu.Lock(); first[i] = at; mu.Unlock() })
		})
	}
	wg.Wait()
	for i, res := range results {
		m, _ := f.Message(res.MessageIDs[0])
		prefix := fmt.Sprintf("Reply %d", i)
		var shown time.Time
		for j, text := range m.History {
			if strings.HasPrefix(text, prefix) {
				shown = m.At[j]
				break
			}
		}
		if shown.IsZero() {
			t.Errorf("reply %d never showed text: %q", i, m.History)
			continue
		}
		if lag := shown.Sub(first[i]); lag > time.Second {
			t.Errorf("reply %d: first text visible %v after the first token, want ≤ 1s", i, lag)
		}
	}
	if rj := f.Rejected(); rj != (discordfake.Rejections{}) {
		t.Errorf("fake 429s = %+v", rj)
	}
}
