package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/conversation"
	"github.com/parley-bot/parley/stream"
)

// InterruptedNotice ends every reply a crash left unfinished.
const InterruptedNotice = "⚠ interrupted by a restart"

// Recovery tries each platform request this many times when the platform
// answers with its rate limit, waiting at most maxRecoveryWait each time.
const (
	recoveryAttempts = 5
	maxRecoveryWait  = time.Minute
)

// InterruptedStore is what RecoverInterrupted needs from storage
// (conversation.Store implements it).
type InterruptedStore interface {
	InterruptedReplies(ctx context.Context) ([]conversation.PendingReply, error)
	FinishReply(ctx context.Context, replyID int64, out bot.ReplyOutcome) error
}

// RecoverInterrupted finishes every reply a crash left streaming. Call it
// at start, after the outboxes exist and before any message is handled.
// Each reply's last posted message is edited to show its stored text with
// InterruptedNotice on its own line (text longer than a message goes on in
// new ones); a reply that posted nothing gets the notice as a new message.
// Each is then stored as bot.StatusInterrupted with the text shown.
//
// A reply is stored as interrupted even when the platform request fails
// (or its platform is no longer enabled), so that it is not retried at
// every start; such failures are returned joined, after the others were
// handled. n counts the replies stored. It stops early only when ctx ends
// or the store fails.
func RecoverInterrupted(ctx context.Context, store InterruptedStore, outboxes map[bot.Platform]bot.Outbox, logger *slog.Logger) (n int, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pending, err := store.InterruptedReplies(ctx)
	if err != nil {
		return 0, fmt.Errorf("recover interrupted replies: %w", err)
	}
	var shown []error
	for _, p := range pending {
		log := logger.With("platform", p.Thread.Platform, "workspace", p.Thread.Workspace,
			"channel", p.Thread.Channel, "thread", p.Thread.Thread, "reply_id", p.ID)
		out, showErr := showInterrupted(ctx, p, outboxes[p.Thread.Platform])
		if ctx.Err() != nil {
			return n, fmt.Errorf("recover interrupted replies: %w", ctx.Err())
		}
		if showErr != nil {
			showErr = fmt.Errorf("reply %d in %s: %w", p.ID, p.Thread, showErr)
			shown = append(shown, showErr)
			log.Warn("cannot show the interrupted notice; storing the reply as interrupted anyway", "err", showErr)
			out.Error = "interrupted by a restart; notice not shown: " + showErr.Error()
		}
		if err := store.FinishReply(ctx, p.ID, out); err != nil {
			if errors.Is(err, conversation.ErrNotFound) {
				// The thread was reset meanwhile: nothing to store.
				continue
			}
			return n, errors.Join(append(shown, fmt.Errorf("recover interrupted reply %d in %s: %w", p.ID, p.Thread, err))...)
		}
		n++
		log.Info("finished a reply interrupted by a restart", "messages", len(out.MessageIDs))
	}
	if len(shown) > 0 {
		return n, fmt.Errorf("recover interrupted replies: %w", errors.Join(shown...))
	}
	return n, nil
}

// showInterrupted puts the reply's final text on the platform and returns
// the outcome to store; on error the outcome still holds the final text
// and the messages known to carry it.
func showInterrupted(ctx context.Context, p conversation.PendingReply, ob bot.Outbox) (bot.ReplyOutcome, error) {
	text := finalText(p.Text)
	out := bot.ReplyOutcome{
		Text:       text,
		Status:     bot.StatusInterrupted,
		Usage:      bot.Usage{Model: p.Model},
		MessageIDs: append([]string(nil), p.MessageIDs...),
		Error:      "interrupted by a restart",
	}
	if ob == nil {
		return out, fmt.Errorf("%s: %w", p.Thread.Platform, errNoOutbox)
	}
	parts := stream.Split(text, ob.Limits().MaxMessageChars)
	ids := p.MessageIDs
	var post []string
	switch {
	case len(ids) == 0:
		// Nothing was shown; users get the whole text (usually just the notice).
		post = parts
	case len(parts) >= len(ids):
		// The messages before the last show parts[:len(ids)-1] already
		// (the renderer splits the same way); the last gets its part
		// with the notice, and any rest follows in new messages.
		if err := retry(ctx, func() error { return ob.Edit(ctx, p.Thread, ids[len(ids)-1], parts[len(ids)-1]) }); err != nil {
			return out, fmt.Errorf("edit message %s: %w", ids[len(ids)-1], err)
		}
		post = parts[len(ids):]
	default:
		// The stored text lags behind what was posted: the last message
		// shows text not stored, so it is left alone and the notice
		// follows in a new message.
		post = []string{InterruptedNotice}
	}
	for _, part := range post {
		var id string
		err := retry(ctx, func() (err error) {
			id, err = ob.Post(ctx, p.Thread, part)
			return err
		})
		if err != nil {
			return out, fmt.Errorf("post in thread: %w", err)
		}
		out.MessageIDs = append(out.MessageIDs, id)
	}
	return out, nil
}

// finalText is the stored text with the notice on its own line, added
// once (a recovery cut short may already have stored it).
func finalText(text string) string {
	t := strings.TrimRight(text, " \t\r\n")
	switch {
	case t == "":
		return InterruptedNotice
	case strings.HasSuffix(t, InterruptedNotice):
		return t
	}
	return t + "\n" + InterruptedNotice
}

var errNoOutbox = errors.New("platform not enabled")

// retry runs op again after the platform's rate-limit wait.
func retry(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		rl, limited := bot.AsRateLimited(err)
		if !limited || attempt == recoveryAttempts {
			return err
		}
		wait := min(max(rl.RetryAfter, time.Second), maxRecoveryWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}
