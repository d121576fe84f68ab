package discord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// End-to-end: discordgo against the fake Discord, the real engine, store,
// model client (against the fake OpenAI server) and renderer.

// answerFor is the fake model's deterministic answer to a question: long
// enough to stream over several edits.
func answerFor(q string) string {
	return "Answer to " + strings.TrimSpace(q) + ": " + strings.TrimSpace(strings.Repeat("tea is a drink made from leaves. ", 8))
}

func echoModel(req fakeopenai.Request) string { return answerFor(req.LastUserMessage()) }

// e2e is a rig with the adapter running on it against a fake Discord.
type e2e struct {
	rig  *testrig.Rig
	fake *discordfake.Server
	ad   *Adapter
	done <-chan error
	bot  string
}

func startE2E(t *testing.T, fo discordfake.Options, mo fakeopenai.Options, adjust func(*Options)) *e2e {
	t.Helper()
	return startE2EWith(t, fo, testrig.Options{Model: mo}, adjust)
}

func startE2EWith(t *testing.T, fo discordfake.Options, ro testrig.Options, adjust func(*Options)) *e2e {
	t.Helper()
	f := newFake(t, fo)
	if ro.Model.Answer == nil {
		ro.Model.Answer = echoModel
	}
	ro.Logger = quietLogger()
	rig := testrig.New(t, ro)
	opts := testOptions(f)
	if adjust != nil {
		adjust(&opts)
	}
	ad, err := New(opts, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := f.GatewayStats()
	e := &e2e{rig: rig, fake: f, ad: ad, done: rig.Run(ad), bot: f.BotUser().ID}
	e.wait(t, "gateway session", func() bool { ids, _, ready := f.GatewayStats(); return ids > before && ready })
	return e
}

func (e *e2e) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := e.fake.Wait(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// reply waits until the bot's n-th message in channel shows want.
func (e *e2e) reply(t *testing.T, channel string, n int, want string) discordfake.Message {
	t.Helper()
	var got discordfake.Message
	e.wait(t, fmt.Sprintf("reply %d in %s", n, channel), func() bool {
		ms := e.fake.BotMessages(channel)
		if len(ms) <= n || ms[n].Content != want {
			return false
		}
		got = ms[n]
		return true
	})
	return got
}

func TestE2EMentionOpensThreadStreamsAndContinues(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{ChunkDelay: 40 * time.Millisecond}, nil)
	id := e.fake.Send(chanID, aliceID, mention(e.bot)+" what is tea?")
	first := e.reply(t, id, 0, answerFor("what is tea?"))

	th, ok := e.fake.Channel(id)
	if !ok || th.Type != 11 || th.ParentID != chanID {
		t.Fatalf("thread = %+v, %v", th, ok)
	}
	if n := e.fake.Stats().Typing[id]; n < 1 {
		t.Errorf("typing indicator sent %d times in the thread", n)
	}
	if edits := len(first.History) - 1; edits < 2 {
		t.Errorf("reply shown with %d edits (%q), want at least 2", edits, first.History)
	}

	// The next message in the thread, without a mention, continues the
	// conversation.
	e.fake.Send(id, aliceID, "and green tea?")
	e.reply(t, id, 1, answerFor("and green tea?"))
	e.rig.Idle(30 * time.Second)
	reqs := e.rig.Model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2", len(reqs))
	}
	var second []string
	for _, m := range reqs[1].Messages {
		second = append(second, m.Content)
	}
	for _, want := range []string{"what is tea?", answerFor("what is tea?"), "and green tea?"} {
		if !slices.Contains(second, want) {
			t.Errorf("second request lacks %q: %q", want, second)
		}
	}
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: id}
	if h := e.rig.History(key); len(h) != 4 || h[3].Status != bot.StatusComplete {
		t.Errorf("stored history = %+v", h)
	}
}

func TestE2EDirectMessagesThreeTurns(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{}, nil)
	qs := []string{"my name is Ana", "I like tea", "what do you know?"}
	for i, q := range qs {
		e.fake.Send(dmID, aliceID, q)
		e.reply(t, dmID, i, answerFor(q))
		e.rig.Idle(30 * time.Second)
	}
	reqs := e.rig.Model.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests", len(reqs))
	}
	var third []string
	for _, m := range reqs[2].Messages {
		third = append(third, m.Content)
	}
	for _, want := range []string{qs[0], answerFor(qs[0]), qs[1], answerFor(qs[1]), qs[2]} {
		if !slices.Contains(third, want) {
			t.Errorf("third request lacks %q", want)
		}
	}
}

func TestE2ETwentyRepliesShareTheChannelBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("about 25 s of real bucket time")
	}
	// Twenty placeholders at Discord's 5 messages / 5 s per channel take
	// ~15 s to post, longer than the engine's default 15 s FinishTimeout
	// after a fast model is done.
	e := startE2EWith(t, discordfake.Options{EditLimit: 5, EditWindow: 5 * time.Second, PostLimit: 5, PostWindow: 5 * time.Second},
		testrig.Options{Model: fakeopenai.Options{ChunkDelay: 20 * time.Millisecond}, Engine: func(c *bot.EngineConfig) { c.FinishTimeout = time.Minute }},
		func(o *Options) { o.ReplyMode = ReplyModeReply })
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = e.fake.Send(chanID, aliceID, fmt.Sprintf("%s question %d", mention(e.bot), i))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range e.fake.BotMessages(chanID) {
				i := slices.Index(ids, m.Reference)
				t.Logf("bot message ref %s (question %d): versions at %v, equal %v", m.Reference, i, m.At, i >= 0 && m.Content == answerFor(fmt.Sprintf("question %d", i)))
			}
			t.Logf("429s %+v, model requests %d, in flight %d", e.fake.Rejected(), len(e.rig.Model.Requests()), e.rig.Engine.InFlight())
		}
	})
	e.wait(t, "twenty complete replies", func() bool {
		done := 0
		for _, m := range e.fake.BotMessages(chanID) {
			if i := slices.Index(ids, m.Reference); i >= 0 && m.Content == answerFor(fmt.Sprintf("question %d", i)) {
				done++
			}
		}
		return done == 20
	})
	e.rig.Idle(30 * time.Second)
	if rj := e.fake.Rejected(); rj != (discordfake.Rejections{}) {
		t.Errorf("429s = %+v, want none", rj)
	}
	if n := len(e.fake.BotMessages(chanID)); n != 20 {
		t.Errorf("%d bot messages, want 20", n)
	}
}

// The threads are all #general's conversations, so the renderer plans
// their placeholders and edits within #general's budget (see "Edit
// budgets" in the package doc): about 16 s for twenty.
func TestE2ETwentyMentionsInThreadModeStayUnderGlobalLimit(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{ChunkDelay: 10 * time.Millisecond}, nil)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = e.fake.Send(chanID, aliceID, fmt.Sprintf("%s topic %d", mention(e.bot), i))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, id := range ids {
				for _, m := range e.fake.BotMessages(id) {
					t.Logf("thread %d: versions at %v, complete %v", i, m.At, m.Content == answerFor(fmt.Sprintf("topic %d", i)))
				}
			}
			t.Logf("429s %+v, stats %+v, model requests %d, in flight %d", e.fake.Rejected(), e.fake.Stats(), len(e.rig.Model.Requests()), e.rig.Engine.InFlight())
		}
	})
	for i, id := range ids {
		e.reply(t, id, 0, answerFor(fmt.Sprintf("topic %d", i)))
	}
	e.rig.Idle(30 * time.Second)
	if rj := e.fake.Rejected(); rj.Global != 0 {
		t.Errorf("global 429s = %d, want 0", rj.Global)
	}
	if st := e.fake.Stats(); st.ThreadsOpened != 20 || st.PeakGlobal > 50 {
		t.Errorf("threads %d, peak %d requests/s", st.ThreadsOpened, st.PeakGlobal)
	}
}

func TestE2ELongAnswerInThreeMessages(t *testing.T) {
	var long strings.Builder
	long.WriteString("Here is the program:\n\n```go\n")
	for i := 0; long.Len() < 3000; i++ {
		fmt.Fprintf(&long, "fmt.Println(\"line %04d of the example\")\n", i)
	}
	long.WriteString("```\n\n")
	for long.Len() < 4500 {
		long.WriteString("Closing prose explains it. ")
	}
	answer := strings.TrimSpace(long.String()[:4500])
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{Answer: func(fakeopenai.Request) string { return answer }}, nil)
	id := e.fake.Send(chanID, aliceID, mention(e.bot)+" show me a program")
	e.wait(t, "the long answer", func() bool {
		ms := e.fake.BotMessages(id)
		return len(ms) == 3 && strings.HasSuffix(strings.TrimSpace(ms[2].Content), answer[len(answer)-20:])
	})
	e.rig.Idle(30 * time.Second)
	ms := e.fake.BotMessages(id)
	if len(ms) != 3 {
		t.Fatalf("%d messages, want 3", len(ms))
	}
	var parts []string
	for i, m := range ms {
		if n := fenceCount(m.Content); n%2 != 0 {
			t.Errorf("message %d: %d fence lines", i, n)
		}
		if len([]rune(m.Content)) > 2000 {
			t.Errorf("message %d: %d characters", i, len([]rune(m.Content)))
		}
		parts = append(parts, m.Content)
	}
	// Together, in order, the messages are the whole answer: nothing lost
	// or repeated at the cuts.
	if got, want := testrig.Unsplit(parts...), testrig.Unsplit(ToDiscordMarkdown(answer)); got != want {
		t.Errorf("the messages hold %d characters of the answer's %d (fences and spaces aside), or not in order", len(got), len(want))
	}
}

func TestE2EReconnectMidStreamResumesWithoutDuplicate(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{ChunkDelay: 40 * time.Millisecond}, nil)
	id := e.fake.Send(chanID, aliceID, mention(e.bot)+" long story please")
	e.wait(t, "the first streamed text", func() bool {
		ms := e.fake.BotMessages(id)
		return len(ms) == 1 && strings.HasPrefix(ms[0].Content, "Answer")
	})
	// Op 7 mid-stream; the resumed session replays everything, including
	// the mention being answered.
	e.fake.ReplayAllOnNextResume()
	e.fake.Reconnect()
	e.reply(t, id, 0, answerFor("long story please"))
	e.wait(t, "the resume", func() bool { _, r, ready := e.fake.GatewayStats(); return r == 1 && ready })
	e.rig.Idle(30 * time.Second)
	if n := len(e.rig.Model.Requests()); n != 1 {
		t.Errorf("%d model requests, want 1 (no second answer)", n)
	}
	if n := len(e.fake.BotMessages(id)); n != 1 {
		t.Errorf("%d bot messages, want 1", n)
	}
	// INVALID_SESSION d=false: identify again, keep answering.
	e.fake.InvalidateSession(false)
	e.wait(t, "the second identify", func() bool { ids, _, ready := e.fake.GatewayStats(); return ids == 2 && ready })
	e.fake.Send(dmID, aliceID, "still there?")
	e.reply(t, dmID, 0, answerFor("still there?"))
}

func TestE2EDisallowedIntentStopsTheAdapter(t *testing.T) {
	f := newFake(t, discordfake.Options{DenyMessageContent: true})
	rig := testrig.New(t, testrig.Options{Model: fakeopenai.Options{Answer: echoModel}})
	ad, err := New(testOptions(f), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rig.Run(ad):
		var fe *FatalCloseError
		if !errors.As(err, &fe) || fe.Code != 4014 || !strings.Contains(err.Error(), "Message Content intent") {
			t.Fatalf("Run = %v, want the 4014 intent error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after close 4014")
	}
}

func TestE2ECommands(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{}, nil)
	// The fake refuses a callback after Discord's 3 s deadline (Refused).
	id := e.fake.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: aliceID, Command: "parley", Sub: "help"})
	e.wait(t, "help", func() bool { r, _ := e.fake.Interaction(id); return r.Type != 0 || r.Refused > 0 })
	r, _ := e.fake.Interaction(id)
	if r.Refused != 0 || r.Type != 4 || r.Content != bot.HelpText {
		t.Errorf("help = %+v", r)
	}

	id = e.fake.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: bobID, Permissions: 1 << 11,
		Command: "parley-admin", Sub: "quota", Args: "show @ana"})
	e.wait(t, "refusal", func() bool { r, _ := e.fake.Interaction(id); return r.Type != 0 })
	if r, _ := e.fake.Interaction(id); !strings.Contains(r.Content, "Manage Server") || r.Flags&64 == 0 {
		t.Errorf("admin command by a member = %+v", r)
	}

	// reset inside a thread forgets it.
	q := e.fake.Send(chanID, aliceID, mention(e.bot)+" remember this")
	e.reply(t, q, 0, answerFor("remember this"))
	e.rig.Idle(30 * time.Second)
	threadKey := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: q}
	if h := e.rig.History(threadKey); len(h) != 2 {
		t.Fatalf("history before reset = %d messages, want 2", len(h))
	}
	id = e.fake.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: q, UserID: aliceID, Command: "parley", Sub: "reset"})
	e.wait(t, "reset", func() bool { r, _ := e.fake.Interaction(id); return r.Type != 0 })
	if r, _ := e.fake.Interaction(id); !strings.Contains(r.Content, "forgotten") {
		t.Errorf("reset = %+v", r)
	}
	if h := e.rig.History(threadKey); len(h) != 0 {
		t.Errorf("history after reset = %d messages", len(h))
	}
}

func TestE2EEditUpdatesStoredTextAndDeleteCancels(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{ChunkDelay: 60 * time.Millisecond}, nil)
	id := e.fake.Send(dmID, aliceID, "first wording")
	e.reply(t, dmID, 0, answerFor("first wording"))
	e.rig.Idle(30 * time.Second)
	e.fake.EditByUser(id, "second wording")
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Channel: dmID, Thread: dmID}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		h := e.rig.History(key)
		if len(h) > 0 && h[0].Text == "second wording" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stored history = %+v, want the edited text first", h)
		case <-time.After(20 * time.Millisecond):
		}
	}

	// Deleting a message whose reply is streaming cancels the reply.
	q := e.fake.Send(dmID, aliceID, "a question to delete")
	e.wait(t, "streaming started", func() bool {
		ms := e.fake.BotMessages(dmID)
		return len(ms) == 2 && strings.HasPrefix(ms[1].Content, "Answer")
	})
	e.fake.Delete(q)
	e.rig.Idle(30 * time.Second)
	h := e.rig.History(key)
	last := h[len(h)-1]
	if last.Role != bot.RoleAssistant || last.Status == bot.StatusComplete || last.Text == answerFor("a question to delete") {
		t.Errorf("reply to the deleted message = %+v, want it cut short", last)
	}
	if ms := e.fake.BotMessages(dmID); ms[1].Content == answerFor("a question to delete") {
		t.Errorf("the deleted question's answer streamed to the end")
	}
}

// A message the engine cannot take (here: it is shutting down) is not met
// with silence: Discord will not deliver the event again, so the user is
// told to send it again.
func TestE2EUnhandledMessageTold(t *testing.T) {
	e := startE2E(t, discordfake.Options{}, fakeopenai.Options{}, nil)
	if err := e.rig.Engine.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.fake.Send(dmID, aliceID, "are you there?")
	e.reply(t, dmID, 0, bot.UnhandledNotice(bot.ErrShuttingDown))
	if n := len(e.rig.Model.Requests()); n != 0 {
		t.Errorf("%d model requests, want 0", n)
	}
}
