package slack

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/parley-bot/parley/bot"
)

// maxMarkdownText is the longest markdown_text Slack takes in one
// chat.startStream, chat.appendStream or chat.stopStream call.
const maxMarkdownText = 12000

// recipientMemory bounds how many threads' last authors are remembered.
const recipientMemory = 4096

var _ bot.Streamer = (*Adapter)(nil)

// streamRefusal says whether a Slack error code of the streaming methods
// means "not available", and how widely the refusal holds. Every other
// code is an ordinary failure (the renderer edits that reply instead).
func streamRefusal(code string) (bot.Scope, bool) {
	switch code {
	case "unknown_method", "method_deprecated", "deprecated_endpoint", "not_allowed_token_type",
		"access_denied", "enterprise_is_restricted", "feature_not_enabled", "not_allowed", "team_not_allowed":
		// The app, token or workspace cannot use the methods at all.
		return bot.ScopeWorkspace, true
	case "channel_type_not_supported", "messages_tab_disabled":
		// This kind of conversation cannot stream.
		return bot.ScopeChannel, true
	}
	return 0, false
}

// CanStream reports whether a reply in thread may use Slack's streaming
// methods: slack.streaming is not "edit" and the reply is in a thread
// (chat.startStream needs a thread_ts; a DM without a thread is answered
// in the channel itself).
func (a *Adapter) CanStream(thread bot.ThreadKey) bool {
	return a.opts.Streaming != StreamingEdit && threadTS(thread) != ""
}

// StartStream starts a streamed reply (chat.startStream) showing text,
// Markdown as the model wrote it (markdown_text, no mrkdwn conversion).
// Outside DMs Slack needs the recipient; when the engine gave none, the
// author of the thread's latest message is used.
func (a *Adapter) StartStream(ctx context.Context, thread bot.ThreadKey, rcpt bot.Recipient, text string) (string, error) {
	const op = "chat.startStream"
	if !a.CanStream(thread) {
		return "", &bot.StreamUnsupportedError{Op: op, Reason: "slack.streaming = " + a.opts.Streaming, Scope: bot.ScopeGlobal}
	}
	if rcpt.UserID == "" {
		rcpt.UserID = a.lastAuthor(thread)
	}
	if rcpt.TeamID == "" {
		rcpt.TeamID = thread.Workspace
	}
	isDM := strings.HasPrefix(thread.Channel, "D")
	if !isDM && (rcpt.UserID == "" || rcpt.TeamID == "") {
		return "", &bot.StreamUnsupportedError{Op: op, Reason: "recipient unknown", OnlyThisReply: true}
	}
	head, rest := cutMarkdown(text)
	opts := []slack.MsgOption{slack.MsgOptionTS(threadTS(thread)), slack.MsgOptionMarkdownText(head)}
	if rcpt.UserID != "" && rcpt.TeamID != "" {
		opts = append(opts, slack.MsgOptionRecipientUserID(rcpt.UserID), slack.MsgOptionRecipientTeamID(rcpt.TeamID))
	}
	_, ts, err := a.api.StartStreamContext(ctx, thread.Channel, opts...)
	if err != nil {
		return "", a.streamError(op, thread, err)
	}
	if rest != "" {
		if err := a.AppendStream(ctx, thread, ts, rest); err != nil {
			return ts, err
		}
	}
	return ts, nil
}

// AppendStream adds delta to a streamed reply (chat.appendStream),
// in calls of at most 12,000 characters.
func (a *Adapter) AppendStream(ctx context.Context, thread bot.ThreadKey, streamID, delta string) error {
	for delta != "" {
		var head string
		head, delta = cutMarkdown(delta)
		if _, _, err := a.api.AppendStreamContext(ctx, thread.Channel, streamID, slack.MsgOptionMarkdownText(head)); err != nil {
			return a.streamError("chat.appendStream", thread, err)
		}
	}
	return nil
}

// StopStream appends delta, if any, and ends a streamed reply
// (chat.stopStream).
func (a *Adapter) StopStream(ctx context.Context, thread bot.ThreadKey, streamID, delta string) error {
	if utf8.RuneCountInString(delta) > maxMarkdownText {
		// Append all but the last 12,000 characters, which go with the stop.
		i := len(delta)
		for range maxMarkdownText {
			_, size := utf8.DecodeLastRuneInString(delta[:i])
			i -= size
		}
		if err := a.AppendStream(ctx, thread, streamID, delta[:i]); err != nil {
			return err
		}
		delta = delta[i:]
	}
	var opts []slack.MsgOption
	if delta != "" {
		opts = append(opts, slack.MsgOptionMarkdownText(delta))
	}
	if _, _, err := a.api.StopStreamContext(ctx, thread.Channel, streamID, opts...); err != nil {
		return a.streamError("chat.stopStream", thread, err)
	}
	return nil
}

// cutMarkdown splits s after maxMarkdownText runes.
func cutMarkdown(s string) (head, rest string) {
	n := 0
	for i := range s {
		if n == maxMarkdownText {
			return s[:i], s[i:]
		}
		n++
	}
	return s, ""
}

// streamError maps Slack's answers to a streaming call: refusals to
// *bot.StreamUnsupportedError, rate limits as for every call.
func (a *Adapter) streamError(op string, thread bot.ThreadKey, err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if scope, ok := streamRefusal(se.Err); ok {
			lvl := a.log.Info
			if a.opts.Streaming == StreamingStreamAPI {
				// Asked for explicitly: say why it is not used.
				lvl = a.log.Warn
			}
			lvl("slack refused streaming; replies here are shown by editing instead",
				"op", op, "err", se.Err, "team", thread.Workspace, "channel", thread.Channel, "scope", scope)
			return &bot.StreamUnsupportedError{Op: op, Reason: se.Err, Scope: scope}
		}
		if strings.HasPrefix(se.Err, "missing_recipient_") {
			return &bot.StreamUnsupportedError{Op: op, Reason: se.Err, OnlyThisReply: true}
		}
	}
	return mapError(op, err)
}

// rememberAuthor records who wrote the latest message delivered in a
// thread: the recipient of a streamed reply when the engine names none.
func (a *Adapter) rememberAuthor(thread bot.ThreadKey, user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.authors == nil {
		a.authors = make(map[bot.ThreadKey]string)
	}
	if _, ok := a.authors[thread]; !ok && len(a.authors) >= recipientMemory {
		for k := range a.authors { // forget an arbitrary thread
			delete(a.authors, k)
			break
		}
	}
	a.authors[thread] = user
}

func (a *Adapter) lastAuthor(thread bot.ThreadKey) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.authors[thread]
}
