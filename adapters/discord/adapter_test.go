package discord

import (
	"context"
	"errors"
	"fmt"
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
	// Keyed by the parent channel, so that per-channel settings apply.
	if th.ID != id || m.Channel != chanID || m.Thread != th.ID || m.Workspace != guildID || m.ID != id || m.EventID != id {
		t.Errorf("message keys = ws %q ch %q thread %q id %q event %q; want channel %s thread %s for message %s", m.Workspace, m.Channel, m.Thread, m.ID, m.EventID, chanID, th.ID, id)
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

// DMs are charged to the only configured guild, to an explicit
// dm_quota_guild, and to no server when several are configured without one.
func TestDMQuotaGuildDefault(t *testing.T) {
	for _, c := range []struct {
		guilds []string
		set    string
		want   string
	}{
		{nil, "", ""},
		{[]string{"1"}, "", "1"},
		{[]string{"1", "2"}, "", ""},
		{[]string{"1", "2"}, "2", "2"},
		{nil, "3", "3"},
	} {
		o := Options{Token: "x", GuildIDs: c.guilds, DMQuotaGuild: c.set}
		if err := o.normalize(); err != nil {
			t.Fatal(err)
		}
		if o.DMQuotaGuild != c.want {
			t.Errorf("guild_ids %v, dm_quota_guild %q: DMs charged to %q, want %q", c.guilds, c.set, o.DMQuotaGuild, c.want)
		}
	}
}

// The table of reply-mode conversations already referenced stays bounded
// however many conversations an hour brings.
func TestReferencedTableBounded(t *testing.T) {
	a, err := New(Options{Token: "x"}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * maxReferenced {
		a.markReferenced(bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: fmt.Sprint(i)})
	}
	last := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: fmt.Sprint(3*maxReferenced - 1)}
	if n := len(a.firstPosted); n > maxReferenced || !a.referenced(last) {
		t.Errorf("%d conversations kept (bound %d), newest kept %v", n, maxReferenced, a.referenced(last))
	}
}

// TestOutboxRoutesByKeyAfterRestart: the Outbox finds where a key's
// messages go from the key alone, as crash recovery needs after a
// restart: a fresh adapter, with nothing cached, posts a thread
// conversation's messages into the thread and a reply-mode
// conversation's in the channel with a reference.
func TestOutboxRoutesByKeyAfterRestart(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	start(t, f, testOptions(f), rec)
	thread := f.Send(chanID, aliceID, mention(f.BotUser().ID)+" a question")
	rec.wait(t, "the mention", func() bool { return len(rec.messages) == 1 })
	if th, ok := f.Channel(thread); !ok || th.Type != 11 {
		t.Fatalf("no thread opened: %+v", th)
	}
	plain := f.Send(chanID, bobID, "asked without a thread")

	fresh, err := New(testOptions(f), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	inThread := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: thread}
	id, err := fresh.Post(ctx, inThread, "recovered answer")
	if err != nil {
		t.Fatalf("Post in the thread: %v", err)
	}
	if err := fresh.Edit(ctx, inThread, id, "recovered answer, finished"); err != nil {
		t.Fatalf("Edit in the thread: %v", err)
	}
	if err := fresh.Typing(ctx, inThread); err != nil {
		t.Fatalf("Typing in the thread: %v", err)
	}
	if m, _ := f.Message(id); m.ChannelID != thread || m.Reference != "" || m.Content != "recovered answer, finished" {
		t.Errorf("thread conversation's message = %+v, want it in thread %s without a reference", m, thread)
	}
	if n := f.Stats().Typing[thread]; n != 1 {
		t.Errorf("typing in the thread = %d, want 1", n)
	}

	asReply := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: plain}
	id, err = fresh.Post(ctx, asReply, "a reply")
	if err != nil {
		t.Fatalf("Post as a reply: %v", err)
	}
	if err := fresh.Edit(ctx, asReply, id, "a reply, edited"); err != nil {
		t.Fatalf("Edit of the reply: %v", err)
	}
	if m, _ := f.Message(id); m.ChannelID != chanID || m.Reference != plain || m.Content != "a reply, edited" {
		t.Errorf("reply-mode message = %+v, want it in %s referencing %s", m, chanID, plain)
	}
}

// TestThreadRefusedFallsBackToReply: without Create Public Threads a
// mention in thread mode is answered as a reply in the channel, keyed
// like a reply-mode conversation, and a Discord reply to the answer
// continues it.
func TestThreadRefusedFallsBackToReply(t *testing.T) {
	f := newFake(t, discordfake.Options{DenyThreads: true})
	rec := newRecorder()
	h := start(t, f, testOptions(f), rec)
	id := f.Send(chanID, aliceID, mention(f.BotUser().ID)+" a question")
	rec.wait(t, "the mention", func() bool { return len(rec.messages) == 1 })
	m := rec.msg(0)
	if m.Channel != chanID || m.Thread != id {
		t.Fatalf("message key = %v, want channel %s thread %s", m.Key(), chanID, id)
	}
	if _, ok := f.Channel(id); ok || f.Stats().ThreadsOpened != 0 {
		t.Fatalf("a thread was opened although Discord refused it")
	}
	answer, err := h.ad.Post(t.Context(), m.Key(), "the answer")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Message(answer); got.ChannelID != chanID || got.Reference != id {
		t.Errorf("answer = %+v, want a reply to %s in %s", got, id, chanID)
	}
	f.Reply(chanID, bobID, "and then?", answer)
	rec.wait(t, "the follow-up", func() bool { return len(rec.messages) == 2 })
	if fu := rec.msg(1); fu.Key() != m.Key() {
		t.Errorf("follow-up key = %v, want %v", fu.Key(), m.Key())
	}
}

// TestMemberStartedThread: a mention inside a thread a member started
// (whose ID is its own, not a message's) is keyed by the parent channel
// and answered inside the thread, in either reply mode; so are its
// follow-ups, edits and commands.
func TestMemberStartedThread(t *testing.T) {
	const thread = "300000000000000005"
	for _, mode := range []string{ReplyModeThread, ReplyModeReply} {
		t.Run(mode, func(t *testing.T) {
			f := newFake(t, discordfake.Options{})
			f.AddThread(guildID, thread, chanID, "planning")
			rec := newRecorder()
			opts := testOptions(f)
			opts.ReplyMode = mode
			h := start(t, f, opts, rec)
			want := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: thread}

			f.Send(thread, aliceID, "not for the bot yet")
			q := f.Send(thread, aliceID, mention(f.BotUser().ID)+" help us plan")
			rec.wait(t, "the mention", func() bool { return len(rec.messages) == 1 })
			if m := rec.msg(0); m.Key() != want || m.ID != q {
				t.Fatalf("mention in the thread = %+v, want key %v", m, want)
			}
			id, err := h.ad.Post(t.Context(), want, "a plan")
			if err != nil {
				t.Fatal(err)
			}
			if m, _ := f.Message(id); m.ChannelID != thread || m.Reference != "" {
				t.Errorf("answer = %+v, want it in thread %s without a reference", m, thread)
			}
			if f.Stats().ThreadsOpened != 0 {
				t.Errorf("a thread was opened inside a thread")
			}
			fu := f.Send(thread, bobID, "and a follow-up")
			rec.wait(t, "the follow-up", func() bool { return len(rec.messages) == 2 })
			if m := rec.msg(1); m.Key() != want {
				t.Errorf("follow-up key = %v, want %v", m.Key(), want)
			}
			f.EditByUser(fu, "and a better follow-up")
			rec.wait(t, "the edit", func() bool { return len(rec.edits) == 1 })
			if e := rec.edit(0); e.Key != want || e.ID != fu {
				t.Errorf("edit = %+v, want key %v", e, want)
			}
			cmd := f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: thread, UserID: aliceID, Command: CommandName, Sub: "reset"})
			h.waitFake(t, "the reset", func() bool { r, _ := f.Interaction(cmd); return r.Type != 0 })
			if _, _, _, cmds, _ := rec.snapshot(); len(cmds) != 1 || cmds[0].Thread != want {
				t.Errorf("command issued in the thread = %+v, want key %v", cmds, want)
			}
		})
	}
}
