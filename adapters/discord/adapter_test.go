package discord

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
)

func TestMentionOpensThreadAndResolvesMentions(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	h := start(t, f, testOptions(f), rec)
	bot := f.BotUser().ID

	if got := f.Intents(); got != 1<<9|1<<12|1<<15 {
		t.Errorf("identify intents = %d, want GUILD_MESSAGES|DIRECT_MESSAGES|MESSAGE_CONTENT", got)
	}
	// Not addressed to the bot: ignored.
	f.Send(chanID, aliceID, "just chatting")
	id := f.Send(chanID, aliceID, mention(bot)+" hello "+mention(bobID)+", see <#"+chanID+"> and <@&"+modsRole+">")
	rec.wait(t, "the mention", func() bool { return len(rec.messages) == 1 })

	msgs, _, _, _, _ := rec.snapshot()
	m := msgs[0]
	th, ok := f.Channel(id)
	if !ok || th.Type != 11 || th.ParentID != chanID {
		t.Fatalf("thread from message %s = %+v, %v; want a public thread in %s", id, th, ok, chanID)
	}
	want := "hello @Bob, see #general and @Mods"
	if m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if m.Channel != th.ID || m.Thread != th.ID || m.Workspace != guildID || m.ID != id || m.EventID != id {
		t.Errorf("message keys = ws %q ch %q thread %q id %q event %q; want thread %s for message %s", m.Workspace, m.Channel, m.Thread, m.ID, m.EventID, th.ID, id)
	}
	if !m.MentionsBot || m.IsDM || m.AuthorID != aliceID || m.AuthorName != "Ali" || m.Platform != "discord" {
		t.Errorf("message = %+v", m)
	}
	if th.Name != "hello @Bob, see #general and @Mods" {
		t.Errorf("thread name = %q", th.Name)
	}

	// The bot answers in the thread; its own echoed messages are ignored.
	key := m.Key()
	if err := h.ad.Typing(context.Background(), key); err != nil {
		t.Fatalf("Typing: %v", err)
	}
	mid, err := h.ad.Post(context.Background(), key, "Hi Ali")
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if err := h.ad.Edit(context.Background(), key, mid, "Hi Ali, welcome"); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	got, _ := f.Message(mid)
	if got.ChannelID != th.ID || strings.Join(got.History, "|") != "Hi Ali|Hi Ali, welcome" || got.Reference != "" {
		t.Errorf("bot message = %+v", got)
	}
	if n := f.Stats().Typing[th.ID]; n != 1 {
		t.Errorf("typing in thread = %d, want 1", n)
	}

	// A follow-up in the thread needs no mention.
	f2 := f.Send(th.ID, bobID, "and me?")
	rec.wait(t, "the follow-up", func() bool { return len(rec.messages) == 2 })
	msgs, _, _, _, dupes := rec.snapshot()
	if fu := msgs[1]; fu.ID != f2 || fu.Key() != key || fu.MentionsBot || fu.Text != "and me?" {
		t.Errorf("follow-up = %+v, want key %v", fu, key)
	}
	if dupes != 0 {
		t.Errorf("duplicates = %d", dupes)
	}
}

func TestReplyModeReferencesFirstPart(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	opts := testOptions(f)
	opts.ReplyMode = ReplyModeReply
	h := start(t, f, opts, rec)

	id := f.Send(chanID, aliceID, "<@!"+f.BotUser().ID+"> question")
	rec.wait(t, "the mention", func() bool { return len(rec.messages) == 1 })
	m := rec.msg(0)
	if m.Channel != chanID || m.Thread != id || m.Text != "question" {
		t.Fatalf("message = %+v, want channel %s thread %s", m, chanID, id)
	}
	if f.Stats().ThreadsOpened != 0 {
		t.Errorf("a thread was opened in reply mode")
	}
	first, err := h.ad.Post(context.Background(), m.Key(), "part 1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.ad.Post(context.Background(), m.Key(), "part 2")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Message(first)
	b, _ := f.Message(second)
	if a.Reference != id || b.Reference != "" {
		t.Errorf("references = %q, %q; want %q on the first part only", a.Reference, b.Reference, id)
	}
	// Without a thread, a message that does not mention the bot is not for it.
	f.Send(chanID, bobID, "unrelated")
	f.Send(chanID, aliceID, mention(f.BotUser().ID)+" again")
	rec.wait(t, "second mention", func() bool { return len(rec.messages) == 2 })
	if rec.msg(1).Text != "again" || rec.msg(1).Thread == id {
		t.Errorf("second = %+v, want a new conversation", rec.msg(1))
	}
	// A Discord reply to the answer (which pings the bot) continues the
	// first conversation.
	f.Reply(chanID, aliceID, "tell me more", first)
	rec.wait(t, "reply to the answer", func() bool { return len(rec.messages) == 3 })
	if fu := rec.msg(2); fu.Key() != m.Key() || fu.Text != "tell me more" {
		t.Errorf("follow-up = %+v, want key %v", fu, m.Key())
	}
	// A Discord reply to a continuation part cannot be placed: a reply-ping
	// to the bot starts a new conversation there.
	f.Reply(chanID, aliceID, "and this?", second)
	rec.wait(t, "reply to part 2", func() bool { return len(rec.messages) == 4 })
	if fu := rec.msg(3); fu.Thread == id || !fu.MentionsBot {
		t.Errorf("reply to part 2 = %+v", fu)
	}
}

func TestDMsAndBots(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	h := start(t, f, testOptions(f), rec)

	f.Send(chanID, otherBot, mention(f.BotUser().ID)+" from a bot")
	id := f.Send(dmID, aliceID, "hi in private")
	rec.wait(t, "the DM", func() bool { return len(rec.messages) == 1 })
	m := rec.msg(0)
	if !m.IsDM || m.Workspace != "" || m.Channel != dmID || m.Thread != dmID || m.ID != id || m.MentionsBot {
		t.Errorf("DM = %+v", m)
	}
	// The bot's own post echoes back over the gateway and is ignored.
	if _, err := h.ad.Post(context.Background(), m.Key(), "hello"); err != nil {
		t.Fatal(err)
	}
	f.Send(dmID, aliceID, "second")
	rec.wait(t, "second DM", func() bool { return len(rec.messages) == 2 })
	msgs, _, _, _, _ := rec.snapshot()
	for _, m := range msgs {
		if m.AuthorID != aliceID {
			t.Errorf("delivered a message by %s: %+v", m.AuthorID, m)
		}
	}
	h.stop(t)

	// respond_to_bots lets other bots through.
	rec2 := newRecorder()
	opts := testOptions(f)
	opts.RespondToBots = true
	start(t, f, opts, rec2)
	f.Send(chanID, otherBot, mention(f.BotUser().ID)+" bot question")
	rec2.wait(t, "bot's message", func() bool { return len(rec2.messages) == 1 })
	if rec2.msg(0).AuthorID != otherBot {
		t.Errorf("got %+v", rec2.msg(0))
	}
}

func TestEditsAndDeletes(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	start(t, f, testOptions(f), rec)

	id := f.Send(chanID, aliceID, mention(f.BotUser().ID)+" first version")
	rec.wait(t, "mention", func() bool { return len(rec.messages) == 1 })
	key := rec.msg(0).Key()
	f.EditByUser(id, mention(f.BotUser().ID)+" second version")
	rec.wait(t, "edit", func() bool { return len(rec.edits) == 1 })
	f.Delete(id)
	rec.wait(t, "delete", func() bool { return len(rec.deletes) == 1 })
	_, edits, deletes, _, _ := rec.snapshot()
	if e := edits[0]; e.Key != key || e.ID != id || e.Text != "second version" {
		t.Errorf("edit = %+v, want key %v", e, key)
	}
	if d := deletes[0]; d.Key != key || d.ID != id {
		t.Errorf("delete = %+v, want key %v", d, key)
	}

	dm := f.Send(dmID, aliceID, "dm text")
	f.EditByUser(dm, "dm text, fixed")
	rec.wait(t, "DM edit", func() bool { return len(rec.edits) == 2 })
	if e := rec.edit(1); e.Key != (bot.ThreadKey{Platform: bot.PlatformDiscord, Channel: dmID, Thread: dmID}) || e.Text != "dm text, fixed" {
		t.Errorf("DM edit = %+v", e)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Token: "x", ReplyMode: "dm"},
		{Token: "x", MaxMessageChars: 4000},
		{Token: "x", ShardID: 2, ShardCount: 2},
		{Token: "x", ShardID: 1},
		{Token: "x", APIURL: "ftp://example.com"},
	} {
		if _, err := New(o, quietLogger()); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
	var fe *FatalCloseError
	if errors.As(error(nil), &fe) {
		t.Fatal("unreachable")
	}
}
