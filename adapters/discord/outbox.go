package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/parley-bot/parley/bot"
)

// Limits declares Discord's budgets to the renderer. Discord does not
// document the message buckets; about 5 requests per 5 s per channel is
// what it serves (X-RateLimit-Limit: 5, Reset-After: 5). The renderer's
// token buckets plan with these; the adapter enforces the live bucket from
// the X-RateLimit-* headers (refusing locally with a RateLimitedError when
// it is empty) and the global 50 requests/s in its HTTP transport.
// ScopeChannel is the parent channel for threads: threads of one channel
// share these budgets, which Discord does not require (see "Edit budgets"
// in the package doc).
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{
		MaxMessageChars: a.opts.MaxMessageChars,
		Edit:            bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 5},
		Post:            bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 5},
		MinEditInterval: time.Second,
		// A channel's bucket is shared by few replies and refills a token
		// a second: a first text may use all of it (a final waits ≤ 4 s more
		// in the worst case), so five replies starting together all show
		// text within a second of their first tokens.
		FirstTextBorrow: 4,
	}
}

// noPings keeps model output from pinging anyone: mentions it writes are
// shown, but notify nobody.
func noPings() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// destination is where a conversation's messages go: its channel, and
// for a reply-mode conversation the message the answer references.
type destination struct {
	channel string
	replyTo string // the user's message, in reply mode
}

// destination resolves a key by the rule in the package doc: a DM, or a
// key whose Thread is empty or equals its Channel, posts to the Channel;
// otherwise Thread is either a thread channel (posted into) or the user's
// message in Channel (a reply-mode conversation, answered with a
// reference). Which one is a fact about the ID, kept by the directory and
// asked from Discord when unknown (after a restart: GET /channels/{id}
// answers 404 Unknown Channel for a message ID). When Discord cannot be
// asked, the configured reply mode decides.
func (a *Adapter) destination(ctx context.Context, key bot.ThreadKey) destination {
	if key.Workspace == "" || key.Thread == "" || key.Thread == key.Channel {
		return destination{channel: key.Channel}
	}
	thread, known := a.dir.threadChannel(ctx, key.Thread)
	if !known {
		thread = a.opts.ReplyMode == ReplyModeThread
		a.log.Warn("cannot tell whether a conversation is a thread; going by reply_mode", "channel", key.Channel, "thread", key.Thread, "reply_mode", a.opts.ReplyMode)
	}
	if thread {
		return destination{channel: key.Thread}
	}
	return destination{channel: key.Channel, replyTo: key.Thread}
}

// budgetLookup bounds the Discord lookup BudgetKey may make for a
// conversation opened before a restart.
const budgetLookup = 2 * time.Second

// BudgetKey implements bot.BudgetKeyer: Discord's per-channel buckets
// belong to the channel a message is actually sent to, so a thread's
// replies draw from the thread's own budget rather than its parent's.
func (a *Adapter) BudgetKey(s bot.Scope, k bot.ThreadKey) string {
	if s != bot.ScopeChannel {
		return s.Key(k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), budgetLookup)
	defer cancel()
	d := a.destination(ctx, k)
	return string(bot.PlatformDiscord) + "/" + k.Workspace + "/" + d.channel
}

var _ bot.BudgetKeyer = (*Adapter)(nil)

// Post sends text as a new message in the conversation: into its thread,
// or in reply mode into the channel, where the first message of the
// answer references the user's message.
func (a *Adapter) Post(ctx context.Context, key bot.ThreadKey, text string) (string, error) {
	dest := a.destination(ctx, key)
	release, err := a.reserve(ctx, "post:"+dest.channel, "discord post")
	if err != nil {
		return "", err
	}
	defer release()
	send := &discordgo.MessageSend{Content: a.render(text), AllowedMentions: noPings()}
	reference := dest.replyTo != "" && !a.referenced(key)
	if reference {
		send.Reference = &discordgo.MessageReference{
			MessageID:       dest.replyTo,
			ChannelID:       dest.channel,
			GuildID:         key.Workspace,
			FailIfNotExists: new(false), // the answer still shows if the question was deleted
		}
	}
	msg, err := a.s.ChannelMessageSendComplex(dest.channel, send, discordgo.WithContext(ctx))
	if err != nil {
		return "", a.mapError(fmt.Sprintf("post in channel %s", dest.channel), err)
	}
	if reference {
		a.markReferenced(key) // only now: a refused post is retried with its reference
	}
	return msg.ID, nil
}

// Edit replaces the text of one of the bot's messages.
func (a *Adapter) Edit(ctx context.Context, key bot.ThreadKey, messageID, text string) error {
	dest := a.destination(ctx, key)
	release, err := a.reserve(ctx, "edit:"+dest.channel, "discord edit")
	if err != nil {
		return err
	}
	defer release()
	content := a.render(text)
	_, err = a.s.ChannelMessageEditComplex(&discordgo.MessageEdit{
		ID: messageID, Channel: dest.channel, Content: &content, AllowedMentions: noPings(),
	}, discordgo.WithContext(ctx))
	if err != nil {
		return a.mapError(fmt.Sprintf("edit message %s in channel %s", messageID, dest.channel), err)
	}
	return nil
}

// Typing shows "Parley is typing…" where the conversation's answer goes,
// for about 10 s.
func (a *Adapter) Typing(ctx context.Context, key bot.ThreadKey) error {
	dest := a.destination(ctx, key)
	if err := a.s.ChannelTyping(dest.channel, discordgo.WithContext(ctx)); err != nil {
		return a.mapError(fmt.Sprintf("typing in channel %s", dest.channel), err)
	}
	return nil
}

// shortWait is how long a request waits for its bucket to refill instead
// of being refused: refusing costs the renderer a pause and a retry, which
// is not worth it for a bucket that refills in a moment.
const shortWait = 100 * time.Millisecond

// reserve claims room in the route's bucket, waiting out a short refill;
// a longer one is refused with a *bot.RateLimitedError.
func (a *Adapter) reserve(ctx context.Context, route, op string) (func(), error) {
	for {
		release, wait := a.routes.reserve(route)
		if release != nil {
			return release, nil
		}
		if wait > shortWait {
			return nil, &bot.RateLimitedError{Op: op, RetryAfter: wait}
		}
		if !sleepCtx(ctx, wait+time.Millisecond) {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
}

// referenced reports whether a reply-mode conversation's answer already
// carries its reference in this process.
func (a *Adapter) referenced(key bot.ThreadKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, done := a.firstPosted[key.String()]
	return done
}

// maxReferenced bounds firstPosted. Forgetting a conversation only means
// its next answer carries the reference again, so when the table is full
// it drops entries older than an hour, then any, down to three quarters:
// memory stays bounded and the sweep's cost is spread over many inserts.
const maxReferenced = 4096

func (a *Adapter) markReferenced(key bot.ThreadKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if len(a.firstPosted) >= maxReferenced {
		for k, at := range a.firstPosted {
			if now.Sub(at) > time.Hour {
				delete(a.firstPosted, k)
			}
		}
		for k := range a.firstPosted {
			if len(a.firstPosted) <= maxReferenced*3/4 {
				break
			}
			delete(a.firstPosted, k)
		}
	}
	a.firstPosted[key.String()] = now
}

// render converts text for Discord. When the conversion would push a
// message past the limit the renderer split it for, the text goes as it
// is: raw Markdown is still readable, a rejected message is not.
func (a *Adapter) render(text string) string {
	if strings.TrimSpace(text) == "" {
		return "…" // Discord refuses empty messages
	}
	out := ToDiscordMarkdown(text)
	if utf8.RuneCountInString(out) > a.opts.MaxMessageChars {
		return text
	}
	return out
}

// mapError turns discordgo's 429 into a bot.RateLimitedError and wraps
// everything else with op.
func (a *Adapter) mapError(op string, err error) error {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil {
		wait := time.Second
		if rl.TooManyRequests != nil && rl.RetryAfter > 0 {
			wait = rl.RetryAfter
		}
		// discordgo drops the body's "global"; the transport saw the headers.
		return &bot.RateLimitedError{Op: "discord " + op, RetryAfter: wait, Global: a.tr.globalPaused()}
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == 429 {
		return &bot.RateLimitedError{Op: "discord " + op, RetryAfter: time.Second}
	}
	return fmt.Errorf("discord %s: %w", op, err)
}
