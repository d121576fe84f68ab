package slack

import (
	"context"
	"fmt"
	"github.com/slack-go/slack"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
)

func newOutbox(t *testing.T, fo slackfake.Options) (*Adapter, *slackfake.Fake) {
	t.Helper()
	fake := newFake(t, fo)
	a, err := New(baseOptions(fake), nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, fake
}

func TestPostAndEdit(t *testing.T) {
	a, fake := newOutbox(t, slackfake.Options{})
	ctx := t.Context()
	thread := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700001000.000001"}
	id, err := a.Post(ctx, thread, "_thinking…_")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Edit(ctx, thread, id, "**Yes** & [docs](https://go.dev/doc)"); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Thread("C1", "1700001000.000001")
	if len(msgs) != 1 || msgs[0].TS != id {
		t.Fatalf("thread holds %+v, want the one posted message %s", msgs, id)
	}
	want := []string{"_thinking…_", "*Yes* &amp; <https://go.dev/doc|docs>"}
	if strings.Join(msgs[0].History, "|") != strings.Join(want, "|") {
		t.Errorf("history %q, want %q", msgs[0].History, want)
	}

	dm := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "D1", Thread: "D1"}
	if _, err := a.Post(ctx, dm, "hi"); err != nil {
		t.Fatal(err)
	}
	if got := fake.Messages("D1"); len(got) != 1 || got[0].ThreadTS != "" {
		t.Errorf("DM reply %+v, want a top-level message", got)
	}
}

func TestEditRateLimitedMapsRetryAfter(t *testing.T) {
	a, fake := newOutbox(t, slackfake.Options{})
	ctx := t.Context()
	thread := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700001100.000001"}
	id, err := a.Post(ctx, thread, "…")
	if err != nil {
		t.Fatal(err)
	}
	fake.RateLimitNextUpdates(1, 2*time.Second)
	err = a.Edit(ctx, thread, id, "text")
	rl, ok := bot.AsRateLimited(err)
	if !ok {
		t.Fatalf("Edit = %v, want *bot.RateLimitedError", err)
	}
	if rl.RetryAfter != 2*time.Second || rl.Op != "chat.update" {
		t.Errorf("got %+v, want chat.update retry after 2s", rl)
	}
	if fake.RateLimited() != 1 {
		t.Errorf("fake counted %d rejections", fake.RateLimited())
	}
}

func TestFakeEnforcesEditBudget(t *testing.T) {
	a, fake := newOutbox(t, slackfake.Options{EditsPerMinute: 50, EditBurst: 3})
	ctx := t.Context()
	thread := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700001200.000001"}
	id, err := a.Post(ctx, thread, "…")
	if err != nil {
		t.Fatal(err)
	}
	var limited int
	for i := range 4 {
		if err := a.Edit(ctx, thread, id, strings.Repeat("x", i+1)); err != nil {
			if _, ok := bot.AsRateLimited(err); !ok {
				t.Fatalf("edit %d: %v", i, err)
			}
			limited++
		}
	}
	if limited != 1 || fake.RateLimited() != 1 {
		t.Errorf("limited %d (fake %d), want exactly the 4th of a burst of 3", limited, fake.RateLimited())
	}
	if h := fake.Thread("C1", "1700001200.000001")[0].History; len(h) != 4 {
		t.Errorf("history %q, want the post and 3 edits", h)
	}
}

func TestPostErrorsAreWrapped(t *testing.T) {
	a, _ := newOutbox(t, slackfake.Options{})
	_, err := a.Post(t.Context(), bot.ThreadKey{Platform: bot.PlatformSlack, Channel: "C1", Thread: "1.1"}, "")
	if err == nil || !strings.Contains(err.Error(), "chat.postMessage") || !strings.Contains(err.Error(), "no_text") {
		t.Errorf("Post error %v, want chat.postMessage: no_text", err)
	}
}

func TestTyping(t *testing.T) {
	a, fake := newOutbox(t, slackfake.Options{})
	thread := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "D1", Thread: "1700001300.000001"}
	if err := a.Typing(t.Context(), thread); err != nil {
		t.Fatal(err)
	}
	st := fake.Statuses()
	if len(st) != 1 || st[0] != (slackfake.StatusCall{Channel: "D1", ThreadTS: "1700001300.000001", Status: "is thinking…"}) {
		t.Errorf("statuses %+v", st)
	}
}

func TestLimits(t *testing.T) {
	a, _ := newOutbox(t, slackfake.Options{})
	l := a.Limits()
	if l.MaxMessageChars != 3900 || l.Edit.Scope != bot.ScopeWorkspace || l.Edit.Every != 1200*time.Millisecond ||
		l.Post.Scope != bot.ScopeChannel || l.Post.Every != time.Second {
		t.Errorf("limits %+v", l)
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"no bot token":        {AppToken: "xapp-1"},
		"user token":          {BotToken: "xoxp-1", AppToken: "xapp-1"},
		"socket without app":  {BotToken: "xoxb-1"},
		"http without secret": {BotToken: "xoxb-1", Mode: ModeHTTP},
		"bad mode":            {BotToken: "xoxb-1", AppToken: "xapp-1", Mode: "rtm"},
		"bad streaming":       {BotToken: "xoxb-1", AppToken: "xapp-1", Streaming: "fast"},
	} {
		if _, err := New(o, nil); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "xoxb-1") || strings.Contains(err.Error(), "xapp-1") {
			t.Errorf("%s: error %q leaks a token", name, err)
		}
	}
}

func TestUserCacheExpiresAndBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := map[string]int{}
		c := newUserCache(2, time.Minute, func(_ context.Context, id string) (userInfo, error) {
			calls[id]++
			return userInfo{ID: id, Name: "n-" + id}, nil
		})
		ctx := t.Context()
		for range 3 {
			if u, _ := c.get(ctx, "A"); u.Name != "n-A" {
				t.Fatalf("got %+v", u)
			}
		}
		if calls["A"] != 1 {
			t.Errorf("A fetched %d times within the TTL, want 1", calls["A"])
		}
		time.Sleep(61 * time.Second)
		c.get(ctx, "A")
		if calls["A"] != 2 {
			t.Errorf("A fetched %d times after the TTL, want 2", calls["A"])
		}
		c.get(ctx, "B")
		c.get(ctx, "C")
		if c.len() != 2 {
			t.Errorf("cache holds %d, want its bound 2", c.len())
		}
		c.get(ctx, "A") // evicted as the oldest
		if calls["A"] != 3 {
			t.Errorf("A fetched %d times after eviction, want 3", calls["A"])
		}
	})
}

// Slack may answer users.info with another form of the ID asked for
// (Enterprise Grid): the cache still evicts what it stored.
func TestUserCacheBoundWhenSlackRenamesIDs(t *testing.T) {
	c := newUserCache(2, time.Minute, func(_ context.Context, id string) (userInfo, error) {
		return userInfo{ID: "W" + id, Name: "n-" + id}, nil
	})
	for i := range 10 {
		if _, err := c.get(t.Context(), fmt.Sprintf("U%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) != 2 || c.order.Len() != 2 {
		t.Errorf("cache holds %d keys and %d entries, want 2 and 2", len(c.items), c.order.Len())
	}
}

func TestSeenSetExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSeenSet(2, time.Minute)
		if !s.firstTime("a") || s.firstTime("a") {
			t.Fatal("a: want new then seen")
		}
		time.Sleep(2 * time.Minute)
		if !s.firstTime("a") {
			t.Error("a not forgotten after the TTL")
		}
		s.firstTime("b")
		s.firstTime("c")
		s.firstTime("d")
		if !s.firstTime("a") {
			t.Error("a not evicted beyond the bound")
		}
	})
}

func TestTypingRefusedIsQuiet(t *testing.T) {
	a, fake := newOutbox(t, slackfake.Options{})
	fake.RefuseStatus("missing_scope")
	thread := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700001400.000001"}
	for range 3 {
		if err := a.Typing(t.Context(), thread); err != nil {
			t.Fatalf("Typing = %v, want nil for a cosmetic refusal", err)
		}
	}
	if n := fake.Calls("assistant.threads.setStatus"); n != 1 {
		t.Errorf("setStatus called %d times, want 1 (then disabled)", n)
	}
	// A DM without thread has no assistant status to set.
	if err := a.Typing(t.Context(), bot.ThreadKey{Platform: bot.PlatformSlack, Channel: "D1", Thread: "D1"}); err != nil {
		t.Error(err)
	}
}

// response_url is a capability: a failed late answer's error (which is
// logged) does not carry it.
func TestResponseURLNotInErrors(t *testing.T) {
	a, _ := newOutbox(t, slackfake.Options{})
	cmd := slack.SlashCommand{Command: "/parley", ChannelID: "C1",
		ResponseURL: "http://127.0.0.1:1/commands/T0001/123/SECRETPART"} // nothing listens on port 1
	err := a.respond(t.Context(), cmd, bot.CommandResult{Text: "late", Ephemeral: true})
	if err == nil {
		t.Fatal("respond to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "SECRETPART") {
		t.Errorf("error shows the response_url: %v", err)
	}
}

// One message mentioning many users costs at most maxMentionLookups
// users.info calls; the others are named by their mention's label.
func TestMentionLookupsBounded(t *testing.T) {
	a, _ := newOutbox(t, slackfake.Options{})
	calls := 0
	a.users = newUserCache(100, time.Minute, func(_ context.Context, id string) (userInfo, error) {
		calls++
		return userInfo{ID: id, Name: "n-" + id}, nil
	})
	var raw strings.Builder
	for i := range 30 {
		fmt.Fprintf(&raw, "<@U%d|label%d> ", i, i)
	}
	got := a.prepareText(t.Context(), raw.String())
	if calls != maxMentionLookups {
		t.Errorf("%d users.info calls for 30 mentions, want %d", calls, maxMentionLookups)
	}
	if !strings.Contains(got, "@n-U0 ") || !strings.Contains(got, "@label29") {
		t.Errorf("prepared text %q: want looked-up names first, labels after the bound", got)
	}
	// Cached names cost nothing and do not count against the bound.
	calls = 0
	a.prepareText(t.Context(), raw.String())
	if calls != maxMentionLookups {
		t.Errorf("second message: %d calls, want %d (the first ten cached, ten more looked up)", calls, maxMentionLookups)
	}
}
