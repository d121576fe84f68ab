package bot

import (
	"context"
	"fmt"
	"strings"
)

// HelpText lists the commands every user may run; CommandHandlers add
// their own lines.
const HelpText = `Parley answers when you mention it in a channel, in any thread it has answered in, and in direct messages.
Commands:
  help    this text
  reset   forget this thread (or this DM) and start afresh`

// HandleCommand runs the engine's own commands (help, reset) and passes
// the rest to the configured CommandHandler.
func (e *Engine) HandleCommand(ctx context.Context, c Command) CommandResult {
	e.observeEvent(c.Thread.Platform, "command")
	fields := strings.Fields(c.Text)
	name := ""
	if len(fields) > 0 {
		name = strings.ToLower(fields[0])
	}
	if e.cfg.Commands != nil && name != "reset" {
		if res, ok := e.cfg.Commands.HandleCommand(ctx, c); ok {
			return res
		}
	}
	switch name {
	case "", "help":
		return CommandResult{Text: HelpText, Ephemeral: true}
	case "reset":
		if len(fields) > 1 {
			return CommandResult{Text: "usage: reset (it takes no arguments; it forgets the thread or DM you run it in)", Ephemeral: true}
		}
		key := c.Thread
		if !key.Valid() {
			return CommandResult{Text: "reset works inside a thread or a direct message; run it there.", Ephemeral: true}
		}
		if err := e.cfg.Conversations.ResetThread(ctx, key); err != nil {
			e.log.Error("reset failed", "platform", key.Platform, "channel", key.Channel, "thread", key.Thread, "err", err)
			return CommandResult{Text: "Sorry, I could not reset this thread; please try again.", Ephemeral: true}
		}
		e.log.Info("thread reset", "platform", key.Platform, "channel", key.Channel, "thread", key.Thread, "user", c.UserID)
		return CommandResult{Text: "Done: I have forgotten this conversation.", Ephemeral: false}
	default:
		return CommandResult{Text: fmt.Sprintf("unknown command %q; try \"help\"", name), Ephemeral: true}
	}
}
