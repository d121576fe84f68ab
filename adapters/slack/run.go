package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/parley-bot/parley/bot"
)

// fatalAuth names the Slack errors that no retry can fix, with the fix.
var fatalAuth = map[string]string{
	"invalid_auth":     "the token is not valid; copy it again from the app's settings",
	"not_authed":       "no token was sent; set it in the [slack] config",
	"token_revoked":    "the token was revoked; reinstall the app to the workspace and use the new token",
	"account_inactive": "the app's bot user or workspace is deactivated; reinstall the app",
	"token_expired":    "the token expired; turn off token rotation or use a fresh token",
}

// fatalError returns a clear error if err is an authentication failure
// that must stop the daemon, else nil. which names the token checked.
func fatalError(which string, err error) error {
	code := err.Error()
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		code = se.Err
	}
	if fix, ok := fatalAuth[code]; ok {
		return fmt.Errorf("slack %s rejected: %s: %s", which, code, fix)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusNotFound {
		return fmt.Errorf("slack %s rejected: HTTP 404 from apps.connections.open: check slack.api_url and that Socket Mode is enabled", which)
	}
	return nil
}

// Run connects in the configured mode and delivers events to h until ctx
// ends (nil) or Slack rejects the credentials (an error naming the cause).
// It waits for every goroutine it started before returning.
func (a *Adapter) Run(ctx context.Context, h bot.Handler) error {
	if err := a.authenticate(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // runs before wg.Wait: stops the workers, then waits for them

	if a.opts.Mode == ModeHTTP {
		return a.runHTTP(ctx, h, &wg)
	}
	return a.runSocket(ctx, h, &wg)
}

// authenticate calls auth.test to learn the bot's user, bot and team IDs
// (needed to ignore its own messages). Network failures are retried with
// backoff; a rejected token is fatal.
func (a *Adapter) authenticate(ctx context.Context) error {
	delay := 500 * time.Millisecond
	for {
		resp, err := a.api.AuthTestContext(ctx)
		if err == nil {
			a.mu.Lock()
			a.self = identity{TeamID: resp.TeamID, UserID: resp.UserID, BotID: resp.BotID}
			a.mu.Unlock()
			a.log.Info("slack authenticated", "team", resp.TeamID, "bot_user", resp.UserID, "bot_id", resp.BotID, "mode", a.opts.Mode)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if ferr := fatalError("bot token (slack.bot_token)", err); ferr != nil {
			return ferr
		}
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) && rl.RetryAfter > delay {
			delay = rl.RetryAfter
		}
		a.log.Warn("slack auth.test failed, retrying", "err", err, "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// runSocket runs slack-go's Socket Mode client, which reconnects on its own
// (disconnect/refresh_requested, a dropped socket, missing pings) with
// backoff, and returns only on ctx's end or a fatal authentication error.
func (a *Adapter) runSocket(ctx context.Context, h bot.Handler, wg *sync.WaitGroup) error {
	client := socketmode.New(a.api, socketmode.OptionLog(slogOutput{a}))
	runErr := make(chan error, 1)
	// Owned: this function does not return before runErr delivers.
	go func() { runErr <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-runErr:
			if ctx.Err() != nil {
				return nil
			}
			if ferr := fatalError("app token (slack.app_token)", err); ferr != nil {
				return ferr
			}
			return fmt.Errorf("slack socket mode stopped: %w", err)
		case evt := <-client.Events:
			a.onSocketEvent(ctx, h, client, evt, wg)
		}
	}
}

func (a *Adapter) onSocketEvent(ctx context.Context, h bot.Handler, client *socketmode.Client, evt socketmode.Event, wg *sync.WaitGroup) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.connected.Store(false)
		a.log.Debug("slack socket mode connecting")
	case socketmode.EventTypeConnected:
		a.connected.Store(true)
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeDisconnect:
		a.connected.Store(false)
	case socketmode.EventTypeConnectionError:
		a.connected.Store(false)
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			a.log.Warn("slack socket mode connection failed, retrying", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed, socketmode.EventTypeErrorBadMessage:
		a.log.Warn("slack socket mode error", "type", evt.Type, "data", fmt.Sprint(evt.Data))
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		// Ack first: Slack redelivers anything not acked within 3 s.
		if err := client.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			a.log.Warn("slack ack failed", "envelope", evt.Request.EnvelopeID, "err", err)
		}
		if !a.seen.firstTime("envelope:" + evt.Request.EnvelopeID) {
			a.processed.Add(1)
			return
		}
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			a.processed.Add(1)
			return
		}
		eventID := ""
		if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
			eventID = cb.EventID
		}
		wg.Go(func() { a.handleEventsAPI(ctx, h, ev, eventID) })
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		envelope := evt.Request.EnvelopeID
		wg.Go(func() {
			a.answerCommand(ctx, h, cmd, wg, func(payload any) {
				if err := client.AckCtx(ctx, envelope, payload); err != nil {
					a.log.Warn("slack command ack failed", "envelope", envelope, "err", err)
				}
			})
		})
	case socketmode.EventTypeInteractive:
		if evt.Request != nil {
			_ = client.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		}
	}
}

// slogOutput routes slack-go's debug log into slog at debug level.
type slogOutput struct{ a *Adapter }

func (s slogOutput) Output(_ int, msg string) error {
	s.a.log.Debug(msg, "source", "slack-go")
	return nil
}
