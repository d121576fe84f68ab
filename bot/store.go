package bot

import (
	"context"
	"fmt"
	"time"
)

// Status is the stored state of a message.
type Status string

// Message statuses. A reply is stored as streaming while it is being
// written, and ends in exactly one of the others.
const (
	StatusStreaming   Status = "streaming"   // reply in progress
	StatusComplete    Status = "complete"    // finished normally
	StatusPartial     Status = "partial"     // cut short (timeout, cut stream, shutdown, length); the text is what users saw
	StatusFailed      Status = "failed"      // no usable text; the reason is in Error
	StatusFiltered    Status = "filtered"    // refused or stopped by the word filter
	StatusInterrupted Status = "interrupted" // a crash left it streaming; finished at the next start
	StatusRefused     Status = "refused"     // not sent to the model (too long, rate limit, quota)
)

// Usage is what a model call consumed.
type Usage struct {
	Model            string
	PromptTokens     int
	CompletionTokens int
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// ReplyOutcome is how a reply ended, as stored.
type ReplyOutcome struct {
	Text       string // exactly what users saw, including any notice
	Status     Status
	Usage      Usage
	MessageIDs []string // the platform messages that carry it, in order
	Error      string   // why it did not complete, for failed and partial replies
}

// PromptOptions tune how a thread is fitted to the model.
type PromptOptions struct {
	Model        string
	SystemPrompt string
	// ReplyTo is the stored ID of the user message being answered; newer
	// messages already stored in the thread (queued behind it) are left out.
	// Zero means the newest message.
	ReplyTo int64
	// Shrink asks for a smaller budget than the local count allows, after
	// a server answered context_length_exceeded for the full one.
	Shrink bool
}

// Prompt is a request fitted to the model's context window.
type Prompt struct {
	Model     string        // the model it was fitted to (a thread's override wins over the channel's)
	Messages  []ChatMessage // system prompt, summary, then the newest whole turns
	Tokens    int           // exact prompt tokens by the model's tokenizer, with the chat overhead
	Budget    int           // window − reserved output − margin
	MaxOutput int           // tokens reserved for the answer
	Evicted   int           // turns left out of this request (summarised or dropped)
}

// TooLongError says the newest message alone cannot fit the model's window.
type TooLongError struct {
	Tokens int // what the system prompt and the newest message need
	Budget int // what the window allows for the prompt
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("message too long for the model: needs %d tokens, the budget is %d (%d over)",
		e.Tokens, e.Budget, e.Tokens-e.Budget)
}

// Conversations is the engine's view of conversation storage and the
// context window (implemented by conversation.Store).
type Conversations interface {
	// AcceptUserMessage records event eventID and stores its message,
	// atomically, before anything else happens to it. first is false (and
	// nothing is stored) when the event was already recorded: a
	// redelivery, to be ignored.
	AcceptUserMessage(ctx context.Context, m Message, eventID string, status Status, at time.Time) (id int64, first bool, err error)
	// EditUserMessage replaces the stored text of a user's message after
	// the user edited it on the platform.
	EditUserMessage(ctx context.Context, key ThreadKey, messageID, text string) error
	// Prompt fits the thread to the model's window. It returns a
	// *TooLongError when even the newest message does not fit.
	Prompt(ctx context.Context, key ThreadKey, opts PromptOptions) (Prompt, error)
	// BeginReply stores a reply to the user message replyTo (its stored ID)
	// as streaming, before the first text is shown.
	BeginReply(ctx context.Context, key ThreadKey, replyTo int64, model string) (replyID int64, err error)
	// ReplyMessages records the platform messages that show the reply so
	// far, so that a crash can be repaired at the next start.
	ReplyMessages(ctx context.Context, replyID int64, messageIDs []string) error
	// ReplyProgress stores the text shown so far while the reply streams,
	// so that a crash can be repaired with what users saw.
	ReplyProgress(ctx context.Context, replyID int64, text string) error
	// FinishReply stores the reply's final text and status.
	FinishReply(ctx context.Context, replyID int64, out ReplyOutcome) error
	// ResetThread forgets a thread's history.
	ResetThread(ctx context.Context, key ThreadKey) error
	// ThreadActive reports whether the bot has replied in the thread, so
	// that follow-ups there need no mention.
	ThreadActive(ctx context.Context, key ThreadKey) (bool, error)
}
