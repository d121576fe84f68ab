package commands

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-bot/parley/config"
	"github.com/parley-bot/parley/limits"
)

// Op is a parsed command.
type Op int

// Commands.
const (
	OpHelp Op = iota + 1
	OpQuotaShow
	OpQuotaSet
	OpQuotaReset
	OpUsage
	OpLimitsShow
	OpLimitsSet
	OpAudit
)

// RefKind is what a target argument names.
type RefKind int

// Target kinds.
const (
	RefNone      RefKind = iota // not given
	RefUser                     // @user
	RefChannel                  // #channel
	RefWorkspace                // "workspace": the one the command is run in
	RefDefault                  // "default", "default-user", "default-channel", "default-workspace"
	RefAll                      // "all" (usage)
	RefMe                       // "me"
)

// Ref is a target as written: resolved against the command's workspace by
// the handler.
type Ref struct {
	Kind  RefKind
	ID    string       // user or channel ID (or plain name on the console)
	Name  string       // display name, when the platform gave one
	Scope limits.Scope // for RefDefault: whose default
}

// Request is a parsed command line.
type Request struct {
	Op     Op
	Target Ref
	// quota set: Amount (0 unlimited) or Remove (back to the default).
	Amount int64
	Remove bool
	Unit   limits.Unit
	Period limits.Period // quota set, usage
	// limits set
	Rate     limits.Limit // Burst 0: keep the burst in force
	N        int          // audit: entries to show
	RawWords []string
}

// Usage lines, also used in errors so that bad input says what was expected.
const (
	usageQuotaShow  = "quota show [@user|#channel|workspace|default]"
	usageQuotaSet   = "quota set <@user|#channel|workspace|default> <N[k|m]|unlimited|default> <tokens|requests>/<day|month>"
	usageQuotaReset = "quota reset <@user|#channel|workspace>"
	usageUsage      = "usage [@user|#channel|all] [day|week|month]"
	usageLimitsShow = "limits show"
	usageLimitsSet  = "limits set <#channel|default> <N/min|default> [burst N]"
	usageAudit      = "audit [N]"
)

// MaxAudit bounds `audit N`.
const MaxAudit = 100

// ErrNotMine is returned by Parse for a command this package does not
// handle (e.g. reset), which the engine runs itself.
var ErrNotMine = errors.New("not an admin command")

// Parse reads a command line such as "quota set @ana 50k tokens/day".
func Parse(text string) (Request, error) {
	if !utf8.ValidString(text) {
		return Request{}, errors.New("the command is not valid UTF-8")
	}
	w := strings.Fields(text)
	r := Request{RawWords: w}
	if len(w) == 0 {
		r.Op = OpHelp
		return r, nil
	}
	name, args := strings.ToLower(w[0]), w[1:]
	sub := ""
	if len(args) > 0 {
		sub = strings.ToLower(args[0])
	}
	switch name {
	case "help":
		if len(args) > 0 {
			return r, fmt.Errorf("usage: help (it takes no arguments)")
		}
		r.Op = OpHelp
		return r, nil
	case "quota", "quotas":
		switch sub {
		case "", "show":
			return parseQuotaShow(r, args)
		case "set":
			return parseQuotaSet(r, args[1:])
		case "reset":
			return parseQuotaReset(r, args[1:])
		default:
			return r, fmt.Errorf("unknown quota command %q; usage:\n  %s\n  %s\n  %s", args[0], usageQuotaShow, usageQuotaSet, usageQuotaReset)
		}
	case "usage":
		return parseUsage(r, args)
	case "limits", "limit":
		switch sub {
		case "", "show":
			if len(args) > 1 {
				return r, fmt.Errorf("usage: %s (it takes no arguments)", usageLimitsShow)
			}
			r.Op = OpLimitsShow
			return r, nil
		case "set":
			return parseLimitsSet(r, args[1:])
		default:
			return r, fmt.Errorf("unknown limits command %q; usage:\n  %s\n  %s", args[0], usageLimitsShow, usageLimitsSet)
		}
	case "audit":
		r.Op, r.N = OpAudit, 10
		if len(args) > 1 {
			return r, fmt.Errorf("usage: %s", usageAudit)
		}
		if len(args) == 1 {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > MaxAudit {
				return r, fmt.Errorf("audit: want a number of entries from 1 to %d, got %q; usage: %s", MaxAudit, args[0], usageAudit)
			}
			r.N = n
		}
		return r, nil
	}
	return r, ErrNotMine
}

func parseQuotaShow(r Request, args []string) (Request, error) {
	r.Op = OpQuotaShow
	if len(args) > 0 && strings.EqualFold(args[0], "show") {
		args = args[1:]
	}
	switch len(args) {
	case 0:
		return r, nil
	case 1:
		ref, err := ParseRef(args[0], limits.ScopeUser)
		if err != nil || ref.Kind == RefAll {
			return r, fmt.Errorf("quota show: %s; usage: %s", refError(args[0], err), usageQuotaShow)
		}
		r.Target = ref
		return r, nil
	}
	return r, fmt.Errorf("quota show takes at most one target; usage: %s", usageQuotaShow)
}

func parseQuotaSet(r Request, args []string) (Request, error) {
	r.Op = OpQuotaSet
	if len(args) != 3 {
		return r, fmt.Errorf("quota set needs a target, an amount and a unit; usage: %s (e.g. \"quota set @ana 50k tokens/day\")", usageQuotaSet)
	}
	ref, err := ParseRef(args[0], limits.ScopeUser)
	if err != nil || ref.Kind == RefAll || ref.Kind == RefMe {
		return r, fmt.Errorf("quota set: %s; usage: %s", refError(args[0], err), usageQuotaSet)
	}
	r.Target = ref
	switch strings.ToLower(args[1]) {
	case "default", "inherit":
		r.Remove = true
	case "unlimited", "none", "off":
		r.Amount = 0
	default:
		n, err := ParseAmount(args[1])
		if err != nil {
			return r, fmt.Errorf("quota set: %w; usage: %s", err, usageQuotaSet)
		}
		r.Amount = n
	}
	unit, period, ok := strings.Cut(strings.ToLower(args[2]), "/")
	switch unit {
	case "tokens", "token":
		r.Unit = limits.Tokens
	case "requests", "request", "req":
		r.Unit = limits.Requests
	default:
		ok = false
	}
	switch period {
	case "day", "d":
		r.Period = limits.Day
	case "month", "mo":
		r.Period = limits.Month
	default:
		ok = false
	}
	if !ok {
		return r, fmt.Errorf("quota set: want tokens/day, tokens/month, requests/day or requests/month, got %q; usage: %s", args[2], usageQuotaSet)
	}
	return r, nil
}

func parseQuotaReset(r Request, args []string) (Request, error) {
	r.Op = OpQuotaReset
	if len(args) != 1 {
		return r, fmt.Errorf("quota reset needs one target; usage: %s", usageQuotaReset)
	}
	ref, err := ParseRef(args[0], limits.ScopeUser)
	if err != nil || ref.Kind == RefAll || ref.Kind == RefDefault {
		if err == nil {
			err = errors.New("a default has no usage to reset")
		}
		return r, fmt.Errorf("quota reset: %s; usage: %s", refError(args[0], err), usageQuotaReset)
	}
	r.Target = ref
	return r, nil
}

func parseUsage(r Request, args []string) (Request, error) {
	r.Op, r.Period = OpUsage, limits.Day
	seenPeriod := false
	for _, a := range args {
		switch p := limits.Period(strings.ToLower(a)); p {
		case limits.Day, limits.Week, limits.Month:
			if seenPeriod {
				return r, fmt.Errorf("usage: give one period; usage: %s", usageUsage)
			}
			r.Period, seenPeriod = p, true
			continue
		case "today":
			if seenPeriod {
				return r, fmt.Errorf("usage: give one period; usage: %s", usageUsage)
			}
			r.Period, seenPeriod = limits.Day, true
			continue
		}
		if r.Target.Kind != RefNone {
			return r, fmt.Errorf("usage: give at most one target and one period, got %q; usage: %s", strings.Join(args, " "), usageUsage)
		}
		ref, err := ParseRef(a, limits.ScopeUser)
		if err != nil || ref.Kind == RefDefault || ref.Kind == RefWorkspace {
			if err == nil {
				err = errors.New("usage is per user or channel, or all")
			}
			return r, fmt.Errorf("usage: %s; usage: %s", refError(a, err), usageUsage)
		}
		r.Target = ref
	}
	return r, nil
}

func parseLimitsSet(r Request, args []string) (Request, error) {
	r.Op = OpLimitsSet
	if len(args) != 2 && len(args) != 4 {
		return r, fmt.Errorf("limits set needs a channel and a rate; usage: %s (e.g. \"limits set #general 20/min burst 5\")", usageLimitsSet)
	}
	ref, err := ParseRef(args[0], limits.ScopeChannel)
	if err != nil || (ref.Kind != RefChannel && ref.Kind != RefDefault) {
		if err == nil {
			err = errors.New("limits are set per channel or as the default")
		}
		return r, fmt.Errorf("limits set: %s; usage: %s", refError(args[0], err), usageLimitsSet)
	}
	if ref.Kind == RefDefault {
		ref.Scope = limits.ScopeChannel
	}
	r.Target = ref
	if strings.EqualFold(args[1], "default") {
		if len(args) != 2 {
			return r, fmt.Errorf("limits set: \"default\" takes no burst; usage: %s", usageLimitsSet)
		}
		r.Remove = true
		return r, nil
	}
	count, per, err := ParseRate(args[1])
	if err != nil {
		return r, fmt.Errorf("limits set: %w; usage: %s", err, usageLimitsSet)
	}
	r.Rate = limits.Limit{Count: count, Per: per}
	if len(args) == 4 {
		b, err := strconv.Atoi(args[3])
		if !strings.EqualFold(args[2], "burst") || err != nil || b < 1 || b > 1_000_000 {
			return r, fmt.Errorf("limits set: want \"burst N\" with N from 1 to 1000000, got %q; usage: %s", args[2]+" "+args[3], usageLimitsSet)
		}
		r.Rate.Burst = b
	}
	return r, nil
}

func refError(arg string, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%q is not a target here", arg)
}

// ParseRef reads a target in any platform's syntax. def is the scope a
// bare "default" stands for.
func ParseRef(s string, def limits.Scope) (Ref, error) {
	switch strings.ToLower(s) {
	case "default":
		return Ref{Kind: RefDefault, Scope: def}, nil
	case "default-user", "default:user":
		return Ref{Kind: RefDefault, Scope: limits.ScopeUser}, nil
	case "default-channel", "default:channel":
		return Ref{Kind: RefDefault, Scope: limits.ScopeChannel}, nil
	case "default-workspace", "default:workspace", "default-guild":
		return Ref{Kind: RefDefault, Scope: limits.ScopeWorkspace}, nil
	case "workspace", "guild", "server":
		return Ref{Kind: RefWorkspace}, nil
	case "all":
		return Ref{Kind: RefAll}, nil
	case "me":
		return Ref{Kind: RefMe}, nil
	}
	bad := fmt.Errorf("want a target such as @user, #channel, <@U123>, <#C123|name>, workspace or default, got %q", s)
	if strings.HasPrefix(s, "<") {
		inner, ok := strings.CutSuffix(s[1:], ">")
		if !ok || len(inner) < 2 {
			return Ref{}, bad
		}
		kind := RefUser
		switch {
		case strings.HasPrefix(inner, "@!"): // Discord nickname mention
			inner = inner[2:]
		case inner[0] == '@':
			inner = inner[1:]
		case inner[0] == '#':
			kind, inner = RefChannel, inner[1:]
		default:
			return Ref{}, bad
		}
		id, name, _ := strings.Cut(inner, "|")
		if !validID(id) {
			return Ref{}, bad
		}
		return Ref{Kind: kind, ID: id, Name: name}, nil
	}
	if len(s) > 1 && (s[0] == '@' || s[0] == '#') {
		kind := RefUser
		if s[0] == '#' {
			kind = RefChannel
		}
		id := s[1:]
		if !validID(id) {
			return Ref{}, bad
		}
		return Ref{Kind: kind, ID: id, Name: id}, nil
	}
	return Ref{}, bad
}

// validID accepts the IDs and console names targets carry: no spaces,
// no markup characters, at most 100 bytes.
func validID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("<>@#|/%", r) {
			return false
		}
	}
	return true
}

// ParseAmount reads a token or request count: 1000, 1,000, 50k, 1.5m.
func ParseAmount(s string) (int64, error) {
	bad := fmt.Errorf("want an amount such as 1000, 50k or 2m, got %q", s)
	t := strings.ToLower(strings.ReplaceAll(s, ",", ""))
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1e3, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		mult, t = 1e6, t[:len(t)-1]
	}
	if t == "" || strings.ContainsAny(t, "eE+-_xXpP") { // no exponents, signs or hex floats
		return 0, bad
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, bad
	}
	v := f * mult
	if v > 1e15 || v != math.Trunc(v) {
		return 0, bad
	}
	return int64(v), nil
}

// ParseRate reads "20/min" (units s, sec, m, min, h, hour, day) as the
// config does, case-insensitively and up to a million per unit.
func ParseRate(s string) (count int, per time.Duration, err error) {
	n, per, err := config.ParseRate(strings.ToLower(s))
	if err != nil || n > 1_000_000 {
		return 0, 0, fmt.Errorf("want a rate such as 20/min (units s, min, h, day), got %q", s)
	}
	return n, per, nil
}
