package conversation

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parley-bot/parley/bot"
)

// A message sent while the reply to an earlier one is still streaming is
// its own turn: the earlier reply stays with its question, and the prompt
// for the earlier message does not include the later one.
func TestQueuedMessageFormsItsOwnTurn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openStore(t, Options{Path: path, DefaultModel: "gpt-4o-mini"})
	key := testKey("queued")
	u1, err := s.SaveUserMessage(ctx, userMsg(key, "1", "Ana", "first question"), bot.StatusComplete)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := s.SaveUserMessage(ctx, userMsg(key, "2", "Ana", "second question"), bot.StatusComplete)
	if err != nil {
		t.Fatal(err)
	}

	p1, err := s.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o-mini", SystemPrompt: "sys", ReplyTo: u1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := contents(p1.Messages), []string{"sys", "first question"}; !slices.Equal(got, want) {
		t.Errorf("prompt for the first message %q, want %q", got, want)
	}
	r1, err := s.BeginReply(ctx, key, u1, "gpt-4o-mini")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishReply(ctx, r1, bot.ReplyOutcome{Text: "first answer", Status: bot.StatusComplete}); err != nil {
		t.Fatal(err)
	}

	want := []string{"sys", "first question", "first answer", "second question"}
	p2, err := s.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o-mini", SystemPrompt: "sys", ReplyTo: u2})
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(p2.Messages); !slices.Equal(got, want) {
		t.Errorf("prompt for the queued message %q, want %q", got, want)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The same order after a restart, read from SQLite.
	s2 := openStore(t, Options{Path: path, DefaultModel: "gpt-4o-mini"})
	p3, err := s2.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o-mini", SystemPrompt: "sys", ReplyTo: u2})
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(p3.Messages); !slices.Equal(got, want) {
		t.Errorf("prompt after a restart %q, want %q", got, want)
	}
	if p3.Tokens != p2.Tokens {
		t.Errorf("tokens after a restart %d, before %d", p3.Tokens, p2.Tokens)
	}
}

func contents(ms []bot.ChatMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Content)
	}
	return out
}
