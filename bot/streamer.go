package bot

import (
	"context"
	"errors"
	"fmt"
)

// Streamer is an optional Outbox ability: show a reply as one message
// that the platform grows by appending (Slack's chat.startStream,
// chat.appendStream and chat.stopStream) instead of replacing its text
// with edits. The stream package uses it when the Outbox implements it,
// and falls back to Post and Edit when a call fails with an error that
// matches ErrStreamUnsupported.
//
// A stream carries Markdown: text is never retracted, each AppendStream
// adds to what is shown. The stream ID is the message's platform ID, so a
// stopped stream can still be edited (Outbox.Edit) like a posted message.
type Streamer interface {
	// CanStream reports whether replies in thread may stream at all (the
	// adapter's configuration, the kind of conversation); when false the
	// renderer posts and edits without calling the other methods.
	CanStream(thread ThreadKey) bool
	// StartStream starts a streamed message in the thread showing text
	// (not empty) and returns its ID. recipient is the user the reply
	// answers (Slack needs it to stream in channels); it may be zero.
	StartStream(ctx context.Context, thread ThreadKey, recipient Recipient, text string) (streamID string, err error)
	// AppendStream adds delta (not empty) to the end of the message.
	AppendStream(ctx context.Context, thread ThreadKey, streamID, delta string) error
	// StopStream appends delta (may be empty) and ends the stream; the
	// message is final afterwards.
	StopStream(ctx context.Context, thread ThreadKey, streamID, delta string) error
}

// Recipient is the user a reply answers.
type Recipient struct {
	UserID string
	TeamID string // the user's workspace (Slack team); "" when unknown
}

// IsZero reports whether no recipient is known.
func (r Recipient) IsZero() bool { return r.UserID == "" }

type recipientKey struct{}

// WithRecipient returns ctx carrying the recipient of the reply that is
// opened with it (Renderer.Open takes it from there).
func WithRecipient(ctx context.Context, r Recipient) context.Context {
	return context.WithValue(ctx, recipientKey{}, r)
}

// RecipientFrom returns the recipient WithRecipient put in ctx, or zero.
func RecipientFrom(ctx context.Context) Recipient {
	r, _ := ctx.Value(recipientKey{}).(Recipient)
	return r
}

// ErrStreamUnsupported means the platform refuses streaming here; the
// reply goes on with Post and Edit. A plain ErrStreamUnsupported (wrapped
// or not) is remembered for the Edit budget's scope of the thread (the
// workspace on Slack), so that later replies there go straight to edits;
// a *StreamUnsupportedError says how widely to remember it.
var ErrStreamUnsupported = errors.New("streaming not supported")

// StreamUnsupportedError is an ErrStreamUnsupported with its extent.
type StreamUnsupportedError struct {
	Op     string // the platform call refused ("chat.startStream")
	Reason string // the platform's error code ("unknown_method")
	Scope  Scope  // where streaming stays off (Scope.Key of the thread)
	// OnlyThisReply: nothing to remember, the next reply may stream (a
	// DM without a thread, a reply without a known recipient).
	OnlyThisReply bool
}

func (e *StreamUnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Reason, ErrStreamUnsupported)
}

// Is makes errors.Is(err, ErrStreamUnsupported) hold.
func (e *StreamUnsupportedError) Is(target error) bool { return target == ErrStreamUnsupported }
