package discord

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/commands"
)

func TestCommandsRegistered(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	h := start(t, f, testOptions(f), newRecorder())
	var cmds []map[string]any
	if err := json.Unmarshal(f.Commands(guildID), &cmds); err != nil {
		t.Fatalf("guild commands: %v (%s)", err, f.Commands(guildID))
	}
	if len(cmds) != 2 || cmds[0]["name"] != "parley" || cmds[1]["name"] != "parley-admin" {
		t.Fatalf("commands = %v", cmds)
	}
	if _, set := cmds[0]["default_member_permissions"]; set {
		t.Errorf("/parley is restricted: %v", cmds[0]["default_member_permissions"])
	}
	if got := cmds[1]["default_member_permissions"]; got != "32" {
		t.Errorf("/parley-admin default_member_permissions = %v, want \"32\" (Manage Server)", got)
	}
	var subs []string
	for _, o := range cmds[0]["options"].([]any) {
		subs = append(subs, o.(map[string]any)["name"].(string))
	}
	if strings.Join(subs, ",") != "help,reset,usage,quota" {
		t.Errorf("/parley subcommands = %v", subs)
	}
	if st := f.Stats(); len(st.CommandsPutFor) != 1 || st.CommandsPutFor[0] != guildID {
		t.Errorf("registered for %v, want only guild %s", st.CommandsPutFor, guildID)
	}
	h.stop(t)

	// Without guild_ids: global registration.
	opts := testOptions(f)
	opts.GuildIDs = nil
	start(t, f, opts, newRecorder())
	if f.Commands("") == nil {
		t.Errorf("no global registration")
	}
}

func TestHelpAnsweredWithinDeadline(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	h := start(t, f, testOptions(f), rec)

	id := f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: aliceID, Command: "parley", Sub: "help"})
	h.waitFake(t, "the help answer", func() bool { r, _ := f.Interaction(id); return r.Type != 0 || r.Refused > 0 })
	r, _ := f.Interaction(id)
	if r.Refused != 0 || r.Type != 4 || r.Content != "ok: help" || r.Flags&64 == 0 {
		t.Fatalf("interaction = %+v, want an ephemeral message answer in time", r)
	}
	_, _, _, cmds, _ := rec.snapshot()
	if len(cmds) != 1 || cmds[0].Text != "help" || cmds[0].UserID != aliceID || cmds[0].UserName != "Alice" || cmds[0].IsAdmin {
		t.Errorf("command = %+v", cmds)
	}
	if cmds[0].Thread.Channel != chanID || cmds[0].Thread.Thread != "" || cmds[0].Thread.Workspace != guildID {
		t.Errorf("command thread = %+v, want channel %s without a thread", cmds[0].Thread, chanID)
	}
}

func TestSlowCommandIsDeferred(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	release := make(chan struct{})
	var once sync.Once
	rec.onCommand = func(ctx context.Context, c bot.Command) bot.CommandResult {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return bot.CommandResult{Text: "usage: 42 tokens"}
	}
	// The answer is not ready: defer at once.
	h := startWith(t, f, testOptions(f), rec, func(a *Adapter) { a.deferAfter = 0 })
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	id := f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: aliceID, Command: "parley", Sub: "usage", Args: "today"})
	h.waitFake(t, "the deferral", func() bool { r, _ := f.Interaction(id); return r.Type != 0 })
	if r, _ := f.Interaction(id); r.Type != 5 || r.Flags&64 == 0 || r.Refused != 0 {
		t.Fatalf("interaction = %+v, want a deferred ephemeral response", r)
	}
	once.Do(func() { close(release) })
	h.waitFake(t, "the edited answer", func() bool { r, _ := f.Interaction(id); return len(r.Edits) == 1 })
	if r, _ := f.Interaction(id); r.Edits[0] != "usage: 42 tokens" {
		t.Errorf("edits = %q", r.Edits)
	}
	if _, _, _, cmds, _ := rec.snapshot(); cmds[0].Text != "usage today" {
		t.Errorf("command text = %q", cmds[0].Text)
	}
}

func TestAdminSubcommandsNeedManageServer(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	opts := testOptions(f)
	opts.Admins = []string{bobID}
	h := start(t, f, opts, rec)

	// A member without Manage Server (Send Messages only) is refused
	// without reaching the command layer.
	id := f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: aliceID,
		Permissions: discordgo.PermissionSendMessages, Command: "parley-admin", Sub: "quota", Args: "show @ana"})
	h.waitFake(t, "the refusal", func() bool { r, _ := f.Interaction(id); return r.Type != 0 })
	r, _ := f.Interaction(id)
	if r.Type != 4 || r.Flags&64 == 0 || !strings.Contains(r.Content, "Manage Server") {
		t.Errorf("refusal = %+v", r)
	}
	if _, _, _, cmds, _ := rec.snapshot(); len(cmds) != 0 {
		t.Errorf("refused command reached the handler: %+v", cmds)
	}

	// Manage Server: allowed, and IsAdmin.
	id = f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: aliceID,
		Permissions: discordgo.PermissionManageGuild, Command: "parley-admin", Sub: "quota", Args: "show @ana"})
	h.waitFake(t, "the admin answer", func() bool { r, _ := f.Interaction(id); return r.Type != 0 })
	// An ID in discord.admins, in a DM (no member permissions at all).
	id = f.Interact(discordfake.Invocation{ChannelID: dmID, UserID: bobID, Command: "parley-admin", Sub: "audit"})
	h.waitFake(t, "the DM admin answer", func() bool { r, _ := f.Interaction(id); return r.Type != 0 })
	_, _, _, cmds, _ := rec.snapshot()
	if len(cmds) != 2 || !cmds[0].IsAdmin || cmds[0].Text != "quota show @ana" || !cmds[1].IsAdmin || cmds[1].Text != "audit" || cmds[1].UserID != bobID {
		t.Errorf("commands = %+v", cmds)
	}
	if cmds[1].Thread.Channel != dmID || cmds[1].Thread.Thread != dmID {
		t.Errorf("DM command thread = %+v", cmds[1].Thread)
	}
	// The everyday command tells the command layer who is an admin too.
	id = f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: aliceID,
		Permissions: discordgo.PermissionAdministrator, Command: "parley", Sub: "reset"})
	h.waitFake(t, "reset", func() bool { r, _ := f.Interaction(id); return r.Type != 0 })
	if _, _, _, cmds, _ := rec.snapshot(); !cmds[2].IsAdmin || cmds[2].Text != "reset" {
		t.Errorf("reset = %+v", cmds[2])
	}
}

// TestCommandHintsParse: every example an option description shows is
// accepted by the command parser, and descriptions fit Discord's 100
// characters, so a member who types what the hint says gets an answer,
// not a usage error.
func TestCommandHintsParse(t *testing.T) {
	quoted := regexp.MustCompile(`"([^"]+)"`)
	examples := 0
	for _, c := range Commands() {
		for _, sub := range c.Options {
			if n := utf8.RuneCountInString(sub.Description); n > 100 {
				t.Errorf("/%s %s: description has %d characters, Discord allows 100", c.Name, sub.Name, n)
			}
			for _, o := range sub.Options {
				if n := utf8.RuneCountInString(o.Description); n > 100 {
					t.Errorf("/%s %s %s: description has %d characters, Discord allows 100", c.Name, sub.Name, o.Name, n)
				}
				for _, m := range quoted.FindAllStringSubmatch(o.Description, -1) {
					examples++
					text := sub.Name + " " + m[1]
					if _, err := commands.Parse(text); err != nil {
						t.Errorf("/%s %s hint %q: %q does not parse: %v", c.Name, sub.Name, m[1], text, err)
					}
				}
			}
		}
	}
	if examples < 6 {
		t.Errorf("found %d examples in the hints, want at least 6", examples)
	}
}

// TestMemberQuotaCommand: /parley quota is offered to everyone and asks
// the command layer for the member's own quotas ("quota show"), with or
// without arguments.
func TestMemberQuotaCommand(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	h := start(t, f, testOptions(f), rec)
	for i, args := range []string{"", "show"} {
		id := f.Interact(discordfake.Invocation{GuildID: guildID, ChannelID: chanID, UserID: bobID,
			Permissions: discordgo.PermissionSendMessages, Command: CommandName, Sub: "quota", Args: args})
		h.waitFake(t, "the quota answer", func() bool { r, _ := f.Interaction(id); return r.Type != 0 })
		if r, _ := f.Interaction(id); r.Type != 4 || r.Content != "ok: quota show" {
			t.Errorf("/parley quota %q answered %+v", args, r)
		}
		_, _, _, cmds, _ := rec.snapshot()
		if len(cmds) != i+1 || cmds[i].Text != "quota show" || cmds[i].IsAdmin || cmds[i].UserID != bobID {
			t.Errorf("/parley quota %q reached the command layer as %+v", args, cmds)
		}
	}
}
