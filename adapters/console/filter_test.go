package console_test

import (
	"strings"
	"testing"

	"github.com/parley-bot/parley/adapters/console"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/filters"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// The word filter through the whole console path: banned input never
// reaches the model; banned output is masked on screen and in the store.
func TestWordFilterEndToEnd(t *testing.T) {
	opts := filters.DefaultOptions()
	opts.Words = []string{"暴力", "darn"}
	f, err := filters.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rig := testrig.New(t, testrig.Options{
		Model: fakeopenai.Options{Answer: func(fakeopenai.Request) string {
			return "Well, DARN it: ｄａｒｎ and d\u200barn are all masked, but darning is fine."
		}},
		Engine: func(c *bot.EngineConfig) { c.Filter = f },
	})
	out := converse(t, rig, "tell me about 暴力 please", "say something rude")
	rs := replies(out)
	if len(rs) != 2 {
		t.Fatalf("replies %q", rs)
	}
	if rs[0] != filters.DefaultInputNotice {
		t.Errorf("banned input answered %q, want the notice", rs[0])
	}
	want := "Well, ＊＊＊＊ it: ＊＊＊＊ and ＊\u200b＊＊＊ are all masked, but darning is fine."
	if rs[1] != want {
		t.Errorf("shown %q, want %q", rs[1], want)
	}
	reqs := rig.Model.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d model requests, want 1 (the banned message is not sent)", len(reqs))
	}
	for _, m := range reqs[0].Messages {
		if strings.Contains(m.Content, "暴力") {
			t.Errorf("the banned message reached the model: %q", m.Content)
		}
	}
	hist := rig.History(console.Key("main"))
	if hist[0].Status != bot.StatusFiltered {
		t.Errorf("banned message stored as %s, want filtered", hist[0].Status)
	}
	last := hist[len(hist)-1]
	if last.Text != want || last.Status != bot.StatusComplete {
		t.Errorf("stored reply %q (%s), want what was shown", last.Text, last.Status)
	}
}
