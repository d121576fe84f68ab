package discord

// End-to-end acceptance tests of issue 5 on Discord: the admin commands
// (commands.New over the real limits.Gate, wired by testrig as the daemon
// wires them) through /parley and /parley-admin interactions from the fake
// Discord, and a token quota set that way refusing the member's next
// message.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/limits"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

const (
	permManageGuildBit  = 1 << 5  // Manage Server
	permSendMessagesBit = 1 << 11 // an ordinary member's permission
	flagEphemeral       = 1 << 6
)

// adminAnswer is long enough (≈150 tokens) that one reply spends a
// 100-token quota.
var adminAnswer = strings.TrimSpace(strings.Repeat("word ", 150))

// adminE2E is an e2e run whose rig has the limits gate and the admin
// commands.
type adminE2E struct {
	*e2e
	t *testing.T
}

func startAdminE2E(t *testing.T, adjust func(*Options)) *adminE2E {
	t.Helper()
	e := startE2EWith(t, discordfake.Options{}, testrig.Options{
		Model:  fakeopenai.Options{Answer: func(fakeopenai.Request) string { return adminAnswer }},
		Limits: &limits.Options{QueueSize: 10, MaxWait: time.Second},
	}, adjust)
	return &adminE2E{e2e: e, t: t}
}

// invoke runs a slash command and returns Discord's record of the answer
// once it is complete (answered at once, or deferred and then edited).
func (e *adminE2E) invoke(in discordfake.Invocation) discordfake.InteractionRecord {
	e.t.Helper()
	id := e.fake.Interact(in)
	what := fmt.Sprintf("the answer to /%s %s %s", in.Command, in.Sub, in.Args)
	e.wait(e.t, what, func() bool {
		r, _ := e.fake.Interaction(id)
		return r.Refused > 0 || r.Type == 4 || (r.Type == 5 && len(r.Edits) > 0)
	})
	r, _ := e.fake.Interaction(id)
	if r.Refused > 0 {
		e.t.Fatalf("%s: Discord refused %d callbacks: %+v", what, r.Refused, r)
	}
	return r
}

// expect runs /command sub args in the guild's channel as user, with the
// member's permissions, and checks that the answer is ephemeral and holds
// every one of want.
func (e *adminE2E) expect(user string, perms int64, command, sub, args string, want ...string) string {
	e.t.Helper()
	r := e.invoke(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: user, Permissions: perms,
		Command: command, Sub: sub, Args: args})
	e.t.Logf("/%s %s %s (by %s):\n%s", command, sub, args, user, r.Content)
	if r.Flags&flagEphemeral == 0 {
		e.t.Errorf("/%s %s %s (by %s) answered with flags %d, want ephemeral", command, sub, args, user, r.Flags)
	}
	for _, w := range want {
		if !strings.Contains(r.Content, w) {
			e.t.Errorf("/%s %s %s (by %s) answered\n%s\nwant it to contain %q", command, sub, args, user, r.Content, w)
		}
	}
	return r.Content
}

// admin runs /parley-admin as Alice, who has Manage Server.
func (e *adminE2E) admin(sub, args string, want ...string) string {
	e.t.Helper()
	return e.expect(aliceID, permManageGuildBit, AdminCommandName, sub, args, want...)
}

// member runs a command as Bob, an ordinary member.
func (e *adminE2E) member(command, sub, args string, want ...string) string {
	e.t.Helper()
	return e.expect(bobID, permSendMessagesBit, command, sub, args, want...)
}

// botReply waits until the bot's n-th message in channel is final (the
// engine is idle) and returns it.
func (e *adminE2E) botReply(channel string, n int) discordfake.Message {
	e.t.Helper()
	e.wait(e.t, fmt.Sprintf("bot message %d in %s", n, channel), func() bool { return len(e.fake.BotMessages(channel)) > n })
	e.rig.Idle(30 * time.Second)
	return e.fake.BotMessages(channel)[n]
}

func TestAdminCommandsThroughInteractions(t *testing.T) {
	e := startAdminE2E(t, nil)
	bob := limits.UserTarget(bot.PlatformDiscord, guildID, bobID, "")
	bobRef := mention(bobID)
	chanRef := "<#" + chanID + ">"
	bobKey := "discord/" + guildID + "/" + bobID
	chanKey := "discord/" + guildID + "/" + chanID

	// Bob and Alice use the bot before any quota; Bob's mention opens a
	// thread he continues in later.
	thread := e.fake.Send(chanID, bobID, mention(e.bot)+" first question")
	e.reply(t, thread, 0, adminAnswer)
	aliceThread := e.fake.Send(chanID, aliceID, mention(e.bot)+" alice's question")
	e.reply(t, aliceThread, 0, adminAnswer)
	e.rig.Idle(30 * time.Second)
	used := e.rig.TokensToday(bob)
	if used <= 100 {
		t.Fatalf("bob used %d tokens, want more than the 100-token quota the test sets", used)
	}
	usedS := limits.FormatCount(used)

	// quota set with Discord's mention syntax, then show it.
	e.admin("quota", "set "+bobRef+" 100 tokens/day", "Quota tokens/day of @"+bobID+": default → 100 tokens/day.")
	e.admin("quota", "show "+bobRef, "Quotas of @"+bobID+":", "tokens/day       "+usedS+" of 100 (", "resets in", "[set for this target]")
	// The nickname form of a mention names the same member.
	e.admin("quota", "show <@!"+bobID+">", "tokens/day       "+usedS+" of 100 (")

	// The quota refuses Bob's next message, naming the quota and its
	// reset, without asking the model.
	e.fake.Send(thread, bobID, "second question")
	refusal := e.botReply(thread, 1)
	for _, want := range []string{"You've used " + usedS + " of your 100 tokens for today", "it resets at 00:00 UTC (in "} {
		if !strings.Contains(refusal.Content, want) {
			t.Errorf("bob's message over the quota answered %q, want it to contain %q", refusal.Content, want)
		}
	}
	if n := len(e.rig.Model.Requests()); n != 2 {
		t.Errorf("%d model requests, want 2 (the refused message must not reach the model)", n)
	}

	// A member is refused the admin command (Discord hides it from them;
	// Parley checks again), but sees his own usage.
	e.member(AdminCommandName, "quota", "set "+bobRef+" 1m tokens/day", "needs the Manage Server permission")
	e.member(AdminCommandName, "audit", "", "needs the Manage Server permission")
	e.member(CommandName, "usage", "", "@Bob today (", usedS+" tokens in 1 requests")
	e.member(CommandName, "usage", "today", "@Bob today (")
	e.member(CommandName, "usage", "all", "only admins can see others' usage")
	e.member(CommandName, "usage", mention(aliceID), "only admins can see others' usage")

	// Bad input says what was expected.
	e.admin("quota", "set "+bobRef+" lots", "quota set needs a target, an amount and a unit",
		"usage: quota set <@user|#channel|workspace|default> <N[k|m]|unlimited|default> <tokens|requests>/<day|month>")
	e.admin("quota", "set "+bobRef+" lots tokens/day", `want an amount such as 1000, 50k or 2m, got "lots"`)
	e.admin("quota", "bump "+bobRef, `unknown quota command "bump"`)
	e.admin("limits", "set "+chanRef+" fast", "want a rate such as 20/min", "usage: limits set <#channel|default>")
	e.admin("limits", "set "+chanRef+" 20/min burst", "limits set needs a channel and a rate")
	e.admin("audit", "zero", `want a number of entries from 1 to 100, got "zero"`)

	// usage across everyone, today.
	usage := e.admin("usage", "all day", "Everyone today (", "tokens in 2 requests", "Top users:", "@Bob", "@Ali ", "Top channels:")
	if !strings.HasPrefix(usage, "```") {
		t.Errorf("usage answer is not a code block:\n%s", usage)
	}

	// quota reset forgives Bob's usage: his next message is answered.
	e.admin("quota", "reset "+bobRef, "Usage of @"+bobID+" reset (was today "+usedS+" tokens, 1 requests;")
	e.fake.Send(thread, bobID, "third question")
	if m := e.botReply(thread, 2); m.Content != adminAnswer {
		t.Errorf("after the reset bob got %q, want the model's answer", m.Content)
	}

	// limits set with Discord's channel syntax, then show it.
	e.admin("limits", "set "+chanRef+" 20/min burst 5", "Rate limit of #"+chanID+": unlimited → 20/min burst 5.")
	e.admin("limits", "show", "Per channel: unlimited [config]", "#"+chanID+" ("+chanKey+"): 20/min burst 5 [admin]")

	// The audit holds exactly the three changes, newest first, with the
	// actor, both through the command and in the gate.
	actor := "Alice (" + aliceID + ")"
	e.admin("audit", "",
		actor+": limits set #"+chanID+" ("+chanKey+"): unlimited → 20/min burst 5",
		actor+": quota reset @"+bobID+" ("+bobKey+")",
		actor+": quota set tokens/day @"+bobID+" ("+bobKey+"): default → 100 tokens/day")
	entries, err := e.rig.Gate.Audit(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, target, old, new string }{
		{"limits set", "#" + chanID + " (" + chanKey + ")", "unlimited", "20/min burst 5"},
		{"quota reset", "@" + bobID + " (" + bobKey + ")", "today " + usedS + " tokens, 1 requests; this month " + usedS + " tokens, 1 requests", "0 used"},
		{"quota set tokens/day", "@" + bobID + " (" + bobKey + ")", "default", "100 tokens/day"},
	}
	if len(entries) != len(want) {
		t.Fatalf("audit holds %d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		got := entries[i]
		if got.Actor != actor || got.Action != w.action || got.Target != w.target || got.Old != w.old || got.New != w.new {
			t.Errorf("audit entry %d = %+v, want actor %s, %+v", i, got, actor, w)
		}
	}
}

// TestAdminListedUserInDirectMessages: discord.admins admits a user where
// there is no member permission to check, in a DM with the bot; others
// are refused there.
func TestAdminListedUserInDirectMessages(t *testing.T) {
	e := startAdminE2E(t, func(o *Options) { o.Admins = []string{bobID} })
	dm := func(user, sub, args string) discordfake.InteractionRecord {
		t.Helper()
		r := e.invoke(discordfake.Invocation{ChannelID: dmID, UserID: user, Command: AdminCommandName, Sub: sub, Args: args})
		if r.Flags&flagEphemeral == 0 {
			t.Errorf("/%s %s %s (by %s) answered with flags %d, want ephemeral", AdminCommandName, sub, args, user, r.Flags)
		}
		return r
	}
	if r := dm(bobID, "limits", "set default 30/min burst 2"); !strings.Contains(r.Content, "Rate limit of default channel: unlimited → 30/min burst 2.") {
		t.Errorf("listed admin's limits set in a DM answered %q", r.Content)
	}
	if r := dm(aliceID, "audit", ""); !strings.Contains(r.Content, "needs the Manage Server permission") {
		t.Errorf("unlisted user's audit in a DM answered %q, want a refusal", r.Content)
	}
	// In the guild the listed user is an admin without Manage Server.
	e.expect(bobID, permSendMessagesBit, AdminCommandName, "audit", "", "Bob ("+bobID+"): limits set default channel: unlimited → 30/min burst 2")
	entries, err := e.rig.Gate.Audit(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != "Bob ("+bobID+")" {
		t.Errorf("audit = %+v, want the one change by Bob", entries)
	}
}

// TestDirectMessagesCountAgainstServerQuota: a DM has no server, yet it
// is charged to the member's quotas in the server the bot serves (the only
// guild_ids entry), so DMing the bot does not escape a quota an admin set;
// /parley in the DM shows that quota.
func TestDirectMessagesCountAgainstServerQuota(t *testing.T) {
	e := startAdminE2E(t, nil)
	bob := limits.UserTarget(bot.PlatformDiscord, guildID, bobID, "")
	e.fake.Send(dmID, bobID, "a question in private")
	if m := e.botReply(dmID, 0); m.Content != adminAnswer {
		t.Fatalf("first DM answered %q, want the model's answer", m.Content)
	}
	used := e.rig.TokensToday(bob)
	if used <= 100 {
		t.Fatalf("bob's server usage is %d tokens after a DM, want the DM's tokens (more than 100)", used)
	}
	usedS := limits.FormatCount(used)
	e.admin("quota", "set "+mention(bobID)+" 100 tokens/day", "Quota tokens/day of @"+bobID+": default → 100 tokens/day.")

	e.fake.Send(dmID, bobID, "another question in private")
	refusal := e.botReply(dmID, 1)
	if want := "You've used " + usedS + " of your 100 tokens for today"; !strings.Contains(refusal.Content, want) {
		t.Errorf("DM over the server quota answered %q, want it to contain %q", refusal.Content, want)
	}
	if n := len(e.rig.Model.Requests()); n != 1 {
		t.Errorf("%d model requests, want 1 (the refused DM must not reach the model)", n)
	}
	r := e.invoke(discordfake.Invocation{ChannelID: dmID, UserID: bobID, Permissions: permSendMessagesBit, Command: CommandName, Sub: "quota", Args: "show"})
	if want := "tokens/day       " + usedS + " of 100 ("; !strings.Contains(r.Content, want) {
		t.Errorf("/parley quota show in the DM answered\n%s\nwant it to contain %q", r.Content, want)
	}
}

// TestChannelSettingsReachThreads: in thread mode a mention in #general
// is answered in a thread of its own, yet it is #general's conversation:
// a channel quota set on #general counts and refuses both the mention and
// the follow-ups inside the thread, llm.channel_models for #general picks
// their model, and usage <#general> counts them (none of it lands on the
// thread as a channel of its own).
func TestChannelSettingsReachThreads(t *testing.T) {
	general := bot.ChannelKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID}
	const generalModel = "gpt-4o"
	e := &adminE2E{t: t, e2e: startE2EWith(t, discordfake.Options{}, testrig.Options{
		Model:  fakeopenai.Options{Answer: func(fakeopenai.Request) string { return adminAnswer }},
		Limits: &limits.Options{QueueSize: 10, MaxWait: time.Second},
		Settings: func(s *bot.Settings) {
			s.ChannelModels = map[string]string{"discord/" + guildID + "/" + chanID: generalModel}
		},
	}, nil)}
	chanRef := "<#" + chanID + ">"
	e.admin("quota", "set "+chanRef+" 2 requests/day", "Quota requests/day of #"+chanID+": default → 2 requests/day.")

	// The mention (request 1) and a follow-up in its thread without a
	// mention (request 2) are answered by #general's model.
	thread := e.fake.Send(chanID, aliceID, mention(e.bot)+" first question")
	if m := e.botReply(thread, 0); m.Content != adminAnswer {
		t.Fatalf("the mention was answered %q, want the model's answer", m.Content)
	}
	if th, ok := e.fake.Channel(thread); !ok || th.Type != 11 || th.ParentID != chanID {
		t.Fatalf("the answer is not in a thread of #general: %+v", th)
	}
	e.fake.Send(thread, bobID, "a follow-up")
	if m := e.botReply(thread, 1); m.Content != adminAnswer {
		t.Fatalf("the follow-up was answered %q, want the model's answer", m.Content)
	}

	// #general's quota is spent: the next follow-up in the thread, and a
	// new mention in #general (a new thread), are refused, naming it.
	const spent = "This channel has used 2 of its 2 requests for today"
	e.fake.Send(thread, aliceID, "a third question")
	if m := e.botReply(thread, 2); !strings.Contains(m.Content, spent) {
		t.Errorf("the follow-up over #general's quota was answered %q, want %q", m.Content, spent)
	}
	other := e.fake.Send(chanID, bobID, mention(e.bot)+" another topic")
	if m := e.botReply(other, 0); !strings.Contains(m.Content, spent) {
		t.Errorf("the mention over #general's quota was answered %q, want %q", m.Content, spent)
	}

	reqs := e.rig.Model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2 (the refused messages must not reach the model)", len(reqs))
	}
	for i, r := range reqs {
		if r.Model != generalModel {
			t.Errorf("request %d used model %q, want #general's %q", i, r.Model, generalModel)
		}
	}

	// Usage is #general's, not the thread's.
	e.admin("usage", chanRef+" day", "#"+chanID+" today (", " tokens in 2 requests")
	rep, err := e.rig.Gate.Usage(t.Context(), limits.ChannelTarget(general), limits.Day, 5)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 2 || rep.Tokens == 0 {
		t.Errorf("#general's usage = %d requests, %d tokens; want 2 requests", rep.Requests, rep.Tokens)
	}
	asChannel := limits.ChannelTarget(bot.ChannelKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: thread})
	if rep, err := e.rig.Gate.Usage(t.Context(), asChannel, limits.Day, 5); err != nil || rep.Requests != 0 {
		t.Errorf("the thread has usage of its own as a channel: %d requests (%v)", rep.Requests, err)
	}
}

// TestChannelRateLimitReachesThreads: a [limits.channels] rate for
// #general (1/min, no queue) admits the mention and refuses the
// follow-up in its thread and a mention opening a second thread, because
// all three are #general's; another channel is unaffected.
func TestChannelRateLimitReachesThreads(t *testing.T) {
	const otherChan = "300000000000000002"
	general := bot.ChannelKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID}
	e := &adminE2E{t: t, e2e: startE2EWith(t, discordfake.Options{}, testrig.Options{
		Model: fakeopenai.Options{Answer: func(fakeopenai.Request) string { return adminAnswer }},
		Limits: &limits.Options{
			Channels:  map[bot.ChannelKey]limits.Limit{general: {Count: 1, Per: time.Minute, Burst: 1}},
			QueueSize: 0,
		},
	}, nil)}
	e.fake.AddChannel(guildID, otherChan, "random")
	e.admin("limits", "show", "#"+chanID+" (discord/"+guildID+"/"+chanID+"): 1/min burst 1")

	const busy = "I'm busy in this channel right now"
	thread := e.fake.Send(chanID, aliceID, mention(e.bot)+" first question")
	if m := e.botReply(thread, 0); m.Content != adminAnswer {
		t.Fatalf("the mention was answered %q, want the model's answer", m.Content)
	}
	e.fake.Send(thread, aliceID, "a follow-up")
	if m := e.botReply(thread, 1); !strings.Contains(m.Content, busy) {
		t.Errorf("the follow-up over #general's rate was answered %q, want %q", m.Content, busy)
	}
	second := e.fake.Send(chanID, bobID, mention(e.bot)+" second topic")
	if m := e.botReply(second, 0); !strings.Contains(m.Content, busy) {
		t.Errorf("a second thread over #general's rate was answered %q, want %q", m.Content, busy)
	}
	elsewhere := e.fake.Send(otherChan, bobID, mention(e.bot)+" in another channel")
	if m := e.botReply(elsewhere, 0); m.Content != adminAnswer {
		t.Errorf("a mention in another channel was answered %q, want the model's answer", m.Content)
	}
	if n := len(e.rig.Model.Requests()); n != 2 {
		t.Errorf("%d model requests, want 2", n)
	}
}
