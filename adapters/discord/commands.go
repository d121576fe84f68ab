package discord

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/parley-bot/parley/bot"
)

// The application commands. /parley is for everyone; /parley-admin holds
// the admin subcommands and is registered with default_member_permissions
// = Manage Server, so Discord shows it only to those members (server
// owners can change that under Integrations, which is why the adapter
// checks the invoking member's permissions again).
const (
	CommandName      = "parley"
	AdminCommandName = "parley-admin"
)

// permManageServer is what admin subcommands require (Administrator implies it).
const permManageServer = discordgo.PermissionManageGuild

func argsOption(desc string) []*discordgo.ApplicationCommandOption {
	return []*discordgo.ApplicationCommandOption{{
		Type: discordgo.ApplicationCommandOptionString, Name: "args", Description: desc, Required: false,
	}}
}

// Commands returns the application commands Run registers.
func Commands() []*discordgo.ApplicationCommand {
	sub := func(name, desc string, opts []*discordgo.ApplicationCommandOption) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionSubCommand, Name: name, Description: desc, Options: opts}
	}
	manage := int64(permManageServer)
	return []*discordgo.ApplicationCommand{
		{
			Name:        CommandName,
			Description: "Talk to Parley",
			Options: []*discordgo.ApplicationCommandOption{
				sub("help", "How to use Parley", nil),
				sub("reset", "Forget this thread's conversation", nil),
				sub("usage", "Your token usage", argsOption("e.g. \"today\"")),
				sub("quota", "Your quotas: what is used and when it resets", argsOption("optional: \"show\"")),
			},
		},
		{
			Name:                     AdminCommandName,
			Description:              "Parley administration",
			DefaultMemberPermissions: &manage,
			Options: []*discordgo.ApplicationCommandOption{
				sub("quota", "Show, set or reset quotas", argsOption("e.g. \"show @ana\", \"set @ana 50k tokens/day\", \"set #general 100 requests/day\"")),
				sub("usage", "Usage of the server or a member", argsOption("e.g. \"@ana week\"")),
				sub("limits", "Show or set rate limits", argsOption("e.g. \"show\"")),
				sub("audit", "Recent admin actions", argsOption("e.g. \"20\"")),
			},
		},
	}
}

// registerCommands overwrites the application's commands: in each of
// guild_ids (instant), or globally (may take up to an hour to appear).
func (a *Adapter) registerCommands(ctx context.Context) error {
	a.mu.Lock()
	appID := a.appID
	a.mu.Unlock()
	guilds := a.opts.GuildIDs
	if len(guilds) == 0 {
		guilds = []string{""}
	}
	for _, g := range guilds {
		if _, err := a.s.ApplicationCommandBulkOverwrite(appID, g, Commands(), discordgo.WithContext(ctx)); err != nil {
			where := "globally"
			if g != "" {
				where = "in guild " + g
			}
			return fmt.Errorf("register commands %s: %w", where, err)
		}
	}
	return nil
}

func (a *Adapter) onInteraction(_ *discordgo.Session, ev *discordgo.InteractionCreate) {
	h, ctx := a.current()
	if h == nil || ev.Interaction == nil || ev.Type != discordgo.InteractionApplicationCommand {
		return
	}
	i := ev.Interaction
	a.work.spawn(func() { a.handleInteraction(ctx, h, i) })
}

// isAdmin reports whether the invoker may use admin subcommands: Manage
// Server (or Administrator) in this channel, as Discord computed it for the
// interaction, or an ID in discord.admins.
func (a *Adapter) isAdmin(i *discordgo.Interaction) bool {
	u := interactionUser(i)
	if u != nil && slices.Contains(a.opts.Admins, u.ID) {
		return true
	}
	return i.Member != nil && i.Member.Permissions&(permManageServer|discordgo.PermissionAdministrator) != 0
}

func interactionUser(i *discordgo.Interaction) *discordgo.User {
	if i.Member != nil && i.Member.User != nil {
		return i.Member.User
	}
	return i.User
}

// commandText turns "/parley usage args:today" into "usage today". A bare
// "/parley quota" asks for "quota show": the member's own quotas.
func commandText(data discordgo.ApplicationCommandInteractionData) (sub, text string) {
	if len(data.Options) == 0 {
		return "", ""
	}
	o := data.Options[0]
	sub = o.Name
	text = sub
	for _, arg := range o.Options {
		if arg.Type == discordgo.ApplicationCommandOptionString {
			if v := strings.TrimSpace(arg.StringValue()); v != "" {
				text += " " + v
			}
		}
	}
	if data.Name == CommandName && text == "quota" {
		text = "quota show"
	}
	return sub, text
}

func (a *Adapter) handleInteraction(ctx context.Context, h bot.Handler, i *discordgo.Interaction) {
	data := i.ApplicationCommandData()
	if data.Name != CommandName && data.Name != AdminCommandName {
		return
	}
	start := time.Now()
	sub, text := commandText(data)
	admin := a.isAdmin(i)
	log := a.log.With("command", data.Name, "sub", sub)
	if data.Name == AdminCommandName && !admin {
		a.respond(ctx, i, bot.CommandResult{
			Text:      "This command needs the Manage Server permission (or your user ID in discord.admins).",
			Ephemeral: true,
		}, log)
		return
	}
	u := interactionUser(i)
	cmd := bot.Command{IsAdmin: admin, Text: text}
	if u != nil {
		cmd.UserID, cmd.UserName = u.ID, displayName(u, i.Member)
	}

	results := make(chan bot.CommandResult, 1)
	a.work.spawn(func() {
		cmd.Thread = a.commandThread(ctx, i)
		results <- h.HandleCommand(ctx, cmd)
	})
	timer := time.NewTimer(a.deferAfter)
	defer timer.Stop()
	select {
	case res := <-results:
		a.respond(ctx, i, res, log)
		return
	case <-timer.C:
	case <-ctx.Done():
		return
	}
	// Slow: acknowledge now (Discord drops interactions unanswered after
	// 3 s), then edit the deferred response when the answer is ready.
	err := a.s.InteractionRespond(i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral},
	}, discordgo.WithContext(ctx))
	if err != nil {
		log.Error("defer interaction", "err", err, "after", time.Since(start))
		return
	}
	var res bot.CommandResult
	select {
	case res = <-results:
	case <-ctx.Done():
		return
	}
	content := a.clip(res.Text)
	if _, err := a.s.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: &content, AllowedMentions: noPings()}, discordgo.WithContext(ctx)); err != nil {
		log.Error("edit deferred interaction response", "err", err)
	}
}

func (a *Adapter) respond(ctx context.Context, i *discordgo.Interaction, res bot.CommandResult, log interface{ Error(string, ...any) }) {
	var flags discordgo.MessageFlags
	if res.Ephemeral {
		flags = discordgo.MessageFlagsEphemeral
	}
	err := a.s.InteractionRespond(i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: a.clip(res.Text), Flags: flags, AllowedMentions: noPings()},
	}, discordgo.WithContext(ctx))
	if err != nil {
		log.Error("answer interaction", "err", err)
	}
}

// commandThread is the conversation a command was issued in, keyed as
// messages are (see the package doc): in a thread, the thread under its
// parent channel; in a plain server channel, the channel with Thread "".
// In a DM the workspace is the DM quota guild, so that "quota show" there
// shows the quotas the DM counts against and targets name its members.
func (a *Adapter) commandThread(ctx context.Context, i *discordgo.Interaction) bot.ThreadKey {
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: i.GuildID, Channel: i.ChannelID, Thread: i.ChannelID}
	if i.GuildID == "" {
		key.Workspace = a.opts.DMQuotaGuild
		return key
	}
	ci, err := a.dir.channel(ctx, i.ChannelID)
	if err != nil || !ci.thread {
		key.Thread = ""
		return key
	}
	return a.threadKey(i.GuildID, i.ChannelID, ci)
}

// clip fits a command answer into one message.
func (a *Adapter) clip(text string) string {
	text = a.render(text)
	if utf8.RuneCountInString(text) <= a.opts.MaxMessageChars {
		return text
	}
	r := []rune(text)
	return string(r[:a.opts.MaxMessageChars-1]) + "…"
}
