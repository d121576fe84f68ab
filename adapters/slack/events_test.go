package slack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
)

func TestMentionBecomesMessage(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	ts := "1700000100.000200"
	h.send(mention("C1", "U1", "<@UBOT> ask <@U2> about &lt;tags&gt; &amp; <https://go.dev|Go>", ts, ""))
	h.settle(1)
	msgs := h.rec.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	want := bot.Message{
		Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: ts, ID: ts,
		EventID: "C1/" + ts, AuthorID: "U1", AuthorName: "Ana", MentionsBot: true,
		Text: "ask @Ben Ortiz about <tags> & Go (https://go.dev)",
		Time: time.Unix(1700000100, 200_000).UTC(),
	}
	if got != want {
		t.Errorf("message:\n got %+v\nwant %+v", got, want)
	}
}

func TestMentionInThreadRepliesInThread(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	h.send(mention("C1", "U1", "<@UBOT> more", "1700000101.000001", "1700000100.000001"))
	h.settle(1)
	m := h.rec.messages()[0]
	if m.Thread != "1700000100.000001" || m.ID != "1700000101.000001" {
		t.Errorf("thread %q id %q, want thread root 1700000100.000001", m.Thread, m.ID)
	}
}

func TestSameMessageHandledOnce(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	ts := "1700000200.000001"
	// app_mention and message.channels for one message, a retry of the
	// first with the same event_id, and a later redelivery with a new one.
	h.sendID("EvA", mention("C1", "U1", "<@UBOT> hi", ts, ""))
	h.sendID("EvB", message("C1", "channel", "U1", "<@UBOT> hi", ts, ""))
	h.sendID("EvA", mention("C1", "U1", "<@UBOT> hi", ts, ""))
	h.sendID("EvC", mention("C1", "U1", "<@UBOT> hi", ts, ""))
	h.settle(4)
	if n := len(h.rec.messages()); n != 1 {
		t.Fatalf("handled %d times, want once", n)
	}
	if got := h.rec.messages()[0].DedupeID(); got != "C1/"+ts {
		t.Errorf("DedupeID %q, want C1/%s", got, ts)
	}
}

func TestDirectMessage(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	h.send(message("D1", "im", "U1", "hello there", "1700000300.000001", ""))
	h.send(message("D1", "im", "U1", "in a thread", "1700000302.000001", "1700000301.000001"))
	h.settle(2)
	msgs := h.rec.messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	byText := map[string]bot.Message{}
	for _, m := range msgs {
		byText[m.Text] = m
	}
	dm := byText["hello there"]
	if !dm.IsDM || dm.Thread != "D1" || dm.MentionsBot {
		t.Errorf("DM: IsDM %v thread %q mentions %v; want a DM keyed by its channel", dm.IsDM, dm.Thread, dm.MentionsBot)
	}
	if th := byText["in a thread"]; th.Thread != "1700000301.000001" {
		t.Errorf("DM thread reply keyed %q, want the thread root", th.Thread)
	}
}

func TestThreadFollowUps(t *testing.T) {
	for _, tc := range []struct {
		name          string
		noMentionOpt  bool
		active        bool
		threadTS      string
		wantDelivered bool
	}{
		{"active thread", true, true, "1700000400.000001", true},
		{"inactive thread", true, false, "1700000400.000001", false},
		{"option off", false, true, "1700000400.000001", false},
		{"top level without mention", true, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startSocket(t, slackfake.Options{}, func(o *Options) { o.ReplyInThreadsWithoutMention = tc.noMentionOpt })
			if tc.active {
				h.rec.setActive(bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700000400.000001"})
				h.rec.setActive(bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700000401.000001"})
			}
			h.send(message("C1", "channel", "U1", "and then?", "1700000401.000001", tc.threadTS))
			h.settle(1)
			if got := len(h.rec.messages()) == 1; got != tc.wantDelivered {
				t.Fatalf("delivered %v, want %v", got, tc.wantDelivered)
			}
			if tc.wantDelivered && h.rec.messages()[0].MentionsBot {
				t.Error("follow-up marked as mentioning the bot")
			}
		})
	}
}

func TestIgnoreRules(t *testing.T) {
	cases := []struct {
		name  string
		inner map[string]any
		bots  bool
		want  bool
	}{
		{"own user", message("D1", "im", "UBOT", "echo", "1.1", ""), false, false},
		{"own bot id", withField(message("D1", "im", "UBOT", "echo", "1.2", ""), "bot_id", "BBOT"), true, false},
		{"other bot", withField(message("D1", "im", "U9", "beep", "1.3", ""), "bot_id", "BOTHER"), false, false},
		{"other bot allowed", withField(message("D1", "im", "U9", "beep", "1.4", ""), "bot_id", "BOTHER"), true, true},
		{"other bot mention", withField(mention("C1", "U9", "<@UBOT> beep", "1.5", ""), "bot_id", "BOTHER"), false, false},
		{"channel_join", withField(message("D1", "im", "U1", "joined", "1.6", ""), "subtype", "channel_join"), false, false},
		{"file_share", withField(message("D1", "im", "U1", "a file", "1.7", ""), "subtype", "file_share"), false, true},
		{"thread_broadcast", withField(message("C1", "channel", "U1", "<@UBOT> also", "1.8", "1.0"), "subtype", "thread_broadcast"), false, true},
		{"me_message", withField(message("D1", "im", "U1", "waves", "1.9", ""), "subtype", "me_message"), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startSocket(t, slackfake.Options{}, func(o *Options) { o.RespondToBots = tc.bots })
			h.fake.AddUser(slackfake.User{ID: "U9", Name: "otherbot", IsBot: true})
			h.send(tc.inner)
			h.settle(1)
			if got := len(h.rec.messages()) == 1; got != tc.want {
				t.Fatalf("delivered %v, want %v", got, tc.want)
			}
		})
	}
}

func withField(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func TestEditsAndDeletes(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	changed := func(user, botID, oldText, newText, ts, thread string) map[string]any {
		msg := map[string]any{"type": "message", "user": user, "text": newText, "ts": ts}
		prev := map[string]any{"type": "message", "user": user, "text": oldText, "ts": ts}
		if botID != "" {
			msg["bot_id"], prev["bot_id"] = botID, botID
		}
		if thread != "" {
			msg["thread_ts"], prev["thread_ts"] = thread, thread
		}
		return map[string]any{"type": "message", "subtype": "message_changed", "channel": "C1", "channel_type": "channel",
			"ts": "1700000999.000001", "event_ts": "1700000999.000001", "hidden": true, "message": msg, "previous_message": prev}
	}
	h.send(changed("U1", "", "<@UBOT> wrong", "<@UBOT> right <@U2>", "1700000500.000001", "1700000499.000001"))
	h.send(changed("UBOT", "BBOT", "partial", "partial and more", "1700000501.000001", "1700000499.000001"))
	h.send(changed("U1", "", "same", "same", "1700000502.000001", "")) // unfurl, reply count
	h.send(map[string]any{"type": "message", "subtype": "message_deleted", "channel": "C1", "channel_type": "channel",
		"ts": "1700000998.000001", "deleted_ts": "1700000503.000001", "hidden": true,
		"previous_message": map[string]any{"type": "message", "user": "U1", "text": "<@UBOT> q", "ts": "1700000503.000001", "thread_ts": "1700000499.000001"}})
	h.send(map[string]any{"type": "message", "subtype": "message_deleted", "channel": "C1", "channel_type": "channel",
		"ts": "1700000997.000001", "deleted_ts": "1700000504.000001", "hidden": true,
		"previous_message": map[string]any{"type": "message", "user": "UBOT", "bot_id": "BBOT", "text": "answer", "ts": "1700000504.000001"}})
	h.settle(5)
	msgs, edits, deletes, _ := h.rec.snapshot()
	if len(msgs) != 0 {
		t.Errorf("edits produced %d new messages", len(msgs))
	}
	key := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700000499.000001"}
	wantEdits := []editCall{{key, "1700000500.000001", "right @Ben Ortiz"}}
	if len(edits) != 1 || edits[0] != wantEdits[0] {
		t.Errorf("edits %+v, want %+v", edits, wantEdits)
	}
	wantDel := deleteCall{key, "1700000503.000001"}
	if len(deletes) != 1 || deletes[0] != wantDel {
		t.Errorf("deletes %+v, want [%+v]", deletes, wantDel)
	}
}

func TestOwnPostsAndUpdatesAreIgnored(t *testing.T) {
	h := startSocket(t, slackfake.Options{EchoBotMessages: true}, nil)
	th := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700000600.000001"}
	h.rec.setActive(th) // follow-ups in this thread would be answered
	ctx := t.Context()
	id, err := h.a.Post(ctx, th, "thinking…")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.a.Edit(ctx, th, id, "the answer"); err != nil {
		t.Fatal(err)
	}
	h.settle(2) // the echoed message and message_changed
	msgs, edits, _, _ := h.rec.snapshot()
	if len(msgs) != 0 || len(edits) != 0 {
		t.Fatalf("own messages handled: %d messages, %d edits", len(msgs), len(edits))
	}
}

func TestPrepareTextLeavesCodeAlone(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	text := "<@UBOT> fix\n```\nif a &lt; b &amp;&amp; c {\n    x  :=  1\n}\n```"
	h.send(message("D1", "im", "U1", text, "1700000700.000001", ""))
	h.settle(1)
	want := "fix\n```\nif a < b && c {\n    x  :=  1\n}\n```"
	if got := h.rec.messages()[0].Text; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
}

// FuzzPrepareText feeds user text in Slack's wire format to the function
// that turns it into what the model reads: it never panics, removes the
// bot's mention, keeps valid UTF-8 valid, and costs at most
// maxMentionLookups users.info calls however many mentions it holds.
func FuzzPrepareText(f *testing.F) {
	for _, s := range []string{
		"", "<@UBOT> hello", "<@UBOT|parley> hi <@U1> and <@U2|ana>", "<#C1|general> <#C2>", "<!here> <!subteam^S1|@devs>",
		"<https://x.y|link> <mailto:a@b.c>", "&lt;b&gt; &amp;", "<<@U1>>", "<@>", "<|>", "<@U1|>", "\xff<@U1>", "<@UBOT", "<@U1|a|b>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		calls := 0
		a := &Adapter{self: identity{UserID: "UBOT"}}
		a.users = newUserCache(64, time.Minute, func(_ context.Context, id string) (userInfo, error) {
			calls++
			if id == "" || strings.ContainsAny(id, "!") {
				return userInfo{}, errors.New("user_not_found")
			}
			return userInfo{ID: id, Name: "n-" + id}, nil
		})
		out := a.prepareText(context.Background(), raw)
		if calls > maxMentionLookups {
			t.Errorf("%d users.info calls, want at most %d", calls, maxMentionLookups)
		}
		if utf8.ValidString(raw) && !utf8.ValidString(out) {
			t.Errorf("valid input %q gave invalid output %q", raw, out)
		}
		if strings.Contains(raw, "<@UBOT>") && !strings.Contains(strings.ReplaceAll(raw, "<@UBOT>", ""), "UBOT") &&
			!strings.Contains(raw, "&") && strings.Contains(out, "UBOT") {
			t.Errorf("the bot's mention survived: %q → %q", raw, out)
		}
	})
}
