package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/parley-bot/parley/bot"
	openai "github.com/sashabaranov/go-openai"
)

// redactor removes the API key from text bound for errors and logs. Servers
// and proxies have been known to echo request headers into error bodies.
type redactor struct{ key string }

func (r redactor) redact(s string) string {
	if len(r.key) < 4 { // too short to be a key; replacing it would mangle text
		return s
	}
	return strings.ReplaceAll(s, r.key, "[redacted]")
}

// wrap returns err for use as ModelError.Err: unchanged when its text does
// not hold the key (so errors.Is and errors.As still reach it), else a plain
// error with the redacted text, cutting the chain that holds the key.
func (r redactor) wrap(err error) error {
	if err == nil {
		return nil
	}
	if msg := r.redact(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

// quotaCodes are 429 codes that retrying cannot fix.
var quotaCodes = map[string]bool{
	"insufficient_quota":          true,
	"billing_hard_limit_reached":  true,
	"billing_not_active":          true,
	"access_terminated":           true,
	"quota_exceeded":              true,
	"insufficient_balance":        true, // DeepSeek and others
	"payment_required":            true,
	"credit_balance_insufficient": true,
}

// httpError builds the ModelError for a non-2xx response.
func (c *Client) httpError(model string, status int, code, typ, msg string, rl RateLimits, err error) *bot.ModelError {
	me := &bot.ModelError{
		Model:      model,
		StatusCode: status,
		Code:       firstNonEmpty(code, typ),
		Message:    c.redactor.redact(msg),
		Err:        c.redactor.wrap(err),
	}
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusTooManyRequests && (quotaCodes[code] || quotaCodes[typ]):
		me.Class = bot.ModelQuotaExhausted
	case status == http.StatusPaymentRequired:
		me.Class = bot.ModelQuotaExhausted
	case status == http.StatusTooManyRequests:
		me.Class = bot.ModelRateLimited
		me.RetryAfter = rl.retryDelay()
	case code == "context_length_exceeded" || code == "string_above_max_length" ||
		status == http.StatusRequestEntityTooLarge ||
		(status == http.StatusBadRequest && (strings.Contains(lower, "maximum context length") ||
			strings.Contains(lower, "context window") || strings.Contains(lower, "too many tokens"))):
		// vLLM, llama.cpp and others say so only in the message.
		me.Class = bot.ModelContextTooLong
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		me.Class = bot.ModelAuth
	case status >= 400 && status < 500:
		me.Class = bot.ModelBadRequest
	case status >= 500:
		me.Class = bot.ModelServer
	default:
		me.Class = bot.ModelProtocol
		if me.Message == "" {
			me.Message = fmt.Sprintf("unexpected HTTP status %d", status)
		}
	}
	if me.Message == "" {
		me.Message = http.StatusText(status)
	}
	return me
}

// requestError classifies an error from CreateChatCompletionStream, i.e.
// before any chunk was read.
func (c *Client) requestError(ctx context.Context, cl *call, model string, err error) error {
	if cerr := c.contextError(ctx, model, err); cerr != nil {
		return cerr
	}
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) && apiErr.HTTPStatusCode != 0 {
		return c.httpError(model, apiErr.HTTPStatusCode, codeString(apiErr.Code), apiErr.Type, apiErr.Message, cl.rateLimits, err)
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) && reqErr.HTTPStatusCode != 0 {
		return c.httpError(model, reqErr.HTTPStatusCode, "", "", bodySnippet(reqErr.Body), cl.rateLimits, err)
	}
	if cl.status != 0 { // a response arrived, but reading it failed
		return &bot.ModelError{Class: bot.ModelProtocol, Model: model, StatusCode: cl.status,
			Message: c.redactor.redact("reading error response: " + err.Error()), Err: c.redactor.wrap(err)}
	}
	if isUnavailable(err) {
		return &bot.ModelError{Class: bot.ModelUnavailable, Model: model,
			Message: c.redactor.redact(err.Error()), Err: c.redactor.wrap(err)}
	}
	// Any other failure before a response (connection reset, TLS, a request
	// the library refused to build) is still a reason the model could not
	// be reached.
	return &bot.ModelError{Class: bot.ModelUnavailable, Model: model,
		Message: c.redactor.redact(err.Error()), Err: c.redactor.wrap(err)}
}

// contextError returns the error for a call whose context ended: the
// watchdog's ModelTimeout, or the caller's own cancellation wrapped.
// It returns nil when the context is still live.
func (c *Client) contextError(ctx context.Context, model string, err error) error {
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	var te *timeoutError
	if errors.As(cause, &te) {
		return &bot.ModelError{Class: bot.ModelTimeout, Model: model, Message: te.Error(), Err: te}
	}
	return fmt.Errorf("model %s: %w", model, cause)
}

// isUnavailable reports whether err means nothing answered at the address.
func isUnavailable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// isCut reports whether a read error means the connection ended early.
func isCut(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

func codeString(code any) string {
	switch v := code.(type) {
	case nil:
		return ""
	case int:
		if v == 0 { // go-openai decodes "code": null as 0
			return ""
		}
		return fmt.Sprint(v)
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// bodySnippet makes a short, single-line message of a non-JSON error body.
func bodySnippet(b []byte) string {
	const limit = 200
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
