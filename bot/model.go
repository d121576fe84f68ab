package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Chat roles, as the OpenAI chat API names them.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// ChatMessage is one message of a request to the model.
type ChatMessage struct {
	Role    string
	Name    string // author's display name for user messages, sanitised by the model client
	Content string
}

// OpenAI's chat framing in tokens, as the cookbook's
// num_tokens_from_messages counts it for gpt-3.5-turbo-0613 and every
// later model: each message is wrapped in 3 tokens around its role and
// content (1 more when it has a name), and the reply is primed with 3.
const (
	TokensPerMessage   = 3
	TokensPerName      = 1
	TokensReplyPriming = 3
)

// MessageTokens is what one message adds to a prompt, given the token
// counts of its role, content and name (0: no name).
func MessageTokens(role, content, name int) int {
	n := TokensPerMessage + role + content
	if name > 0 {
		n += name + TokensPerName
	}
	return n
}

// PromptTokens is what a whole request's messages cost, reply priming
// included, with count giving the tokens of a string.
func PromptTokens(msgs []ChatMessage, count func(string) int) int {
	n := TokensReplyPriming
	for _, m := range msgs {
		name := 0
		if m.Name != "" {
			name = count(m.Name)
		}
		n += MessageTokens(count(m.Role), count(m.Content), name)
	}
	return n
}

// ChatRequest is one streamed chat completion.
type ChatRequest struct {
	Model     string
	Messages  []ChatMessage
	MaxTokens int // 0: the model's default
	// PromptTokens is the local count of the prompt, used when the server
	// does not report usage.
	PromptTokens int
}

// Completion is what a finished stream produced.
type Completion struct {
	Model            string // the model that answered, as the server named it
	Text             string // the visible text (content, or a refusal)
	FinishReason     string // stop, length, content_filter, tool_calls, refusal
	PromptTokens     int
	CompletionTokens int
	UsageReported    bool // false when the server sent no usage and the counts are local
}

// Model streams chat completions. Deltas are called in order with each new
// piece of visible text; the returned Completion holds the whole text even
// when err is non-nil (a stream cut short).
type Model interface {
	Stream(ctx context.Context, req ChatRequest, delta func(text string)) (Completion, error)
}

// ModelErrorClass sorts model failures by what the caller must do.
type ModelErrorClass string

// Model error classes.
const (
	ModelRateLimited    ModelErrorClass = "rate_limited"     // 429 rate_limit_exceeded: retry after RetryAfter
	ModelQuotaExhausted ModelErrorClass = "quota_exhausted"  // 429 insufficient_quota, billing: never retry
	ModelContextTooLong ModelErrorClass = "context_too_long" // context_length_exceeded: shrink, retry once
	ModelServer         ModelErrorClass = "server"           // 5xx
	ModelTimeout        ModelErrorClass = "timeout"          // headers, first token, idle gap or total
	ModelTruncated      ModelErrorClass = "truncated"        // the stream ended without [DONE] or finish_reason
	ModelStreamError    ModelErrorClass = "stream_error"     // an {"error": …} object mid-stream
	ModelBadRequest     ModelErrorClass = "bad_request"      // 4xx other than the above
	ModelAuth           ModelErrorClass = "auth"             // 401/403
	ModelProtocol       ModelErrorClass = "protocol"         // malformed chunks
	ModelUnavailable    ModelErrorClass = "unavailable"      // connection refused, circuit open
)

// ModelError is a classified failure of a model call. Its message never
// contains the API key.
type ModelError struct {
	Class      ModelErrorClass
	Model      string
	StatusCode int           // HTTP status, 0 when none
	Code       string        // the API's error code or type, e.g. "context_length_exceeded"
	RetryAfter time.Duration // from Retry-After or x-ratelimit-reset-*, 0 when unknown
	Message    string        // the server's message, or a description
	Err        error         // the underlying error, if any
}

func (e *ModelError) Error() string {
	s := fmt.Sprintf("model %s: %s", e.Model, e.Class)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && e.Message == "" {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ModelError) Unwrap() error { return e.Err }

// ModelErrorClassOf returns the class of a model error, or "" when err is
// not one.
func ModelErrorClassOf(err error) ModelErrorClass {
	var me *ModelError
	if errors.As(err, &me) {
		return me.Class
	}
	return ""
}

// UserNotice is the short explanation shown to users when a reply fails.
func (e *ModelError) UserNotice() string {
	switch e.Class {
	case ModelRateLimited:
		return "the model is rate limited, please try again shortly"
	case ModelQuotaExhausted:
		return "the model's API quota is used up; an admin has been told"
	case ModelContextTooLong:
		return "the conversation is too long for the model"
	case ModelTimeout:
		return "upstream timed out"
	case ModelTruncated:
		return "the model's stream was cut off"
	case ModelServer, ModelUnavailable:
		return "the model service is unavailable"
	case ModelAuth:
		return "the model rejected Parley's credentials; an admin must fix the API key"
	default:
		return "the model returned an error"
	}
}
