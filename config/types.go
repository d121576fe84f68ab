package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
)

// redacted is what a set Secret shows instead of its value.
const redacted = "REDACTED"

// Secret is a credential. Every way of printing or encoding it (String,
// GoString, fmt verbs, MarshalText, slog) shows "REDACTED", or "" when the
// secret is unset; only Value returns the secret itself.
type Secret string

// Value returns the secret in clear, for the one call that needs it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "REDACTED", or "" when the secret is unset.
func (s Secret) String() string { return s.shown() }

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return strconv.Quote(s.shown()) }

// Format applies to every fmt verb, including %s, %q, %v, %x and %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.shown()))
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.shown())
	default:
		fmt.Fprint(f, s.shown())
	}
}

// MarshalText makes encoders (TOML, JSON) write the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// LogValue makes slog write the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// Duration is a time.Duration written in TOML as a string such as "30s" or
// "5m". Bare numbers are rejected: their unit would be a guess.
type Duration struct{ time.Duration }

// D wraps a time.Duration.
func D(d time.Duration) Duration { return Duration{d} }

// String formats the duration without trailing zero units ("5m", not "5m0s").
func (d Duration) String() string { return formatDuration(d.Duration) }

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string such as "30s", "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. \"30s\")", s)
	}
	return v, nil
}

func formatDuration(d time.Duration) string {
	s := d.String()
	// time.Duration.String gives "5m0s" and "168h0m0s"; drop the zero tails.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Rate is a number of events per period, written "20/min". The zero Rate
// means "no limit" (or, in a per-channel override, "inherit").
type Rate struct {
	Count int
	Per   time.Duration
}

// IsZero reports whether the rate is unset.
func (r Rate) IsZero() bool { return r.Count == 0 || r.Per == 0 }

// Every is the interval between two events at this rate (Per/Count), or 0
// when the rate is unset.
func (r Rate) Every() time.Duration {
	if r.IsZero() {
		return 0
	}
	return r.Per / time.Duration(r.Count)
}

// String writes the rate as ParseRate reads it, or "" when unset.
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	unit := ""
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "min"
	case time.Hour:
		unit = "h"
	case 24 * time.Hour:
		unit = "day"
	default:
		return fmt.Sprintf("%d/%s", r.Count, formatDuration(r.Per))
	}
	return fmt.Sprintf("%d/%s", r.Count, unit)
}

// MarshalText writes the rate as String does.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a rate with ParseRate; "" is the zero Rate.
func (r *Rate) UnmarshalText(b []byte) error {
	if strings.TrimSpace(string(b)) == "" {
		*r = Rate{}
		return nil
	}
	n, per, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = Rate{Count: n, Per: per}
	return nil
}

var rateUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second,
	"m": time.Minute, "min": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"day": 24 * time.Hour,
}

// ParseRate reads a rate such as "20/min": a positive count, a slash and a
// unit (s, sec, m, min, h, hour, day).
func ParseRate(s string) (count int, per time.Duration, err error) {
	bad := func() (int, time.Duration, error) {
		return 0, 0, fmt.Errorf("invalid rate %q (want e.g. \"20/min\"; units s, min, h, day)", s)
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return bad()
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 {
		return bad()
	}
	per, ok = rateUnits[strings.TrimSpace(unit)]
	if !ok {
		return bad()
	}
	return n, per, nil
}

// ParseChannelKey reads a "platform/workspace/channel" key, as used in
// llm.channel_models, filters.channels and limits.channels. The workspace
// may be empty only for Discord DMs. "%2F" and "%25" stand for "/" and "%",
// as in bot.ThreadKey.String.
func ParseChannelKey(s string) (bot.ChannelKey, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return bot.ChannelKey{}, fmt.Errorf("invalid channel key %q (want \"platform/workspace/channel\", e.g. \"slack/T024BE7LD/C01ABCDEF\")", s)
	}
	unesc := strings.NewReplacer("%2F", "/", "%2f", "/", "%25", "%")
	k := bot.ChannelKey{
		Platform:  bot.Platform(parts[0]),
		Workspace: unesc.Replace(parts[1]),
		Channel:   unesc.Replace(parts[2]),
	}
	switch k.Platform {
	case bot.PlatformSlack, bot.PlatformDiscord, bot.PlatformConsole:
	default:
		return bot.ChannelKey{}, fmt.Errorf("invalid channel key %q: platform must be slack, discord or console", s)
	}
	if k.Channel == "" {
		return bot.ChannelKey{}, fmt.Errorf("invalid channel key %q: channel is empty", s)
	}
	if k.Workspace == "" && k.Platform != bot.PlatformDiscord {
		return bot.ChannelKey{}, fmt.Errorf("invalid channel key %q: workspace is empty", s)
	}
	return k, nil
}

// channelKeyString is the config form of a channel key (the inverse of
// ParseChannelKey).
func channelKeyString(k bot.ChannelKey) string {
	esc := strings.NewReplacer("%", "%25", "/", "%2F")
	return string(k.Platform) + "/" + esc.Replace(k.Workspace) + "/" + esc.Replace(k.Channel)
}
