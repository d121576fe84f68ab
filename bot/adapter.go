package bot

import "context"

// Adapter connects Parley to one platform: it turns the platform's events
// into calls on a Handler and offers an Outbox for replies.
type Adapter interface {
	Outbox
	Platform() Platform
	// Run connects and delivers events to h until ctx ends (returning nil)
	// or a fatal error occurs (bad credentials, a disallowed intent), which
	// it returns with a message naming the cause and the fix.
	Run(ctx context.Context, h Handler) error
}

// Handler is what adapters call with the events they translate. It is
// implemented by Engine. Every method returns promptly: replies are
// produced asynchronously.
type Handler interface {
	// HandleMessage accepts a message for an answer. Duplicates (by
	// Message.DedupeID) are recognised and ignored.
	HandleMessage(ctx context.Context, m Message) error
	// HandleEdit records that a user edited a message.
	HandleEdit(ctx context.Context, key ThreadKey, messageID, text string) error
	// HandleDelete records that a user deleted a message; a reply to it
	// still streaming is cancelled.
	HandleDelete(ctx context.Context, key ThreadKey, messageID string) error
	// HandleCommand runs a /parley command and returns its answer.
	HandleCommand(ctx context.Context, c Command) CommandResult
	// ThreadActive reports whether the bot has answered in the thread, so
	// follow-ups there need no mention.
	ThreadActive(ctx context.Context, key ThreadKey) (bool, error)
}

// Command is a /parley slash command (or a console command), platform-neutral.
type Command struct {
	Thread   ThreadKey // where it was issued; Thread is "" when not in a thread
	UserID   string
	UserName string
	IsAdmin  bool   // decided by the adapter from the platform's roles and the config's admin list
	Text     string // the arguments after the command name, e.g. "quota show @ana"
}

// CommandResult is the answer to a Command.
type CommandResult struct {
	Text      string
	Ephemeral bool // shown only to the caller where the platform can
}

// WordFilter screens what users send and what the model streams back
// (implemented by filters.Filter).
type WordFilter interface {
	// CheckInput reports whether text may be sent to the model, and if
	// not, the notice to answer with.
	CheckInput(ch ChannelKey, text string) (ok bool, notice string)
	// NewOutput starts filtering one streamed reply.
	NewOutput(ch ChannelKey) OutputFilter
}

// OutputFilter filters a reply's deltas as they stream.
type OutputFilter interface {
	// Write takes the next delta and returns the text that is safe to
	// show now (it may hold back the tail of a possible match). stop
	// reports that the reply must end, with notice shown after it.
	Write(delta string) (visible string, stop bool, notice string)
	// Flush returns the held-back text at the end of the stream.
	Flush() string
}
