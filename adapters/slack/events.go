package slack

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack/slackevents"

	"github.com/parley-bot/parley/bot"
)

// Subtypes of message events that carry a user's new message.
var newMessageSubtypes = map[string]bool{"": true, "thread_broadcast": true, "file_share": true, "bot_message": true}

// handleEventsAPI translates one Events API callback (either mode). eventID
// is the callback's event_id, used only for the in-memory filter.
func (a *Adapter) handleEventsAPI(ctx context.Context, h bot.Handler, ev slackevents.EventsAPIEvent, eventID string) {
	defer a.processed.Add(1)
	if ev.Type != slackevents.CallbackEvent {
		return
	}
	if !a.seen.firstTime("event:" + eventID) {
		return
	}
	team := ev.TeamID
	if team == "" {
		team = a.identity().TeamID
	}
	var err error
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		err = a.onMention(ctx, h, team, e)
	case *slackevents.MessageEvent:
		err = a.onMessage(ctx, h, team, e)
	default:
		return
	}
	if err != nil {
		a.log.Error("slack event not handled", "event_id", eventID, "type", ev.InnerEvent.Type, "err", err)
	}
}

func (a *Adapter) identity() identity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.self
}

// ownOrIgnoredBot reports whether a message by user/botID must be ignored:
// the bot's own, or another bot's unless respond_to_bots.
func (a *Adapter) ownOrIgnoredBot(user, botID string) bool {
	self := a.identity()
	if user != "" && user == self.UserID {
		return true
	}
	if botID != "" && (botID == self.BotID || !a.opts.RespondToBots) {
		return true
	}
	return false
}

func (a *Adapter) onMention(ctx context.Context, h bot.Handler, team string, e *slackevents.AppMentionEvent) error {
	if e.User == "" || a.ownOrIgnoredBot(e.User, e.BotID) {
		return nil
	}
	thread := e.ThreadTimeStamp
	if thread == "" {
		thread = e.TimeStamp
	}
	isDM := strings.HasPrefix(e.Channel, "D")
	if isDM && e.ThreadTimeStamp == "" {
		thread = e.Channel
	}
	return a.deliver(ctx, h, bot.Message{
		Platform: bot.PlatformSlack, Workspace: team, Channel: e.Channel, Thread: thread,
		ID: e.TimeStamp, AuthorID: e.User, IsDM: isDM, MentionsBot: true,
	}, e.Text)
}

func (a *Adapter) onMessage(ctx context.Context, h bot.Handler, team string, e *slackevents.MessageEvent) error {
	switch e.SubType {
	case "message_changed":
		return a.onChanged(ctx, h, team, e)
	case "message_deleted":
		return a.onDeleted(ctx, h, team, e)
	}
	if !newMessageSubtypes[e.SubType] {
		return nil // joins, topic changes, huddles, …
	}
	if e.User == "" || a.ownOrIgnoredBot(e.User, e.BotID) {
		return nil
	}
	isDM := e.ChannelType == "im" || (e.ChannelType == "" && strings.HasPrefix(e.Channel, "D"))
	thread := e.ThreadTimeStamp
	if thread == "" {
		thread = e.TimeStamp
		if isDM {
			// A DM is one conversation unless the user opens a thread.
			thread = e.Channel
		}
	}
	m := bot.Message{
		Platform: bot.PlatformSlack, Workspace: team, Channel: e.Channel, Thread: thread,
		ID: e.TimeStamp, AuthorID: e.User, IsDM: isDM,
		MentionsBot: a.mentionsBot(e.Text),
	}
	if !isDM && !m.MentionsBot {
		// Only follow-ups in a thread the bot already answered in.
		if e.ThreadTimeStamp == "" || !a.opts.ReplyInThreadsWithoutMention {
			return nil
		}
		active, err := h.ThreadActive(ctx, m.Key())
		if err != nil {
			return fmt.Errorf("thread %s active: %w", m.Key(), err)
		}
		if !active {
			return nil
		}
	}
	return a.deliver(ctx, h, m, e.Text)
}

// deliver resolves the text and author and hands the message to the
// engine. The in-memory filter drops the second copy of a message
// (app_mention and message.channels, or a redelivery) before users.info.
func (a *Adapter) deliver(ctx context.Context, h bot.Handler, m bot.Message, raw string) error {
	m.EventID = m.Channel + "/" + m.ID
	if !a.seen.firstTime("msg:" + m.EventID) {
		return nil
	}
	m.Time = tsTime(m.ID)
	m.Text = a.prepareText(ctx, raw)
	if u, err := a.users.get(ctx, m.AuthorID); err == nil {
		m.AuthorName = u.Name
	} else {
		a.log.Warn("slack author name unavailable", "user", m.AuthorID, "err", err)
		m.AuthorName = m.AuthorID
	}
	a.rememberAuthor(m.Key(), m.AuthorID)
	if err := h.HandleMessage(ctx, m); err != nil {
		// Slack will not deliver the acked event again: tell the user,
		// and let a copy of it (message.channels after app_mention) or a
		// message sent again through.
		a.seen.forget("msg:" + m.EventID)
		if terr := bot.TellUnhandled(ctx, a, m, err); terr != nil {
			a.log.Error("message not taken and the user not told", "err", terr)
		}
		return fmt.Errorf("handle message %s: %w", m.EventID, err)
	}
	return nil
}

func (a *Adapter) onChanged(ctx context.Context, h bot.Handler, team string, e *slackevents.MessageEvent) error {
	msg := e.Message
	if msg == nil || msg.User == "" || a.ownOrIgnoredBot(msg.User, msg.BotID) {
		return nil // includes the events our own chat.update calls cause
	}
	if e.PreviousMessage != nil && e.PreviousMessage.Text == msg.Text {
		return nil // reply counts, unfurls: not an edit of the text
	}
	key := a.keyOf(team, e.Channel, e.ChannelType, msg.ThreadTimestamp, msg.Timestamp)
	if err := h.HandleEdit(ctx, key, msg.Timestamp, a.prepareText(ctx, msg.Text)); err != nil {
		return fmt.Errorf("handle edit of %s/%s: %w", e.Channel, msg.Timestamp, err)
	}
	return nil
}

func (a *Adapter) onDeleted(ctx context.Context, h bot.Handler, team string, e *slackevents.MessageEvent) error {
	prev := e.PreviousMessage
	threadTS := ""
	if prev != nil {
		if a.ownOrIgnoredBot(prev.User, prev.BotID) {
			return nil
		}
		threadTS = prev.ThreadTimestamp
	}
	if e.DeletedTimeStamp == "" {
		return nil
	}
	key := a.keyOf(team, e.Channel, e.ChannelType, threadTS, e.DeletedTimeStamp)
	if err := h.HandleDelete(ctx, key, e.DeletedTimeStamp); err != nil {
		return fmt.Errorf("handle delete of %s/%s: %w", e.Channel, e.DeletedTimeStamp, err)
	}
	return nil
}

// keyOf is the thread of a message with the given thread_ts and ts, with
// the same rules as new messages (a DM without thread is keyed by channel).
func (a *Adapter) keyOf(team, channel, channelType, threadTS, ts string) bot.ThreadKey {
	thread := threadTS
	if thread == "" {
		thread = ts
		if channelType == "im" || (channelType == "" && strings.HasPrefix(channel, "D")) {
			thread = channel
		}
	}
	return bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: team, Channel: channel, Thread: thread}
}

// specialRe matches Slack's <…> control sequences in message text.
var specialRe = regexp.MustCompile(`<([^<>]*)>`)

// maxMentionLookups bounds the users.info calls one message may cause.
const maxMentionLookups = 10

func (a *Adapter) mentionsBot(raw string) bool {
	self := a.identity()
	return self.UserID != "" && (strings.Contains(raw, "<@"+self.UserID+">") || strings.Contains(raw, "<@"+self.UserID+"|"))
}

// prepareText turns Slack's wire text into what the model reads: the bot
// mention removed, user mentions as @display names, channel and link
// sequences as plain text, entities unescaped.
func (a *Adapter) prepareText(ctx context.Context, raw string) string {
	self := a.identity()
	lookups := 0
	out := specialRe.ReplaceAllStringFunc(raw, func(tok string) string {
		body := tok[1 : len(tok)-1]
		target, label, hasLabel := strings.Cut(body, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			id := target[1:]
			if id == self.UserID {
				return ""
			}
			// A message can mention many users; past a few, names come
			// from the cache or the mention's own label, so one message
			// cannot spend the workspace's users.info budget.
			if u, ok := a.users.cached(id); ok {
				return "@" + u.Name
			}
			if lookups < maxMentionLookups {
				lookups++
				if u, err := a.users.get(ctx, id); err == nil {
					return "@" + u.Name
				}
			}
			if hasLabel && label != "" {
				return "@" + strings.TrimPrefix(label, "@")
			}
			return "@" + id
		case strings.HasPrefix(target, "#"):
			if hasLabel && label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			if hasLabel && label != "" {
				return label
			}
			return "@" + strings.SplitN(target[1:], "^", 2)[0]
		default:
			if hasLabel && label != "" && label != target {
				return label + " (" + target + ")"
			}
			return target
		}
	})
	out = entityUnescaper.Replace(out)
	// Only the ends are trimmed: inner whitespace may be code.
	return strings.TrimSpace(out)
}

// entityUnescaper undoes Slack's escaping of message text (immutable).
var entityUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// tsTime parses a Slack ts ("1700000000.000100").
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000).UTC()
}
