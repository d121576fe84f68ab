package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/parley-bot/parley/bot"
)

// Adapter is Parley's Slack connection. It implements bot.Adapter,
// bot.Typer and bot.Streamer. Create it with New; Run connects.
type Adapter struct {
	opts   Options
	log    *slog.Logger
	api    *slack.Client
	users  *userCache
	admins map[string]bool
	seen   *seenSet
	// processed counts Events API deliveries fully handled (or dropped as
	// duplicates); tests wait on it instead of sleeping.
	processed atomic.Int64
	// connected is true while Slack can reach Parley: the socket is up,
	// or the HTTP listener is serving (readiness, /readyz).
	connected atomic.Bool

	mu       sync.Mutex
	self     identity // from auth.test, set by Run
	noStatus bool     // assistant.threads.setStatus refused: not an AI app
	// authors holds each thread's latest author: the recipient of a
	// streamed reply when the engine names none (bounded).
	authors map[bot.ThreadKey]string
}

// identity is who the bot is, from auth.test.
type identity struct {
	TeamID string
	UserID string
	BotID  string
}

// Connected reports whether events can reach Parley now (for /readyz).
func (a *Adapter) Connected() bool { return a.connected.Load() }

// New checks opts and builds an adapter; it does not connect.
func New(opts Options, logger *slog.Logger) (*Adapter, error) {
	opts.applyDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("slack config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clientOpts := []slack.Option{slack.OptionAPIURL(opts.APIURL)}
	if opts.AppToken != "" {
		clientOpts = append(clientOpts, slack.OptionAppLevelToken(opts.AppToken))
	}
	if opts.HTTPClient != nil {
		clientOpts = append(clientOpts, slack.OptionHTTPClient(opts.HTTPClient))
	} else {
		clientOpts = append(clientOpts, slack.OptionHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	}
	admins := make(map[string]bool, len(opts.Admins))
	for _, id := range opts.Admins {
		admins[id] = true
	}
	a := &Adapter{
		opts:   opts,
		log:    logger.With("platform", "slack"),
		api:    slack.New(opts.BotToken, clientOpts...),
		admins: admins,
		seen:   newSeenSet(4096, 30*time.Minute),
	}
	a.users = newUserCache(opts.UserCacheSize, opts.UserCacheTTL, a.fetchUser)
	return a, nil
}

// Platform is bot.PlatformSlack.
func (a *Adapter) Platform() bot.Platform { return bot.PlatformSlack }

// Limits declares Slack's message size and budgets: chat.update is Tier 3
// per workspace (about 50 a minute), chat.postMessage about one a second
// per channel with short bursts.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{
		MaxMessageChars: a.opts.MaxMessageChars,
		Edit: bot.Budget{
			Scope: bot.ScopeWorkspace,
			Every: time.Minute / time.Duration(a.opts.EditsPerMinute),
			Burst: a.opts.EditBurst,
		},
		// A burst of 3 lets a placeholder and two continuations of a long
		// answer go out together; Slack allows short bursts per channel.
		Post: bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 3},
		// One reply should not drain the workspace's shared edit burst.
		MinEditInterval: time.Second,
	}
}

// Post sends text (Markdown, converted to mrkdwn) as a new message in the
// thread and returns its ts.
func (a *Adapter) Post(ctx context.Context, thread bot.ThreadKey, text string) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(ToMrkdwn(text), false)}
	if ts := threadTS(thread); ts != "" {
		opts = append(opts, slack.MsgOptionTS(ts))
	}
	_, ts, err := a.api.PostMessageContext(ctx, thread.Channel, opts...)
	if err != nil {
		return "", mapError("chat.postMessage", err)
	}
	return ts, nil
}

// Edit replaces the text of one of the bot's messages (chat.update).
func (a *Adapter) Edit(ctx context.Context, thread bot.ThreadKey, messageID, text string) error {
	_, _, _, err := a.api.UpdateMessageContext(ctx, thread.Channel, messageID,
		slack.MsgOptionText(ToMrkdwn(text), false))
	if err != nil {
		return mapError("chat.update", err)
	}
	return nil
}

// Typing sets the assistant thread status ("is thinking…"), which Slack
// shows only in AI apps' assistant threads. It is cosmetic: Slack's
// refusals are logged at debug level and not returned, and after a refusal
// that says the app cannot use it at all, Typing stops calling.
func (a *Adapter) Typing(ctx context.Context, thread bot.ThreadKey) error {
	a.mu.Lock()
	off := a.noStatus
	a.mu.Unlock()
	ts := threadTS(thread)
	if off || ts == "" { // the status belongs to a thread
		return nil
	}
	err := a.api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: thread.Channel,
		ThreadTS:  ts,
		Status:    "is thinking…",
	})
	if err == nil {
		return nil
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err != "ratelimited" {
		switch se.Err {
		case "missing_scope", "not_allowed_token_type", "no_permission", "method_deprecated", "unknown_method":
			a.mu.Lock()
			a.noStatus = true
			a.mu.Unlock()
		}
		a.log.Debug("slack assistant status refused", "channel", thread.Channel, "err", se.Err)
		return nil
	}
	return mapError("assistant.threads.setStatus", err)
}

// threadTS is the thread_ts to reply under; a DM conversation keyed by its
// channel has no thread.
func threadTS(k bot.ThreadKey) string {
	if k.Thread == "" || k.Thread == k.Channel {
		return ""
	}
	return k.Thread
}

// mapError turns Slack's rate-limit answers into *bot.RateLimitedError and
// wraps everything else with the method name. Tokens never appear in
// slack-go's errors.
func mapError(op string, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &bot.RateLimitedError{Op: op, RetryAfter: rl.RetryAfter}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "ratelimited" {
		// ok:false ratelimited without a usable Retry-After: Tier 3's
		// sustained rate is one a little over a second.
		return &bot.RateLimitedError{Op: op, RetryAfter: time.Second}
	}
	return fmt.Errorf("%s: %w", op, err)
}
