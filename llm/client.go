package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/parley-bot/parley/bot"
	openai "github.com/sashabaranov/go-openai"
	"golang.org/x/text/unicode/norm"
)

// MaxTokensField names the request field ChatRequest.MaxTokens is sent in.
type MaxTokensField string

const (
	// MaxTokens sends "max_tokens": understood by every OpenAI-compatible
	// server, deprecated by OpenAI and refused for its reasoning models (for
	// those Client switches to max_completion_tokens by itself).
	MaxTokens MaxTokensField = "max_tokens"
	// MaxCompletionTokens sends "max_completion_tokens", OpenAI's current name.
	MaxCompletionTokens MaxTokensField = "max_completion_tokens"
)

// Config configures a Client. Zero durations switch the timeout off.
type Config struct {
	BaseURL string // e.g. https://api.openai.com/v1
	APIKey  string // may be empty for local servers

	HeaderTimeout     time.Duration // from the request until response headers
	FirstTokenTimeout time.Duration // from the request until the first visible output
	IdleTimeout       time.Duration // longest gap between chunks after the first token
	TotalTimeout      time.Duration // the whole call

	// MaxTokensField picks the request field for ChatRequest.MaxTokens;
	// "" means MaxTokens.
	MaxTokensField MaxTokensField

	// Transport carries the requests; nil means a tuned http.Transport that
	// Close releases. No http.Client.Timeout is ever set: it would kill long
	// healthy streams.
	Transport http.RoundTripper

	// CountTokens counts tokens locally when the server reports no usage;
	// nil means a TokenCounter.
	CountTokens func(model, text string) int

	// OnRateLimits is called with the rate-limit headers of every response
	// that has any (failed ones too), from the goroutine calling Stream.
	OnRateLimits func(model string, rl RateLimits)

	Logger *slog.Logger // nil means slog.Default()
}

// Client streams chat completions from an OpenAI-compatible server. It
// implements bot.Model and is safe for concurrent use.
type Client struct {
	cfg          Config
	transport    http.RoundTripper
	ownTransport *http.Transport // closed by Close; nil when the caller owns it
	redactor     redactor
	log          *slog.Logger
	validator    *openai.ReasoningValidator
}

var _ bot.Model = (*Client)(nil)

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold credentials; keep it out of the error.
		return nil, errors.New("llm: base URL must be an absolute http or https URL")
	}
	switch cfg.MaxTokensField {
	case "":
		cfg.MaxTokensField = MaxTokens
	case MaxTokens, MaxCompletionTokens:
	default:
		return nil, fmt.Errorf("llm: unknown max tokens field %q", cfg.MaxTokensField)
	}
	for _, d := range []time.Duration{cfg.HeaderTimeout, cfg.FirstTokenTimeout, cfg.IdleTimeout, cfg.TotalTimeout} {
		if d < 0 {
			return nil, errors.New("llm: timeouts must not be negative")
		}
	}
	c := &Client{cfg: cfg, redactor: redactor{key: cfg.APIKey}, validator: openai.NewReasoningValidator()}
	if cfg.Transport != nil {
		c.transport = cfg.Transport
	} else {
		c.ownTransport = defaultTransport()
		c.transport = c.ownTransport
	}
	if c.cfg.CountTokens == nil {
		tc := NewTokenCounter()
		c.cfg.CountTokens = tc.Count
	}
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// Close releases idle connections of the Client's own transport.
func (c *Client) Close() error {
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	return nil
}

// call is the state of one Stream call shared with its callTransport.
type call struct {
	client     *Client
	model      string
	watch      *watchdog
	status     int
	rateLimits RateLimits
	body       *sseFilter // nil until a 2xx response arrived
}

func (cl *call) gotResponse(resp *http.Response) {
	cl.status = resp.StatusCode
	rl, ok := parseRateLimits(resp.Header, time.Now())
	if !ok {
		return
	}
	cl.rateLimits = rl
	if cl.client.cfg.OnRateLimits != nil {
		cl.client.cfg.OnRateLimits(cl.model, rl)
	}
}

// chunk is the part of a chat.completion.chunk Parley reads. It is decoded
// here rather than with go-openai's type to see an "error" member inside an
// ordinary chunk (OpenRouter sends those) and null fields.
type chunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				Index    *int `json:"index"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tool_calls"`
			FunctionCall *struct {
				Name string `json:"name"`
			} `json:"function_call"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// answer accumulates choice 0 of a stream.
type answer struct {
	text      strings.Builder
	delta     func(string)
	refusal   bool
	finish    string
	toolNames []string // by tool-call index; "" until the name arrives
	usage     *struct{ prompt, completion int }
	model     string
	sawFirst  bool
	onFirst   func() // told of the first visible output (the watchdog)
}

func (a *answer) emit(s string) {
	if s == "" {
		return
	}
	a.text.WriteString(s)
	if a.delta != nil {
		a.delta(s)
	}
}

// Stream sends req and streams the answer's visible text to delta. The
// returned Completion holds all text shown so far, also with an error.
// Errors are *bot.ModelError, except for the caller's own cancellation,
// which is returned wrapped (errors.Is(err, context.Canceled)).
func (c *Client) Stream(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
	start := time.Now()
	ans := &answer{delta: delta, model: req.Model}
	comp, err := c.stream(ctx, req, ans)
	c.logCall(req.Model, comp, err, time.Since(start))
	return comp, err
}

func (c *Client) stream(parent context.Context, req bot.ChatRequest, ans *answer) (bot.Completion, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	watch := startWatchdog(cancel, c.cfg)
	defer watch.stop()
	ans.onFirst = watch.firstToken

	cl := &call{client: c, model: req.Model, watch: watch}
	ocfg := openai.DefaultConfig(c.cfg.APIKey)
	ocfg.BaseURL = c.cfg.BaseURL
	ocfg.HTTPClient = &http.Client{Transport: &callTransport{base: c.transport, call: cl}}
	// Blank lines between events count as "empty messages" too, and
	// servers may send many; the SSE filter already drops comments.
	ocfg.EmptyMessagesLimit = math.MaxUint32
	oc := openai.NewClientWithConfig(ocfg)

	stream, err := oc.CreateChatCompletionStream(ctx, c.request(req))
	if err != nil {
		return c.completion(req, ans), c.requestError(ctx, cl, req.Model, err)
	}
	defer stream.Close()

	for {
		raw, err := stream.RecvRaw()
		if err != nil {
			// streamEnd first: it may add the tool-call notice and set the
			// finish reason.
			err = c.streamEnd(ctx, cl, req, ans, err)
			return c.completion(req, ans), err
		}
		watch.chunk()
		if len(raw) == 0 {
			// go-openai returns no line and no error for a "data: {"error": …"
			// event it could not parse.
			return c.completion(req, ans), &bot.ModelError{Class: bot.ModelStreamError, Model: ans.model,
				StatusCode: cl.status, Message: "malformed error event in stream"}
		}
		var ch chunk
		if err := json.Unmarshal(raw, &ch); err != nil {
			return c.completion(req, ans), &bot.ModelError{Class: bot.ModelProtocol, Model: ans.model,
				StatusCode: cl.status, Message: "malformed chunk: " + c.redactor.redact(err.Error()),
				Err: c.redactor.wrap(err)}
		}
		if len(ch.Error) > 0 && string(ch.Error) != "null" {
			return c.completion(req, ans), c.midStreamError(ans.model, cl.status, ch.Error)
		}
		c.apply(&ch, ans)
	}
}

// request builds the go-openai request for req.
func (c *Client) request(req bot.ChatRequest) openai.ChatCompletionRequest {
	msgs := make([]openai.ChatCompletionMessage, 0, len(req.Messages))
	for _, m := range req.Messages {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content, Name: SanitizeName(m.Name)})
	}
	or := openai.ChatCompletionRequest{
		Model:         req.Model,
		Messages:      msgs,
		Stream:        true,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	}
	if req.MaxTokens > 0 {
		if c.cfg.MaxTokensField == MaxCompletionTokens {
			or.MaxCompletionTokens = req.MaxTokens
		} else {
			// max_tokens is deprecated by OpenAI but is what most
			// OpenAI-compatible servers understand; it is the default.
			or.MaxTokens = req.MaxTokens //lint:ignore SA1019 see above
			// go-openai refuses max_tokens for OpenAI's reasoning models,
			// as does OpenAI.
			if errors.Is(c.validator.Validate(or), openai.ErrReasoningModelMaxTokensDeprecated) {
				or.MaxTokens, or.MaxCompletionTokens = 0, req.MaxTokens //lint:ignore SA1019 clearing the deprecated field
			}
		}
	}
	return or
}

// apply adds one chunk to the answer. Only choice 0 is shown: with n>1 the
// choices arrive interleaved.
func (c *Client) apply(ch *chunk, ans *answer) {
	if ch.Model != "" {
		ans.model = ch.Model
	}
	if ch.Usage != nil {
		ans.usage = &struct{ prompt, completion int }{ch.Usage.PromptTokens, ch.Usage.CompletionTokens}
	}
	for i := range ch.Choices {
		choice := &ch.Choices[i]
		if choice.Index != 0 {
			continue
		}
		d := &choice.Delta
		visible := false
		if d.Content != nil && *d.Content != "" {
			ans.emit(*d.Content)
			visible = true
		}
		if d.Refusal != nil && *d.Refusal != "" {
			ans.refusal = true
			ans.emit(*d.Refusal)
			visible = true
		}
		for _, tc := range d.ToolCalls {
			idx := len(ans.toolNames)
			if tc.Index != nil {
				idx = *tc.Index
			}
			if idx < 0 || idx > 127 { // a bound against hostile indices
				continue
			}
			for len(ans.toolNames) <= idx {
				ans.toolNames = append(ans.toolNames, "")
			}
			if tc.Function.Name != "" {
				ans.toolNames[idx] = tc.Function.Name
			}
			visible = true
		}
		if d.FunctionCall != nil {
			if len(ans.toolNames) == 0 {
				ans.toolNames = append(ans.toolNames, "")
			}
			if d.FunctionCall.Name != "" {
				ans.toolNames[0] = d.FunctionCall.Name
			}
			visible = true
		}
		if choice.FinishReason != nil && *choice.FinishReason != "" {
			ans.finish = *choice.FinishReason
			visible = true
		}
		if visible && !ans.sawFirst {
			ans.sawFirst = true
			if ans.onFirst != nil {
				ans.onFirst()
			}
		}
	}
}

// streamEnd turns the error that ended the read loop into the call's result.
func (c *Client) streamEnd(ctx context.Context, cl *call, req bot.ChatRequest, ans *answer, err error) error {
	if cerr := c.contextError(ctx, ans.model, err); cerr != nil {
		return cerr
	}
	if errors.Is(err, io.EOF) {
		switch {
		case cl.body != nil && cl.body.sawDone, ans.finish != "":
			// Some servers omit [DONE]; a finish_reason is enough.
			c.finish(ans)
			return nil
		case cl.body != nil && cl.body.dataEvents == 0 && cl.body.junk > 0:
			return &bot.ModelError{Class: bot.ModelProtocol, Model: ans.model, StatusCode: cl.status,
				Message: "response is not an event stream (" + cl.body.String() + ")"}
		default:
			return &bot.ModelError{Class: bot.ModelTruncated, Model: ans.model, StatusCode: cl.status,
				Message: "stream ended without a finish reason"}
		}
	}
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		// go-openai's reading of a "data: {"error": …}" event.
		return &bot.ModelError{Class: bot.ModelStreamError, Model: ans.model, StatusCode: cl.status,
			Code:    firstNonEmpty(codeString(apiErr.Code), apiErr.Type),
			Message: c.redactor.redact(firstNonEmpty(apiErr.Message, "error event in stream")),
			Err:     c.redactor.wrap(err)}
	}
	if errors.Is(err, errLineTooLong) {
		return &bot.ModelError{Class: bot.ModelProtocol, Model: ans.model, StatusCode: cl.status,
			Message: err.Error(), Err: err}
	}
	if isCut(err) {
		return &bot.ModelError{Class: bot.ModelTruncated, Model: ans.model, StatusCode: cl.status,
			Message: c.redactor.redact("stream cut: " + err.Error()), Err: c.redactor.wrap(err)}
	}
	return &bot.ModelError{Class: bot.ModelProtocol, Model: ans.model, StatusCode: cl.status,
		Message: c.redactor.redact("reading stream: " + err.Error()), Err: c.redactor.wrap(err)}
}

// midStreamError reads an {"error": …} member of a chunk. Its code may be
// a string (OpenAI) or a number (OpenRouter mirrors the HTTP status).
func (c *Client) midStreamError(model string, status int, raw json.RawMessage) *bot.ModelError {
	var e struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	}
	me := &bot.ModelError{Class: bot.ModelStreamError, Model: model, StatusCode: status}
	if err := json.Unmarshal(raw, &e); err != nil {
		var s string // some servers send "error": "text"
		if json.Unmarshal(raw, &s) == nil {
			e.Message = s
		} else {
			e.Message = bodySnippet(raw)
		}
	}
	me.Code = firstNonEmpty(codeString(e.Code), e.Type)
	me.Message = c.redactor.redact(firstNonEmpty(e.Message, "error event in stream"))
	return me
}

// finish completes a successful answer: tool calls become a notice, a
// refusal gets its finish reason.
func (c *Client) finish(ans *answer) {
	if ans.refusal && (ans.finish == "" || ans.finish == "stop") {
		ans.finish = "refusal"
	}
	if len(ans.toolNames) > 0 || ans.finish == "tool_calls" || ans.finish == "function_call" {
		notice := toolNotice(ans.toolNames)
		if ans.text.Len() > 0 {
			notice = "\n\n" + notice
		}
		ans.emit(notice)
	}
}

// toolNotice explains a tool call Parley cannot serve.
func toolNotice(names []string) string {
	var quoted []string
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(quoted, "`"+n+"`") {
			quoted = append(quoted, "`"+strings.ReplaceAll(n, "`", "")+"`")
		}
	}
	switch len(quoted) {
	case 0:
		return "The model tried to call a tool, which Parley does not offer."
	case 1:
		return "The model tried to call the tool " + quoted[0] + ", which Parley does not offer."
	default:
		return "The model tried to call the tools " + strings.Join(quoted[:len(quoted)-1], ", ") +
			" and " + quoted[len(quoted)-1] + ", which Parley does not offer."
	}
}

// completion builds the result from what the answer holds so far.
func (c *Client) completion(req bot.ChatRequest, ans *answer) bot.Completion {
	comp := bot.Completion{
		Model:        ans.model,
		Text:         ans.text.String(),
		FinishReason: ans.finish,
	}
	if ans.usage != nil {
		comp.PromptTokens, comp.CompletionTokens, comp.UsageReported = ans.usage.prompt, ans.usage.completion, true
	} else {
		comp.PromptTokens = req.PromptTokens
		comp.CompletionTokens = c.cfg.CountTokens(req.Model, comp.Text)
	}
	return comp
}

func (c *Client) logCall(model string, comp bot.Completion, err error, took time.Duration) {
	attrs := []any{
		slog.String("model", model), slog.Duration("took", took),
		slog.String("finish", comp.FinishReason), slog.Int("prompt_tokens", comp.PromptTokens),
		slog.Int("completion_tokens", comp.CompletionTokens), slog.Bool("usage_reported", comp.UsageReported),
	}
	if err != nil {
		// err's text is already redacted; redact again in case a caller's
		// context cause carries it.
		c.log.Warn("model call failed", append(attrs, slog.String("class", string(bot.ModelErrorClassOf(err))),
			slog.String("err", c.redactor.redact(err.Error())))...)
		return
	}
	c.log.Debug("model call", attrs...)
}

// maxNameLen is the longest name OpenAI accepts for a chat message.
const maxNameLen = 64

// SanitizeName makes a display name acceptable as a message "name", which
// OpenAI restricts to ^[a-zA-Z0-9_-]{1,64}$ (it rejects the whole request
// otherwise): accents are stripped ("José" → "Jose"), compatibility forms
// folded ("ｆｕｌｌ" → "full"), every other run of disallowed characters
// becomes one "_", and the result is trimmed of "_" at both ends and cut to
// 64 bytes. It is idempotent, so the store can count tokens of the name the
// client will send. It returns "" when nothing usable remains; the caller
// then sends no name.
func SanitizeName(name string) string {
	var b strings.Builder
	pendingSep := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case r < 0x80 && (r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)):
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// A combining mark left by NFKD: dropping it keeps the base
			// letter, which is the closest ASCII spelling.
		default:
			pendingSep = true
		}
		if b.Len() >= maxNameLen {
			break
		}
	}
	out := b.String()
	if len(out) > maxNameLen {
		out = out[:maxNameLen]
	}
	return strings.Trim(out, "_")
}
