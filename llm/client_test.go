package llm_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

const testKey = "sk-test-SECRET-0123456789abcdef"

func recorded(name string) string {
	return filepath.Join("fakeopenai", "testdata", "openai-streams", name)
}

func startFake(t *testing.T, opts fakeopenai.Options) *fakeopenai.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := fakeopenai.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close fake: %v", err)
		}
	})
	return s
}

// logBuffer collects log output so tests can check it for the API key.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newClient(t *testing.T, baseURL string, edit func(*llm.Config)) (*llm.Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := llm.Config{
		BaseURL: baseURL,
		APIKey:  testKey,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, logs
}

type result struct {
	comp   bot.Completion
	err    error
	deltas []string
}

func (r result) joined() string { return strings.Join(r.deltas, "") }

func run(t *testing.T, c *llm.Client, req bot.ChatRequest) result {
	t.Helper()
	var r result
	r.comp, r.err = c.Stream(t.Context(), req, func(s string) { r.deltas = append(r.deltas, s) })
	// Invariant of bot.Model: the deltas add up to the returned text.
	if got := r.joined(); got != r.comp.Text {
		t.Errorf("deltas join to %q, Completion.Text is %q", got, r.comp.Text)
	}
	return r
}

func hello() bot.ChatRequest {
	return bot.ChatRequest{Model: "gpt-4o", Messages: []bot.ChatMessage{
		{Role: bot.RoleSystem, Content: "You are terse."},
		{Role: bot.RoleUser, Name: "Zoë Martin", Content: "What's the weather in San Francisco?"},
	}}
}

func wantClass(t *testing.T, err error, class bot.ModelErrorClass) *bot.ModelError {
	t.Helper()
	var me *bot.ModelError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *bot.ModelError", err, err)
	}
	if me.Class != class {
		t.Fatalf("class %q, want %q (error: %v)", me.Class, class, err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Fatalf("error contains the API key: %v", err)
	}
	return me
}

func TestReplayRecordedStreams(t *testing.T) {
	tests := []struct {
		file, text, finish string
		prompt, completion int
	}{
		{"plain-content.sse", "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or a weather app.", "stop", 14, 30},
		{"finish-length.sse", `{"`, "length", 79, 1},
		{"refusal.sse", "I'm sorry, I can't assist with that request.", "refusal", 79, 11},
		{"refusal-logprobs.sse", "I'm very sorry, but I can't assist with that.", "refusal", 79, 12},
		{"content-logprobs.sse", "Foo!", "stop", 9, 2},
		{"structured-json.sse", `{"city":"San Francisco","temperature":61,"units":"f"}`, "stop", 79, 14},
		{"n3-interleaved.sse", `{"city":"San Francisco","temperature":65,"units":"f"}`, "stop", 79, 42},
		{"tool-call-1.sse", "The model tried to call the tool `get_weather`, which Parley does not offer.", "tool_calls", 44, 16},
		{"tool-call-2.sse", "The model tried to call the tool `get_weather`, which Parley does not offer.", "tool_calls", 48, 19},
		{"tool-call-3.sse", "The model tried to call the tool `GetWeatherArgs`, which Parley does not offer.", "tool_calls", 76, 24},
		{"parallel-tool-calls.sse", "The model tried to call the tools `GetWeatherArgs` and `get_stock_price`, which Parley does not offer.", "tool_calls", 149, 60},
	}
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			srv.Enqueue(fakeopenai.Replay(recorded(tt.file), 0))
			r := run(t, c, hello())
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.comp.Text != tt.text {
				t.Errorf("text %q, want %q", r.comp.Text, tt.text)
			}
			if r.comp.FinishReason != tt.finish {
				t.Errorf("finish %q, want %q", r.comp.FinishReason, tt.finish)
			}
			if !r.comp.UsageReported || r.comp.PromptTokens != tt.prompt || r.comp.CompletionTokens != tt.completion {
				t.Errorf("usage %d/%d reported=%v, want %d/%d", r.comp.PromptTokens, r.comp.CompletionTokens,
					r.comp.UsageReported, tt.prompt, tt.completion)
			}
			if r.comp.Model != "gpt-4o-2024-08-06" {
				t.Errorf("model %q, want the server's name", r.comp.Model)
			}
		})
	}
}

func TestReplayLongContent(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	srv.Enqueue(fakeopenai.Replay(recorded("long-content.sse"), 0))
	r := run(t, c, hello())
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.HasPrefix(r.comp.Text, "\n  {\n    \"location\": \"San Francisco, CA\",") || !strings.HasSuffix(r.comp.Text, "  }\n") {
		t.Errorf("unexpected text %q", r.comp.Text)
	}
	if len(r.deltas) < 170 {
		t.Errorf("%d deltas, want one per content chunk (about 178)", len(r.deltas))
	}
	if r.comp.CompletionTokens != 177 || r.comp.FinishReason != "stop" {
		t.Errorf("completion %+v", r.comp)
	}
}

func TestGeneratedAnswerRequestAndUsage(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{Answer: func(fakeopenai.Request) string { return "Hello, Zoë! `x := 1`" }})
	c, _ := newClient(t, srv.URL(), nil)
	req := hello()
	req.MaxTokens = 50
	r := run(t, c, req)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.comp.Text != "Hello, Zoë! `x := 1`" || r.comp.FinishReason != "stop" || !r.comp.UsageReported {
		t.Fatalf("completion %+v", r.comp)
	}
	if len(r.deltas) < 4 {
		t.Errorf("deltas %q: the fake should stream token-sized pieces", r.deltas)
	}
	tc := llm.NewTokenCounter()
	if want := tc.Count("gpt-4o", r.comp.Text); r.comp.CompletionTokens != want {
		t.Errorf("completion tokens %d, want %d", r.comp.CompletionTokens, want)
	}
	got := srv.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	rq := got[0]
	if !rq.Stream || !rq.IncludeUsage || rq.MaxTokens != 50 || rq.MaxCompletionTokens != 0 {
		t.Errorf("request %+v: want stream with include_usage and max_tokens 50", rq)
	}
	if rq.Messages[1].Name != "Zoe_Martin" {
		t.Errorf("name sent as %q, want the sanitised Zoe_Martin", rq.Messages[1].Name)
	}
	if rq.Authorization != "Bearer "+testKey {
		t.Errorf("authorization %q", rq.Authorization)
	}
	sent := req
	sent.Messages[1].Name = "Zoe_Martin"
	if want := tc.CountPrompt("gpt-4o", sent.Messages); r.comp.PromptTokens != want {
		t.Errorf("prompt tokens %d, want %d", r.comp.PromptTokens, want)
	}
}

func TestMaxTokensField(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), func(cfg *llm.Config) { cfg.MaxTokensField = llm.MaxCompletionTokens })
	req := hello()
	req.MaxTokens = 7
	if r := run(t, c, req); r.err != nil {
		t.Fatal(r.err)
	} else if r.comp.FinishReason != "length" {
		t.Errorf("finish %q, want length: the demo answer is longer than 7 tokens", r.comp.FinishReason)
	}
	// Reasoning models refuse max_tokens; the default switches for them.
	c2, _ := newClient(t, srv.URL(), nil)
	req.Model = "o3-mini"
	if r := run(t, c2, req); r.err != nil {
		t.Fatal(r.err)
	}
	got := srv.Requests()
	if got[0].MaxCompletionTokens != 7 || got[0].MaxTokens != 0 || got[1].MaxCompletionTokens != 7 {
		t.Errorf("requests %+v", got)
	}
}

func TestLocalUsageFallback(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{OmitUsage: true, Answer: func(fakeopenai.Request) string { return "four five six" }})
	var counted []string
	c, _ := newClient(t, srv.URL(), func(cfg *llm.Config) {
		cfg.CountTokens = func(model, text string) int { counted = append(counted, model+":"+text); return 42 }
	})
	req := hello()
	req.PromptTokens = 17
	r := run(t, c, req)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.comp.UsageReported || r.comp.PromptTokens != 17 || r.comp.CompletionTokens != 42 {
		t.Errorf("completion %+v, want local counts 17/42", r.comp)
	}
	if len(counted) != 1 || counted[0] != "gpt-4o:four five six" {
		t.Errorf("CountTokens calls %q", counted)
	}
}

func TestCutStreamIsTruncated(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	for _, f := range []fakeopenai.Fault{
		{ReplayFile: recorded("plain-content.sse"), CutAfterChunks: 4},   // clean end of body
		{ReplayFile: recorded("plain-content.sse"), AbortAfterChunks: 4}, // connection reset
	} {
		srv.Enqueue(f)
		r := run(t, c, hello())
		wantClass(t, r.err, bot.ModelTruncated)
		if r.comp.Text != "I'm unable to" {
			t.Errorf("partial text %q, want the three chunks sent", r.comp.Text)
		}
		if r.comp.UsageReported || r.comp.CompletionTokens == 0 {
			t.Errorf("a cut stream should be counted locally: %+v", r.comp)
		}
	}
}

func TestFinishWithoutDoneSucceeds(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	srv.Enqueue(fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), OmitDone: true})
	if r := run(t, c, hello()); r.err != nil || r.comp.FinishReason != "stop" {
		t.Fatalf("%+v %v: a finish_reason without [DONE] is a complete answer", r.comp, r.err)
	}
}

func TestKeepAlivesBetweenChunks(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	srv.Enqueue(fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), KeepAlivesBetweenChunks: 300})
	r := run(t, c, hello())
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.HasPrefix(r.comp.Text, "I'm unable to provide") || r.comp.FinishReason != "stop" {
		t.Errorf("completion %+v", r.comp)
	}
}

func TestMalformedChunk(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	srv.Enqueue(fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), MalformedChunkAt: 3})
	r := run(t, c, hello())
	wantClass(t, r.err, bot.ModelProtocol)
	if r.comp.Text != "I'm" {
		t.Errorf("partial text %q", r.comp.Text)
	}
}

func TestMidStreamError(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	for _, inChunk := range []bool{false, true} {
		srv.Enqueue(fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), MidStreamErrorAt: 4,
			MidStreamErrorInChunk: inChunk, ErrorMessage: "upstream overloaded"})
		r := run(t, c, hello())
		me := wantClass(t, r.err, bot.ModelStreamError)
		if me.Message != "upstream overloaded" || r.comp.Text != "I'm unable" {
			t.Errorf("inChunk=%v: error %+v, text %q", inChunk, me, r.comp.Text)
		}
		if !inChunk && me.Code != "server_error" {
			t.Errorf("code %q", me.Code)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	tests := []struct {
		name  string
		fault fakeopenai.Fault
		class bot.ModelErrorClass
		code  string
	}{
		{"500", fakeopenai.Fault{Status: 500}, bot.ModelServer, "server_error"},
		{"502 html", fakeopenai.Fault{Status: 502, RawBody: "<html><body>Bad gateway</body></html>"}, bot.ModelServer, ""},
		{"insufficient_quota", fakeopenai.Fault{Status: 429, ErrorCode: "insufficient_quota"}, bot.ModelQuotaExhausted, "insufficient_quota"},
		{"401", fakeopenai.Fault{Status: 401}, bot.ModelAuth, "invalid_api_key"},
		{"403", fakeopenai.Fault{Status: 403}, bot.ModelAuth, "unsupported_country_region_territory"},
		{"404", fakeopenai.Fault{Status: 404}, bot.ModelBadRequest, "model_not_found"},
		{"413", fakeopenai.Fault{Status: 413}, bot.ModelContextTooLong, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t, srv.URL(), nil)
			srv.Enqueue(tt.fault)
			r := run(t, c, hello())
			me := wantClass(t, r.err, tt.class)
			if me.StatusCode != tt.fault.Status || me.Code != tt.code || me.Message == "" {
				t.Errorf("error %+v", me)
			}
			if r.comp.Text != "" {
				t.Errorf("text %q", r.comp.Text)
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	var seen []llm.RateLimits
	c, _ := newClient(t, srv.URL(), func(cfg *llm.Config) {
		cfg.OnRateLimits = func(model string, rl llm.RateLimits) {
			if model != "gpt-4o" {
				t.Errorf("OnRateLimits model %q", model)
			}
			seen = append(seen, rl)
		}
	})
	headers := map[string]string{
		"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0",
		"x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "29000",
		"x-ratelimit-reset-requests": "1m12s", "x-ratelimit-reset-tokens": "2s",
	}
	srv.Enqueue(fakeopenai.Fault{Status: 429, RetryAfter: "7", Headers: headers})
	me := wantClass(t, run(t, c, hello()).err, bot.ModelRateLimited)
	if me.RetryAfter != 7*time.Second || me.Code != "rate_limit_exceeded" || me.StatusCode != 429 {
		t.Errorf("error %+v, want RetryAfter 7s from Retry-After", me)
	}
	want := llm.RateLimits{LimitRequests: 500, LimitTokens: 30000, RemainingRequests: 0, RemainingTokens: 29000,
		ResetRequests: 72 * time.Second, ResetTokens: 2 * time.Second, RetryAfter: 7 * time.Second}
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("OnRateLimits got %+v, want %+v", seen, want)
	}

	// Without Retry-After, the reset of the exhausted bucket (requests) counts.
	srv.Enqueue(fakeopenai.Fault{Status: 429, Headers: headers})
	if me := wantClass(t, run(t, c, hello()).err, bot.ModelRateLimited); me.RetryAfter != 72*time.Second {
		t.Errorf("RetryAfter %v, want 1m12s", me.RetryAfter)
	}
	// retry-after-ms wins over Retry-After.
	srv.Enqueue(fakeopenai.Fault{Status: 429, RetryAfter: "3", Headers: map[string]string{"retry-after-ms": "1500"}})
	if me := wantClass(t, run(t, c, hello()).err, bot.ModelRateLimited); me.RetryAfter != 1500*time.Millisecond {
		t.Errorf("RetryAfter %v, want 1.5s", me.RetryAfter)
	}
	// Successful streams report their headers too.
	seen = nil
	srv.Enqueue(fakeopenai.Fault{Headers: map[string]string{"x-ratelimit-remaining-tokens": "100"}})
	if r := run(t, c, hello()); r.err != nil {
		t.Fatal(r.err)
	}
	if len(seen) != 1 || seen[0].RemainingTokens != 100 {
		t.Errorf("OnRateLimits on success: %+v", seen)
	}
}

func TestContextLengthExceeded(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{Window: 40})
	c, _ := newClient(t, srv.URL(), nil)
	req := hello()
	req.MaxTokens = 30
	me := wantClass(t, run(t, c, req).err, bot.ModelContextTooLong)
	prompt := llm.NewTokenCounter().CountPrompt("gpt-4o", []bot.ChatMessage{req.Messages[0],
		{Role: bot.RoleUser, Name: "Zoe_Martin", Content: req.Messages[1].Content}})
	want := "This model's maximum context length is 40 tokens. However, you requested " +
		itoa(prompt+30) + " tokens (" + itoa(prompt) + " in the messages, 30 in the completion). " +
		"Please reduce the length of the messages or completion."
	if me.Code != "context_length_exceeded" || me.StatusCode != 400 || me.Message != want {
		t.Errorf("error %+v\nwant message %q", me, want)
	}
	req.MaxTokens = 0
	if r := run(t, c, req); r.err != nil {
		t.Errorf("the prompt alone fits the window: %v", r.err)
	}
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, _ := newClient(t, "http://"+addr+"/v1", nil)
	wantClass(t, run(t, c, hello()).err, bot.ModelUnavailable)
}

func TestTimeouts(t *testing.T) {
	// The server waits (until the client leaves) far longer than the
	// timeout, so each of these fires whatever the machine's speed.
	const never = time.Hour
	tests := []struct {
		name  string
		fault fakeopenai.Fault
		cfg   func(*llm.Config)
		msg   string
		text  string
	}{
		{"headers", fakeopenai.Fault{HeaderDelay: never},
			func(c *llm.Config) { c.HeaderTimeout = 50 * time.Millisecond }, "no response headers within 50ms", ""},
		{"first token", fakeopenai.Fault{FirstChunkDelay: never},
			func(c *llm.Config) { c.FirstTokenTimeout = 50 * time.Millisecond }, "no first token within 50ms", ""},
		{"idle", fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), StallAfterChunks: 3},
			func(c *llm.Config) { c.IdleTimeout = 50 * time.Millisecond }, "no data for 50ms mid-stream", "I'm unable"},
		{"total", fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), StallAfterChunks: 2},
			func(c *llm.Config) { c.TotalTimeout = 50 * time.Millisecond }, "answer not complete within 50ms", "I'm"},
	}
	srv := startFake(t, fakeopenai.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t, srv.URL(), tt.cfg)
			srv.Enqueue(tt.fault)
			r := run(t, c, hello())
			me := wantClass(t, r.err, bot.ModelTimeout)
			if me.Message != tt.msg || r.comp.Text != tt.text {
				t.Errorf("error %q text %q, want %q and %q", me.Message, r.comp.Text, tt.msg, tt.text)
			}
		})
	}
}

func TestCallerCancel(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, _ := newClient(t, srv.URL(), nil)
	srv.Enqueue(fakeopenai.Fault{ReplayFile: recorded("plain-content.sse"), StallAfterChunks: 3})
	ctx, cancel := context.WithCancel(t.Context())
	var text string
	comp, err := c.Stream(ctx, hello(), func(s string) {
		text += s
		if text == "I'm unable" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || bot.ModelErrorClassOf(err) != "" {
		t.Fatalf("err %v, want the caller's context.Canceled", err)
	}
	if comp.Text != "I'm unable" {
		t.Errorf("text %q", comp.Text)
	}
}

func TestAPIKeyNeverInErrorsOrLogs(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	c, logs := newClient(t, srv.URL(), nil)
	echo := "Incorrect API key provided: " + testKey + "."
	faults := []fakeopenai.Fault{
		{Status: 401, ErrorMessage: echo},
		{Status: 400, ErrorMessage: echo},
		{Status: 502, RawBody: "proxy saw Authorization: Bearer " + testKey},
		{ReplayFile: recorded("plain-content.sse"), MidStreamErrorAt: 2, ErrorMessage: echo},
		{ReplayFile: recorded("plain-content.sse"), MidStreamErrorAt: 2, MidStreamErrorInChunk: true, ErrorMessage: echo},
	}
	for _, f := range faults {
		srv.Enqueue(f)
		err := run(t, c, hello()).err
		if err == nil {
			t.Fatal("want an error")
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), testKey) {
				t.Errorf("error chain leaks the key: %q", e.Error())
			}
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("error %q: want the echoed key redacted", err)
		}
	}
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("logs leak the key:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "model call failed") {
		t.Errorf("failures were not logged:\n%s", logs)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []llm.Config{
		{BaseURL: ""},
		{BaseURL: "ftp://example.com"},
		{BaseURL: "http://x/v1", MaxTokensField: "max_output"},
		{BaseURL: "http://x/v1", IdleTimeout: -time.Second},
	} {
		if _, err := llm.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	_, err := llm.New(llm.Config{BaseURL: "https://user:" + testKey + "@host:bad/v1"})
	if err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("New with a bad URL holding the key: %v", err)
	}
}

func TestNotAnEventStream(t *testing.T) {
	srv := startFake(t, fakeopenai.Options{})
	// A custom transport that answers 200 with an HTML page, like a captive
	// portal or a misrouted proxy.
	c, _ := newClient(t, srv.URL(), func(cfg *llm.Config) {
		cfg.Transport = roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/html"}},
				Body: io.NopCloser(strings.NewReader("<html>\n<body>Welcome</body>\n</html>\n"))}, nil
		})
	})
	wantClass(t, run(t, c, hello()).err, bot.ModelProtocol)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
