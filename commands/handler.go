package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/limits"
)

// HelpLines are this package's lines of the help text.
const HelpLines = `Quotas and limits (admins may name any target; others see only their own):
  quota show [@user|#channel|workspace|default]
  quota set <@user|#channel|workspace|default> <N[k|m]|unlimited|default> <tokens|requests>/<day|month>
  quota reset <@user|#channel|workspace>   forgive the usage of today and this month
  usage [@user|#channel|all] [day|week|month]
  limits show
  limits set <#channel|default> <N/min|default> [burst N]
  audit [N]   the last N changes
Days and months begin at 00:00 UTC. "default" alone means the default for users
(quota) or channels (limits); default-channel and default-workspace name the others.`

// Handler runs the admin commands; it implements bot.CommandHandler.
type Handler struct {
	g   *limits.Gate
	log *slog.Logger
}

var _ bot.CommandHandler = (*Handler)(nil)

// New returns a handler over g. logger may be nil.
func New(g *limits.Gate, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{g: g, log: logger}
}

// HelpText is the engine's help followed by these commands.
func HelpText() string { return bot.HelpText + "\n" + HelpLines }

// HandleCommand implements bot.CommandHandler. It returns false for
// commands it does not own (reset), which the engine runs.
func (h *Handler) HandleCommand(ctx context.Context, c bot.Command) (bot.CommandResult, bool) {
	req, err := Parse(c.Text)
	if errors.Is(err, ErrNotMine) {
		return bot.CommandResult{}, false
	}
	reply := func(s string) (bot.CommandResult, bool) {
		return bot.CommandResult{Text: s, Ephemeral: true}, true
	}
	if err != nil {
		return reply(err.Error())
	}
	text, err := h.run(ctx, c, req)
	if err != nil {
		var user userError
		if errors.As(err, &user) {
			return reply(user.Error())
		}
		h.log.Error("command failed", "command", opName(req.Op), "user", c.UserID, "err", err)
		return reply("Sorry, that did not work; please try again (the error has been logged).")
	}
	return reply(text)
}

// userError is a refusal or a bad target, shown as is.
type userError struct{ msg string }

func (e userError) Error() string { return e.msg }

func refuse(s string) error { return userError{s} }

func opName(op Op) string {
	return [...]string{"", "help", "quota show", "quota set", "quota reset", "usage", "limits show", "limits set", "audit"}[op]
}

func (h *Handler) run(ctx context.Context, c bot.Command, req Request) (string, error) {
	self := limits.UserTarget(c.Thread.Platform, c.Thread.Workspace, c.UserID, c.UserName)
	switch req.Op {
	case OpHelp:
		return HelpText(), nil
	case OpQuotaShow:
		t := self
		if req.Target.Kind != RefNone {
			t = h.resolve(c, req.Target)
		}
		if !c.IsAdmin && t.Key() != self.Key() {
			return "", refuse("Sorry, only admins can see other quotas; \"quota show\" shows yours.")
		}
		return h.quotaShow(ctx, c, t)
	case OpUsage:
		t := self
		if c.IsAdmin {
			t = limits.Target{} // everyone
		}
		if req.Target.Kind != RefNone && req.Target.Kind != RefAll {
			t = h.resolve(c, req.Target)
		}
		if !c.IsAdmin && (req.Target.Kind == RefAll || t.Key() != self.Key()) {
			return "", refuse("Sorry, only admins can see others' usage; \"usage\" shows yours.")
		}
		rep, err := h.g.Usage(ctx, t, req.Period, 5)
		if err != nil {
			return "", err
		}
		return formatUsage(c, t, rep), nil
	}
	if !c.IsAdmin {
		return "", refuse(fmt.Sprintf("Sorry, only admins can run %q. You can see your own quota with \"quota show\" and your usage with \"usage\".", opName(req.Op)))
	}
	actor := c.UserName
	if actor == "" || actor != c.UserID {
		actor = strings.TrimSpace(c.UserName + " (" + c.UserID + ")")
	}
	switch req.Op {
	case OpQuotaSet:
		t := h.resolve(c, req.Target)
		amount := req.Amount
		if req.Remove {
			amount = -1
		}
		old, updated, err := h.g.SetQuota(ctx, actor, t, limits.Kind{Scope: t.Scope, Unit: req.Unit, Period: req.Period}, amount)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Quota %s/%s of %s: %s → %s.", req.Unit, req.Period, t, old, updated), nil
	case OpQuotaReset:
		t := h.resolve(c, req.Target)
		old, err := h.g.ResetUsage(ctx, actor, t)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Usage of %s reset (was %s).", t, old), nil
	case OpLimitsShow:
		return formatLimits(c, h.g.Limits()), nil
	case OpLimitsSet:
		t := h.resolve(c, req.Target)
		l := req.Rate
		if !req.Remove && l.Burst == 0 {
			l.Burst = max(h.currentBurst(t), 1)
		}
		old, updated, err := h.g.SetChannelLimit(ctx, actor, t, l, req.Remove)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Rate limit of %s: %s → %s.", t, old, updated), nil
	case OpAudit:
		entries, err := h.g.Audit(ctx, req.N)
		if err != nil {
			return "", err
		}
		return formatAudit(c, entries), nil
	}
	return "", fmt.Errorf("command %d not handled", req.Op)
}

// resolve turns a written target into one in the command's workspace.
func (h *Handler) resolve(c bot.Command, r Ref) limits.Target {
	p, ws := c.Thread.Platform, c.Thread.Workspace
	switch r.Kind {
	case RefUser:
		return limits.UserTarget(p, ws, r.ID, r.Name)
	case RefMe:
		return limits.UserTarget(p, ws, c.UserID, c.UserName)
	case RefChannel:
		t := limits.ChannelTarget(bot.ChannelKey{Platform: p, Workspace: ws, Channel: r.ID})
		t.Name = r.Name
		return t
	case RefWorkspace:
		return limits.WorkspaceTarget(p, ws)
	case RefDefault:
		return limits.DefaultTarget(r.Scope)
	}
	return limits.Target{}
}

func (h *Handler) currentBurst(t limits.Target) int {
	v := h.g.Limits()
	for _, ch := range v.Channels {
		if !t.IsDefault() && ch.Channel == t.ChannelKey() {
			return ch.Limit.Burst
		}
	}
	return v.Channel.Burst
}

// block wraps tabular text in a code block where the platform renders
// Markdown, so that columns and bars line up.
func block(c bot.Command, s string) string {
	if c.Thread.Platform == bot.PlatformConsole {
		return s
	}
	return "```\n" + s + "\n```"
}

func (h *Handler) quotaShow(ctx context.Context, c bot.Command, t limits.Target) (string, error) {
	lines, err := h.g.QuotaStatus(ctx, t)
	if err != nil {
		return "", err
	}
	now := h.g.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "Quotas of %s:\n", t)
	shown := 0
	for _, l := range lines {
		if l.Limit == 0 && (t.IsDefault() || l.Used == 0) && l.Source == limits.SourceNone {
			continue
		}
		shown++
		name := string(l.Kind.Unit) + "/" + string(l.Kind.Period)
		if t.IsDefault() {
			fmt.Fprintf(&b, "  %-16s %s  [%s]\n", name, amount(l.Limit, l.Kind.Unit), l.Source)
			continue
		}
		used := limits.FormatCount(l.Used + l.Reserved)
		if l.Limit == 0 {
			fmt.Fprintf(&b, "  %-16s %s used, unlimited\n", name, used)
			continue
		}
		pct := float64(l.Used+l.Reserved) / float64(l.Limit) * 100
		fmt.Fprintf(&b, "  %-16s %s of %s (%.0f%%), resets in %s  [%s]\n", name, used,
			limits.FormatCount(l.Limit), pct, limits.FormatWait(l.Resets.Sub(now)), l.Source)
	}
	if shown == 0 {
		fmt.Fprintf(&b, "  no quotas apply\n")
	}
	return block(c, strings.TrimRight(b.String(), "\n")), nil
}

func amount(v int64, u limits.Unit) string {
	if v == 0 {
		return "unlimited"
	}
	return limits.FormatCount(v) + " " + string(u)
}

// bar draws v against the largest value in eighths of a block.
func bar(v, maxV int64, width int) string {
	if maxV <= 0 || v <= 0 {
		return ""
	}
	eighths := int(v * int64(width) * 8 / maxV)
	if eighths == 0 {
		eighths = 1
	}
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}

func formatUsage(c bot.Command, t limits.Target, rep limits.UsageReport) string {
	var b strings.Builder
	span := "today (" + rep.To.Format("Mon 2 Jan") + ", UTC)"
	switch rep.Period {
	case limits.Week:
		span = "in the last 7 days (" + rep.From.Format("2 Jan") + " – " + rep.To.Format("2 Jan") + ", UTC)"
	case limits.Month:
		span = "this month (" + rep.From.Format("2 Jan") + " – " + rep.To.Format("2 Jan") + ", UTC)"
	}
	who := "Everyone"
	if t.Platform != "" {
		who = t.String()
	}
	fmt.Fprintf(&b, "%s %s: %s tokens in %s requests\n", who, span, limits.FormatCount(rep.Tokens), limits.FormatCount(rep.Requests))
	section := func(title string, rows []limits.UsageRow) {
		if len(rows) == 0 {
			return
		}
		label := func(r limits.UsageRow) string {
			if r.Target.Scope == "" {
				return r.Target.ID // a day of the chart
			}
			return r.Target.String()
		}
		var maxV int64
		width := 0
		for _, r := range rows {
			maxV = max(maxV, r.Tokens)
			width = max(width, len([]rune(label(r))))
		}
		fmt.Fprintf(&b, "%s:\n", title)
		for _, r := range rows {
			name := label(r)
			fmt.Fprintf(&b, "  %s%s %12s  %s\n", name, strings.Repeat(" ", width-len([]rune(name))), limits.FormatCount(r.Tokens), bar(r.Tokens, maxV, 20))
		}
	}
	section("Top users", rep.TopUsers)
	section("Top channels", rep.TopChannels)
	if len(rep.Days) > 1 {
		section("By day", rep.Days)
	}
	return block(c, strings.TrimRight(b.String(), "\n"))
}

func formatLimits(c bot.Command, v limits.LimitsView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Per channel: %s [%s]\n", v.Channel, v.ChannelSource)
	fmt.Fprintf(&b, "Per user:    %s\n", v.User)
	if v.QueueSize == 0 {
		fmt.Fprintf(&b, "Queue:       none (over the limit, requests are refused at once)\n")
	} else {
		fmt.Fprintf(&b, "Queue:       up to %d per channel, waiting at most %s\n", v.QueueSize, v.MaxWait)
	}
	for _, ch := range v.Channels {
		t := limits.ChannelTarget(ch.Channel)
		line := fmt.Sprintf("  #%s (%s): %s [%s]", ch.Channel.Channel, t.Key(), ch.Limit, ch.Source)
		if ch.Queued > 0 {
			line += fmt.Sprintf(", %d queued", ch.Queued)
		}
		b.WriteString(line + "\n")
	}
	return block(c, strings.TrimRight(b.String(), "\n"))
}

func formatAudit(c bot.Command, entries []limits.AuditEntry) string {
	if len(entries) == 0 {
		return "No changes recorded yet."
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "#%d %s  %s: %s %s: %s → %s\n", e.ID, e.At.UTC().Format(time.DateTime[:16]+" UTC"),
			e.Actor, e.Action, e.Target, e.Old, e.New)
	}
	return block(c, strings.TrimRight(b.String(), "\n"))
}
