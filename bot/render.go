package bot

import "context"

// Renderer opens reply streams that show a growing text on a platform.
// Implemented by stream.Renderer, which schedules edits within the
// adapter's Limits.
type Renderer interface {
	// Open starts a reply in thread. posted, when not nil, is called with
	// the IDs of the reply's messages each time a new one is posted, so the
	// engine can record them for crash recovery.
	Open(ctx context.Context, out Outbox, thread ThreadKey, posted func(messageIDs []string)) ReplyStream
}

// ReplyStream shows one reply as it grows. Append and SetStatus never block
// on the platform: text is coalesced and shown by the next edit the budget
// allows.
type ReplyStream interface {
	// SetStatus sets the placeholder text shown before the first token
	// ("queued — 2 ahead of you").
	SetStatus(text string)
	// Append adds model text to the reply.
	Append(delta string)
	// Close shows the complete text, followed by notice when non-empty
	// (e.g. "⚠ reply interrupted: upstream timed out"), and returns what
	// is visible. It waits for the final edits unless ctx ends first.
	Close(ctx context.Context, notice string) (Rendered, error)
}

// Rendered is the final state of a reply on the platform.
type Rendered struct {
	Text       string   // the whole visible text, notice included
	MessageIDs []string // the messages that carry it, in order
}
