package discord

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/parley-bot/parley/bot"
)

var (
	roleMention    = regexp.MustCompile(`<@&([0-9]+)>`)
	channelMention = regexp.MustCompile(`<#([0-9]+)>`)
)

// userMessage reports whether a message type is something a person wrote
// (not a join notice, a pin, a thread-created notice …).
func userMessage(t discordgo.MessageType) bool {
	return t == discordgo.MessageTypeDefault || t == discordgo.MessageTypeReply
}

// ignoredAuthor reports whether messages by u are not for Parley: its own,
// and other bots' unless respond_to_bots.
func (a *Adapter) ignoredAuthor(u *discordgo.User) bool {
	if u == nil {
		return true
	}
	if u.ID == a.botUserID() {
		return true
	}
	return u.Bot && !a.opts.RespondToBots
}

// queueKey orders events: events of one conversation run in order, others
// in parallel. A thread (or DM) is one conversation, keyed by its channel.
// In a plain server channel every message is its own: the key is the
// message's ID, which is also the ID of the thread Parley opens from it,
// so a mention and the follow-ups in its thread share one queue.
func (a *Adapter) queueKey(guildID, channelID, messageID string) string {
	if guildID != "" {
		if ci, ok := a.dir.peek(channelID); ok && !ci.thread && !ci.missing {
			return messageID
		}
	}
	return channelID
}

func (a *Adapter) onMessageCreate(_ *discordgo.Session, ev *discordgo.MessageCreate) {
	h, ctx := a.current()
	if h == nil || ev.Message == nil || a.ignoredAuthor(ev.Author) || !userMessage(ev.Type) {
		return
	}
	m := ev.Message
	a.work.do(a.queueKey(m.GuildID, m.ChannelID, m.ID), func() { a.handleCreate(ctx, h, m) })
}

func (a *Adapter) handleCreate(ctx context.Context, h bot.Handler, m *discordgo.Message) {
	botID := a.botUserID()
	msg := bot.Message{
		Platform:    bot.PlatformDiscord,
		Workspace:   m.GuildID,
		ID:          m.ID,
		EventID:     m.ID, // snowflakes are unique across Discord: one ID per message, replay or not
		AuthorID:    m.Author.ID,
		AuthorName:  displayName(m.Author, m.Member),
		IsDM:        m.GuildID == "",
		MentionsBot: mentionsUser(m, botID),
		Text:        a.cleanText(ctx, m, botID),
		Time:        m.Timestamp,
	}
	log := a.log.With("channel", m.ChannelID, "message", m.ID)
	deliver := func(channel, thread string) {
		msg.Channel, msg.Thread = channel, thread
		if err := h.HandleMessage(ctx, msg); err != nil {
			// Discord will not deliver the event again: tell the user.
			log.Error("handle message", "err", err)
			if terr := bot.TellUnhandled(ctx, a, msg, err); terr != nil {
				log.Error("message not taken and the user not told", "err", terr)
			}
		}
	}
	if msg.IsDM {
		msg.QuotaWorkspace = a.opts.DMQuotaGuild
		deliver(m.ChannelID, m.ChannelID)
		return
	}
	ci, err := a.dir.channel(ctx, m.ChannelID)
	if err != nil {
		log.Warn("channel lookup failed; treating it as a plain channel", "err", err)
	}
	if ci.thread {
		key := a.threadKey(m.GuildID, m.ChannelID, ci)
		if !msg.MentionsBot {
			active, err := h.ThreadActive(ctx, key)
			if err != nil {
				log.Error("thread lookup", "err", err)
				return
			}
			if !active {
				return
			}
		}
		deliver(key.Channel, key.Thread)
		return
	}
	if root := replyRoot(m, botID); root != "" {
		// A Discord reply to the first message of one of the bot's
		// answers continues that reply-mode conversation.
		a.dir.rememberRoot(root)
		deliver(m.ChannelID, root)
		return
	}
	if !msg.MentionsBot {
		return
	}
	if a.opts.ReplyMode == ReplyModeThread {
		thread, err := a.openThread(ctx, m, msg.Text)
		if err == nil {
			// The thread has the message's ID: the conversation is
			// keyed {guild, channel, message} as in reply mode, and the
			// Outbox posts into the thread (see the package doc).
			deliver(m.ChannelID, thread)
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("could not open a thread; answering with a reply instead (does the bot have Create Public Threads?)", "err", err)
	}
	a.dir.rememberRoot(m.ID)
	deliver(m.ChannelID, m.ID)
}

// threadKey is the conversation of a thread channel: keyed by its parent
// channel, so that everything Parley scopes per channel (limits, quotas,
// models, filters, usage) applies to the channel the thread belongs to.
func (a *Adapter) threadKey(guildID, threadID string, ci channelInfo) bot.ThreadKey {
	parent := ci.parent
	if parent == "" {
		// Discord always names a thread's parent; should it not, the
		// thread stands for itself rather than the message going unanswered.
		a.log.Warn("thread without a parent channel; scoping it as a channel of its own", "thread", threadID)
		parent = threadID
	}
	return bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: parent, Thread: threadID}
}

// openThread starts a thread from the user's message and returns its
// channel ID, which Discord makes the message's ID.
func (a *Adapter) openThread(ctx context.Context, m *discordgo.Message, text string) (string, error) {
	ch, err := a.s.MessageThreadStartComplex(m.ChannelID, m.ID, &discordgo.ThreadStart{
		Name:                threadName(text),
		AutoArchiveDuration: 1440,
	}, discordgo.WithContext(ctx))
	var re *discordgo.RESTError
	switch {
	case err == nil:
		a.dir.remember(ch.ID, channelInfo{name: ch.Name, thread: true, parent: m.ChannelID})
		return ch.ID, nil
	case errors.As(err, &re) && re.Message != nil && re.Message.Code == discordgo.ErrCodeThreadAlreadyCreatedForThisMessage:
		// A replayed event, or a restart: the thread exists.
		a.dir.remember(m.ID, channelInfo{thread: true, parent: m.ChannelID})
		return m.ID, nil
	}
	return "", a.mapError("create thread", err)
}

// replyRoot returns the conversation a reply continues: m replies to a
// bot message that itself replied to the user's message starting the
// conversation (the first message of every reply-mode answer does). It
// returns "" for anything else.
func replyRoot(m *discordgo.Message, botID string) string {
	ref := m.ReferencedMessage
	if m.MessageReference == nil || ref == nil || ref.Author == nil || ref.Author.ID != botID || ref.MessageReference == nil {
		return ""
	}
	if ref.MessageReference.ChannelID != "" && ref.MessageReference.ChannelID != m.ChannelID {
		return ""
	}
	return ref.MessageReference.MessageID
}

// threadName makes a thread title from the question: its first line, cut
// to Discord's 100 characters.
func threadName(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.Join(strings.Fields(line), " ")
	if line == "" {
		return "Parley"
	}
	if utf8.RuneCountInString(line) > 90 {
		r := []rune(line)
		line = strings.TrimSpace(string(r[:89])) + "…"
	}
	return line
}

func (a *Adapter) onMessageUpdate(_ *discordgo.Session, ev *discordgo.MessageUpdate) {
	h, ctx := a.current()
	// Updates without an author are Discord adding embeds, not user edits.
	if h == nil || ev.Message == nil || ev.Author == nil || a.ignoredAuthor(ev.Author) || !userMessage(ev.Type) {
		return
	}
	m := ev.Message
	a.work.do(a.queueKey(m.GuildID, m.ChannelID, m.ID), func() {
		key := a.keyOf(ctx, m.GuildID, m.ChannelID, m.ID)
		if err := h.HandleEdit(ctx, key, m.ID, a.cleanText(ctx, m, a.botUserID())); err != nil {
			a.log.Error("handle edit", "channel", m.ChannelID, "message", m.ID, "err", err)
		}
	})
}

func (a *Adapter) onMessageDelete(_ *discordgo.Session, ev *discordgo.MessageDelete) {
	h, ctx := a.current()
	if h == nil || ev.Message == nil {
		return
	}
	m := ev.Message
	a.work.do(a.queueKey(m.GuildID, m.ChannelID, m.ID), func() {
		key := a.keyOf(ctx, m.GuildID, m.ChannelID, m.ID)
		if err := h.HandleDelete(ctx, key, m.ID); err != nil {
			a.log.Error("handle delete", "channel", m.ChannelID, "message", m.ID, "err", err)
		}
	})
}

// keyOf returns the conversation an existing message belongs to, by the
// same scheme handleCreate uses (see the package doc): in a thread, the
// thread under its parent channel; in a server channel, the conversation
// the message started (its thread or its replies); in a DM, the DM.
func (a *Adapter) keyOf(ctx context.Context, guildID, channelID, messageID string) bot.ThreadKey {
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: channelID, Thread: channelID}
	if guildID == "" {
		return key
	}
	ci, err := a.dir.channel(ctx, channelID)
	if err != nil {
		a.log.Warn("channel lookup failed; treating it as a plain channel", "channel", channelID, "err", err)
	}
	if ci.thread {
		return a.threadKey(guildID, channelID, ci)
	}
	key.Thread = messageID
	return key
}

// mentionsUser reports whether m mentions the user id.
func mentionsUser(m *discordgo.Message, id string) bool {
	if id == "" {
		return false
	}
	for _, u := range m.Mentions {
		if u != nil && u.ID == id {
			return true
		}
	}
	return strings.Contains(m.Content, "<@"+id+">") || strings.Contains(m.Content, "<@!"+id+">")
}

// cleanText strips the bot's mention and turns the other user, role and
// channel mentions into names the model can read.
func (a *Adapter) cleanText(ctx context.Context, m *discordgo.Message, botID string) string {
	text := m.Content
	if botID != "" {
		// With the space after it, so that "ask <@bot> about" reads "ask about".
		text = strings.NewReplacer("<@"+botID+"> ", "", "<@!"+botID+"> ", "", "<@"+botID+">", "", "<@!"+botID+">", "").Replace(text)
	}
	for _, u := range m.Mentions {
		if u == nil || u.ID == botID {
			continue
		}
		name := "@" + displayName(u, nil)
		text = strings.NewReplacer("<@"+u.ID+">", name, "<@!"+u.ID+">", name).Replace(text)
	}
	if m.GuildID != "" {
		text = roleMention.ReplaceAllStringFunc(text, func(s string) string {
			if name := a.dir.role(ctx, m.GuildID, roleMention.FindStringSubmatch(s)[1]); name != "" {
				return "@" + name
			}
			return "@role"
		})
	}
	text = channelMention.ReplaceAllStringFunc(text, func(s string) string {
		if ci, err := a.dir.channel(ctx, channelMention.FindStringSubmatch(s)[1]); err == nil && ci.name != "" {
			return "#" + ci.name
		}
		return "#channel"
	})
	return strings.TrimSpace(text)
}

// displayName is what the model calls a user: the server nickname, the
// global display name, or the username.
func displayName(u *discordgo.User, member *discordgo.Member) string {
	if member != nil && member.Nick != "" {
		return member.Nick
	}
	return userName(u)
}

func userName(u *discordgo.User) string {
	switch {
	case u == nil:
		return ""
	case u.GlobalName != "":
		return u.GlobalName
	default:
		return u.Username
	}
}
