package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/parley-bot/parley/bot"
)

// commandPayload is the ack (or response_url) body of a slash command.
type commandPayload struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

func payloadOf(res bot.CommandResult) commandPayload {
	rt := slack.ResponseTypeInChannel
	if res.Ephemeral {
		rt = slack.ResponseTypeEphemeral
	}
	return commandPayload{ResponseType: rt, Text: ToMrkdwn(res.Text)}
}

// answerCommand runs cmd and calls ack exactly once: with the answer when
// it comes within CommandAckWait, else with no payload, in which case the
// answer goes to the command's response_url from a goroutine on wg.
func (a *Adapter) answerCommand(ctx context.Context, h bot.Handler, cmd slack.SlashCommand, wg *sync.WaitGroup, ack func(payload any)) {
	resc := make(chan bot.CommandResult, 1) // buffered: the runner never blocks
	wg.Go(func() { resc <- a.runCommand(ctx, h, cmd) })
	t := time.NewTimer(a.opts.CommandAckWait)
	defer t.Stop()
	select {
	case res := <-resc:
		ack(payloadOf(res))
		return
	case <-t.C:
	case <-ctx.Done():
		ack(nil)
		return
	}
	ack(nil)
	wg.Go(func() {
		select {
		case res := <-resc:
			if err := a.respond(ctx, cmd, res); err != nil {
				a.log.Warn("slack command answer not delivered", "command", cmd.Command, "err", err)
			}
		case <-ctx.Done():
		}
	})
}

// respond posts a late command answer to response_url.
func (a *Adapter) respond(ctx context.Context, cmd slack.SlashCommand, res bot.CommandResult) error {
	if cmd.ResponseURL == "" {
		return fmt.Errorf("command %s: no response_url", cmd.Command)
	}
	p := payloadOf(res)
	_, _, err := a.api.PostMessageContext(ctx, cmd.ChannelID,
		slack.MsgOptionResponseURL(cmd.ResponseURL, p.ResponseType),
		slack.MsgOptionText(p.Text, false))
	if err != nil {
		// The URL is a capability (whoever holds it may answer): keep it
		// out of the error, which is logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("post to response_url: %w", err)
	}
	return nil
}

// runCommand translates a slash command and asks the handler.
func (a *Adapter) runCommand(ctx context.Context, h bot.Handler, cmd slack.SlashCommand) bot.CommandResult {
	if !strings.EqualFold(cmd.Command, a.opts.Command) {
		return bot.CommandResult{Text: fmt.Sprintf("Unknown command %s; this app answers %s.", cmd.Command, a.opts.Command), Ephemeral: true}
	}
	team := cmd.TeamID
	if team == "" {
		team = a.identity().TeamID
	}
	c := bot.Command{
		Thread:   bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: team, Channel: cmd.ChannelID},
		UserID:   cmd.UserID,
		UserName: cmd.UserName,
		Text:     strings.TrimSpace(cmd.Text),
	}
	// Slash commands carry no thread_ts; in a DM the conversation is the
	// channel itself, so reset there forgets the DM.
	if strings.HasPrefix(cmd.ChannelID, "D") {
		c.Thread.Thread = cmd.ChannelID
	}
	u, err := a.users.get(ctx, cmd.UserID)
	if err == nil {
		c.UserName = u.Name
	} else {
		a.log.Warn("slack users.info failed for command caller", "user", cmd.UserID, "err", err)
	}
	c.IsAdmin = a.isAdmin(cmd.UserID, u, err)
	return h.HandleCommand(ctx, c)
}

// isAdmin: the configured admin list when there is one, else the
// workspace's admins and owners. A failed lookup is not an admin.
func (a *Adapter) isAdmin(userID string, u userInfo, lookupErr error) bool {
	if len(a.admins) > 0 {
		return a.admins[userID]
	}
	return lookupErr == nil && u.IsAdmin
}
