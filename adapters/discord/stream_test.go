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
func streamReply(t testing.TB, r *stream.Renderer, out bot.Outbox, key bot.ThreadKey, text string, chunks int, gap time.Duration, firstToken func(time.Time)) bot.Rendered {
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

func newRenderer(t testing.TB) *stream.Renderer {
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

// fiveRepliesFirstText streams five replies at once into one channel
// through discordgo and the fake (5 edits / 5 s), checks that each shows
// part of its text before the whole and ends complete, and that the fake
// refused nothing (progressive edits themselves are
// TestE2EMentionOpensThreadStreamsAndContinues's), and returns
// how long after its first token each reply's first text was visible.
// The renderer's scheduling guarantee (≤ 1 s) is proven in fake time by
// stream's TestFirstTextPromptWithFiveReplies; here the wall-clock lag is
// only reported (BenchmarkFirstTextFiveReplies records it).
func fiveRepliesFirstText(t testing.TB) []time.Duration {
	f := newFake(t, discordfake.Options{EditLimit: 5, EditWindow: 5 * time.Second})
	h := start(t, f, testOptions(f), newRecorder())
	r := newRenderer(t)

	var wg sync.WaitGroup
	var mu sync.Mutex
	first := map[int]time.Time{}
	results := make([]bot.Rendered, 5)
	texts := make([]string, 5)
	for i := range 5 {
		texts[i] = fmt.Sprintf("Reply %d begins here and goes on for a while.", i)
		wg.Go(func() {
			key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: fmt.Sprintf("8%017d", i)}
			// The placeholder goes out first; the model answers a moment later.
			time.Sleep(300 * time.Millisecond)
			results[i] = streamReply(t, r, h.ad, key, texts[i], 4, 400*time.Millisecond,
				func(at time.Time) { mu.Lock(); first[i] = at; mu.Unlock() })
		})
	}
	wg.Wait()
	lags := make([]time.Duration, 5)
	for i, res := range results {
		if len(res.MessageIDs) != 1 {
			t.Errorf("reply %d: messages %v, want 1", i, res.MessageIDs)
			continue
		}
		m, _ := f.Message(res.MessageIDs[0])
		if len(m.History) == 0 || m.History[len(m.History)-1] != texts[i] {
			t.Errorf("reply %d: final text %q, want %q", i, m.History, texts[i])
			continue
		}
		// The first text shown is part of the answer, before the whole
		// (the model takes 1.2 s after its first token).
		shown := -1
		for j, text := range m.History {
			if strings.HasPrefix(text, fmt.Sprintf("Reply %d", i)) {
				shown = j
				break
			}
		}
		if shown < 0 || m.History[shown] == texts[i] {
			t.Errorf("reply %d: versions %q, want its text shown in part before the whole", i, m.History)
			continue
		}
		lags[i] = m.At[shown].Sub(first[i])
	}
	if rj := f.Rejected(); rj != (discordfake.Rejections{}) {
		t.Errorf("fake 429s = %+v", rj)
	}
	return lags
}

func TestFiveRepliesShareTheChannelBucket(t *testing.T) {
	t.Logf("first text visible after the first token: %v", fiveRepliesFirstText(t))
}
