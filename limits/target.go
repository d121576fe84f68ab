package limits

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
)

// Scope is who a quota or a usage figure belongs to.
type Scope string

// Quota scopes.
const (
	ScopeUser      Scope = "user"
	ScopeChannel   Scope = "channel"
	ScopeWorkspace Scope = "workspace"
)

// Unit is what a quota counts.
type Unit string

// Quota units.
const (
	Tokens   Unit = "tokens"
	Requests Unit = "requests"
)

// Period is the span a quota or a usage report covers. Quotas are per Day
// or Month; Week (the last seven days) is for reports only. Days and
// months begin at 00:00 UTC.
type Period string

// Periods.
const (
	Day   Period = "day"
	Week  Period = "week"
	Month Period = "month"
)

// Kind names one quota: e.g. {ScopeUser, Tokens, Day}.
type Kind struct {
	Scope  Scope
	Unit   Unit
	Period Period
}

func (k Kind) String() string { return string(k.Scope) + " " + string(k.Unit) + "/" + string(k.Period) }

// Target is one user, channel or workspace; with an empty Platform it is
// the scope's default.
type Target struct {
	Scope     Scope
	Platform  bot.Platform
	Workspace string
	ID        string // user or channel ID; empty for a workspace
	Name      string // display name, when known (not part of the identity)
}

// DefaultTarget is the default of a scope.
func DefaultTarget(s Scope) Target { return Target{Scope: s} }

// UserTarget is a user within a workspace.
func UserTarget(p bot.Platform, workspace, user, name string) Target {
	return Target{Scope: ScopeUser, Platform: p, Workspace: workspace, ID: user, Name: name}
}

// ChannelTarget is a channel.
func ChannelTarget(ch bot.ChannelKey) Target {
	return Target{Scope: ScopeChannel, Platform: ch.Platform, Workspace: ch.Workspace, ID: ch.Channel}
}

// WorkspaceTarget is a Slack workspace, a Discord guild or the console.
func WorkspaceTarget(p bot.Platform, workspace string) Target {
	return Target{Scope: ScopeWorkspace, Platform: p, Workspace: workspace}
}

// IsDefault reports whether t stands for its scope's default.
func (t Target) IsDefault() bool { return t.Platform == "" }

var keyEscaper = strings.NewReplacer("%", "%25", "/", "%2F")

// Key is the stored identity: "platform/workspace/id" (the config's channel
// key form), "platform/workspace" for a workspace, "" for a default.
func (t Target) Key() string {
	if t.IsDefault() {
		return ""
	}
	k := string(t.Platform) + "/" + keyEscaper.Replace(t.Workspace)
	if t.Scope != ScopeWorkspace {
		k += "/" + keyEscaper.Replace(t.ID)
	}
	return k
}

// String describes the target for people: "@ana", "#general", "workspace
// T123", "default user".
func (t Target) String() string {
	if t.IsDefault() {
		return "default " + string(t.Scope)
	}
	name := t.Name
	if name == "" {
		name = t.ID
	}
	switch t.Scope {
	case ScopeUser:
		return "@" + name
	case ScopeChannel:
		return "#" + name
	default:
		if t.Workspace == "" {
			return string(t.Platform) + " direct messages"
		}
		return "workspace " + t.Workspace
	}
}

// ChannelKey returns the channel a channel target names.
func (t Target) ChannelKey() bot.ChannelKey {
	return bot.ChannelKey{Platform: t.Platform, Workspace: t.Workspace, Channel: t.ID}
}

// dayNumber is the number of UTC days since the epoch.
func dayNumber(t time.Time) int64 {
	return t.UTC().Unix() / 86400
	// Negative times do not occur: Parley runs after 1970.
}

func dayStart(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }

// span returns the first and last day of the period containing now, and
// when it ends (the next reset).
func span(p Period, now time.Time) (first, last int64, resets time.Time) {
	now = now.UTC()
	today := dayNumber(now)
	switch p {
	case Month:
		start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		next := start.AddDate(0, 1, 0)
		return dayNumber(start), dayNumber(next) - 1, next
	case Week:
		return today - 6, today, dayStart(today + 1)
	default:
		return today, today, dayStart(today + 1)
	}
}

// formatCount writes n with thousands separators: 1,020.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FormatCount writes n with thousands separators (1,020).
func FormatCount(n int64) string { return formatCount(n) }

// FormatWait writes a wait for people: "40 s", "3 h 12 m", "2 d 5 h".
func FormatWait(d time.Duration) string {
	if d < time.Second {
		d = time.Second
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%d m", m)
		}
		return fmt.Sprintf("%d m %d s", m, s)
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d m", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}
