package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Outbox is what an adapter offers for showing a reply: post a new message
// in a thread and edit one of the bot's own messages. The stream package
// drives it, within the Limits the adapter declares.
type Outbox interface {
	// Post sends a new message in the thread and returns its platform ID.
	Post(ctx context.Context, thread ThreadKey, text string) (messageID string, err error)
	// Edit replaces the text of a message the bot posted earlier.
	Edit(ctx context.Context, thread ThreadKey, messageID, text string) error
	// Limits declares the platform's message length and request budgets.
	Limits() Limits
}

// Typer is an optional Outbox ability: show that the bot is typing until
// the first text is visible (Discord's typing indicator, Slack's assistant
// status).
type Typer interface {
	Typing(ctx context.Context, thread ThreadKey) error
}

// Scope says which replies share a rate budget.
type Scope int

// Budget scopes, from widest to narrowest.
const (
	ScopeGlobal    Scope = iota // every reply on the platform (Discord's 50 req/s)
	ScopeWorkspace              // every reply in a workspace (Slack chat.update, Tier 3)
	ScopeChannel                // every reply in a channel (Discord's per-channel edit bucket)
)

func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeWorkspace:
		return "workspace"
	case ScopeChannel:
		return "channel"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// Key returns the budget key of the thread in this scope.
func (s Scope) Key(k ThreadKey) string {
	switch s {
	case ScopeGlobal:
		return string(k.Platform)
	case ScopeWorkspace:
		return string(k.Platform) + "/" + k.Workspace
	default:
		return string(k.Platform) + "/" + k.Workspace + "/" + k.Channel
	}
}

// BudgetKeyer is an optional Outbox ability: it names the budget a
// thread's requests draw from when Scope.Key would not match the platform
// (a Discord thread is a channel of its own, with its own rate-limit
// buckets, although its conversation is keyed by the parent channel). It
// must not block for long: the renderer calls it when a reply opens.
type BudgetKeyer interface {
	BudgetKey(s Scope, k ThreadKey) string
}

// BudgetKey returns the key of thread k's budget in scope s on out.
func BudgetKey(out Outbox, s Scope, k ThreadKey) string {
	if bk, ok := out.(BudgetKeyer); ok {
		return bk.BudgetKey(s, k)
	}
	return s.Key(k)
}

// Budget is a token bucket: Burst requests at once, then one every Every.
// A zero Every means unlimited.
type Budget struct {
	Scope Scope
	Every time.Duration
	Burst int
}

// Unlimited reports whether the budget imposes no limit.
func (b Budget) Unlimited() bool { return b.Every <= 0 }

// Limits are the platform facts the renderer must respect.
type Limits struct {
	MaxMessageChars int           // longest message text, in characters (runes)
	Edit            Budget        // edits of the bot's messages
	Post            Budget        // new messages (placeholders, continuations)
	MinEditInterval time.Duration // shortest time between two edits of one message
	// FirstTextBorrow is how many of the edit tokens kept for other
	// replies' final edits a reply's first text may spend. Each delays a
	// final edit by up to one Edit.Every; a platform whose budget is
	// shared by many replies (Slack's per workspace) keeps them (0).
	FirstTextBorrow int
}

// RateLimitedError is returned by an Outbox when the platform refused a
// request for its rate limit; the renderer waits RetryAfter and retries with
// the text accumulated meanwhile.
type RateLimitedError struct {
	Op         string
	RetryAfter time.Duration
	Global     bool // the platform-wide budget, not just this route
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: rate limited, retry after %s", e.Op, e.RetryAfter)
}

// AsRateLimited returns the RateLimitedError in err's chain, if any.
func AsRateLimited(err error) (*RateLimitedError, bool) {
	var rl *RateLimitedError
	ok := errors.As(err, &rl)
	return rl, ok
}
