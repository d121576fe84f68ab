package fakeopenai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/llm"
)

// DemoModel is the model name the server lists and Parley uses for its
// offline demo.
const DemoModel = "parley-demo"

// maxBody bounds a request body; OpenAI's own limit is far larger, but a
// fake has no use for more.
const maxBody = 8 << 20

// Options configures a Server. The zero value is a usable demo server.
type Options struct {
	// Window is the context window in tokens; prompt tokens plus the
	// requested completion limit above it get OpenAI's
	// context_length_exceeded error. 0 means unlimited.
	Window int
	// ChunkDelay paces the chunks of a generated answer (the demo uses
	// about 25ms, a realistic token rate).
	ChunkDelay time.Duration
	// Answer produces the answer text for a request; nil means DemoAnswer.
	Answer func(req Request) string
	// OmitUsage leaves out the usage chunk even when the request asks for it.
	OmitUsage bool
	// Listener to serve on; nil means a new TCP listener on 127.0.0.1:0.
	// Close closes it.
	Listener net.Listener
	Logger   *slog.Logger // nil means slog.Default()
}

// Fault changes how the server answers one request. Chunks are the data
// events of the stream other than [DONE], counted from 1 (the role chunk is
// chunk 1). Zero fields do nothing.
type Fault struct {
	HeaderDelay     time.Duration // before the response headers
	FirstChunkDelay time.Duration // after the headers, before the first chunk
	ChunkDelay      time.Duration // between chunks, instead of Options.ChunkDelay

	// Status answers with this HTTP error status and an OpenAI error body
	// built from ErrorType, ErrorCode and ErrorMessage (each defaulting to
	// what OpenAI sends for the status), or RawBody verbatim when set.
	Status                             int
	ErrorType, ErrorCode, ErrorMessage string
	RawBody                            string
	RetryAfter                         string            // the Retry-After header
	Headers                            map[string]string // extra response headers (x-ratelimit-*, …)
	CutAfterChunks                     int               // end the body cleanly after this many chunks: no finish_reason, no [DONE]
	AbortAfterChunks                   int               // reset the connection after this many chunks
	StallAfterChunks                   int               // after this many chunks, send nothing until the client leaves
	KeepAlivesBetweenChunks            int               // ": keep-alive" comments after every chunk
	MalformedChunkAt                   int               // this chunk is replaced by broken JSON
	MidStreamErrorAt                   int               // this chunk is replaced by a {"error": …} event, ending the stream
	MidStreamErrorInChunk              bool              // send the error OpenRouter's way: inside a chunk object
	OmitDone                           bool              // leave out the final "data: [DONE]"
	ReplayFile                         string            // serve this recorded .sse body instead of an answer
	replayEvents                       []string          // ReplayFile's data payloads, read by the handler
}

// Replay returns a Fault that serves the recorded SSE body at path (as in
// testdata/openai-streams) event by event, verbatim, paced by pace.
func Replay(path string, pace time.Duration) Fault {
	return Fault{ReplayFile: path, ChunkDelay: pace}
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	tc     *llm.TokenCounter
	ln     net.Listener
	srv    *http.Server
	ctx    context.Context // the base context of every request; ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when Serve returned
	log    *slog.Logger

	mu       sync.Mutex
	faults   []Fault
	requests []Request
	seq      int
	serveErr error
}

// Start starts a server.
func Start(opts Options) (*Server, error) {
	ln := opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("fakeopenai: listen: %w", err)
		}
	}
	s := &Server{opts: opts, tc: llm.NewTokenCounter(), ln: ln, done: make(chan struct{}), log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "",
			fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	})
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.serveErr = err
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// URL returns the base URL, ending in /v1.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/v1" }

// Close stops the server: streams in flight are cut, then it waits for the
// handlers to return (until ctx ends, when connections are closed hard).
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		err = s.serveErr
	}
	if err != nil {
		return fmt.Errorf("fakeopenai: close: %w", err)
	}
	return nil
}

// Enqueue adds a fault for the next request that has none; faults are used
// in order, one per request.
func (s *Server) Enqueue(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Requests returns every chat request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data":   []map[string]any{{"id": DemoModel, "object": "model", "created": 0, "owned_by": "parley"}},
	})
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "", "Request body too large.")
		return
	}
	req, err := DecodeRequest(body)
	var rerr *requestError
	if errors.As(err, &rerr) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", rerr.param, rerr.message)
		return
	}
	req.Authorization = r.Header.Get("Authorization")

	s.mu.Lock()
	s.requests = append(s.requests, req)
	var f Fault
	if len(s.faults) > 0 {
		f = s.faults[0]
		s.faults = s.faults[1:]
	}
	s.seq++
	id := fmt.Sprintf("chatcmpl-parley%06d", s.seq)
	s.mu.Unlock()
	s.log.Debug("fakeopenai: chat request", slog.String("model", req.Model), slog.Int("messages", len(req.Messages)))

	ctx := r.Context()
	if !sleep(ctx, f.HeaderDelay) {
		return
	}
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("x-request-id", "req_"+id)
	if f.Status != 0 {
		s.writeFault(w, req, f)
		return
	}

	if f.ReplayFile != "" {
		events, err := readSSE(f.ReplayFile)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "server_error", "", "", "fakeopenai: "+err.Error())
			return
		}
		f.replayEvents = events
	}

	promptTokens := s.tc.CountPrompt(req.Model, botMessages(req.Messages))
	if s.opts.Window > 0 && promptTokens+req.Limit() > s.opts.Window {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "context_length_exceeded", "messages",
			contextMessage(s.opts.Window, promptTokens, req.Limit()))
		return
	}

	ans := s.answer(req, id, promptTokens)
	if !req.Stream {
		s.writeWhole(w, ans, f)
		return
	}
	events := f.replayEvents
	if events == nil {
		events = ans.events(req.IncludeUsage && !s.opts.OmitUsage)
	}
	pace := s.opts.ChunkDelay
	if f.ChunkDelay > 0 {
		pace = f.ChunkDelay
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flush(w)
	if !sleep(ctx, f.FirstChunkDelay) {
		return
	}
	streamEvents(ctx, w, events, f, pace)
}

// contextMessage is OpenAI's context_length_exceeded message.
func contextMessage(window, prompt, limit int) string {
	if limit > 0 {
		return fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			window, prompt+limit, prompt, limit)
	}
	return fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.",
		window, prompt)
}

// streamEvents writes the data events with the fault's interference.
func streamEvents(ctx context.Context, w http.ResponseWriter, events []string, f Fault, pace time.Duration) {
	n := 0
	for i, data := range events {
		done := data == "[DONE]"
		if done && f.OmitDone {
			return
		}
		if !done {
			n++
		}
		if i > 0 && !sleep(ctx, pace) {
			return
		}
		switch {
		case f.CutAfterChunks > 0 && n > f.CutAfterChunks:
			return
		case f.AbortAfterChunks > 0 && n > f.AbortAfterChunks:
			panic(http.ErrAbortHandler) // the server resets the connection without logging
		case f.StallAfterChunks > 0 && n > f.StallAfterChunks:
			<-ctx.Done()
			return
		case n == f.MalformedChunkAt && !done:
			data = `{"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops`
		case n == f.MidStreamErrorAt && !done:
			writeEvent(w, midStreamError(f))
			return
		}
		writeEvent(w, data)
		if !done {
			for range f.KeepAlivesBetweenChunks {
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
					return
				}
			}
			flush(w)
		}
	}
}

func writeEvent(w http.ResponseWriter, data string) {
	_, _ = io.WriteString(w, "data: "+data+"\n\n")
	flush(w)
}

func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}

// sleep waits for d or until ctx ends; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func midStreamError(f Fault) string {
	msg := firstNonEmpty(f.ErrorMessage, "The server had an error while processing your request. Sorry about that!")
	if f.MidStreamErrorInChunk {
		// OpenRouter: the HTTP status is already 200, so the error rides in
		// a chunk with the upstream status as a numeric code.
		b, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-err", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": "",
			"error":   map[string]any{"code": 502, "message": msg},
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": ""}, "finish_reason": "error"}},
		})
		return string(b)
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, errorBody(firstNonEmpty(f.ErrorType, "server_error"), f.ErrorCode, "", msg))
	return compact.String()
}

// writeFault answers with the fault's HTTP error.
func (s *Server) writeFault(w http.ResponseWriter, req Request, f Fault) {
	if f.RawBody != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.RawBody)
		return
	}
	typ, code, msg := defaultError(f.Status, f.ErrorCode, req.Model)
	writeError(w, f.Status, firstNonEmpty(f.ErrorType, typ), firstNonEmpty(f.ErrorCode, code), "",
		firstNonEmpty(f.ErrorMessage, msg))
}

// defaultError is what OpenAI answers for a status (and code).
func defaultError(status int, code, model string) (typ, defCode, msg string) {
	switch {
	case status == http.StatusTooManyRequests && code == "insufficient_quota":
		return "insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded", fmt.Sprintf("Rate limit reached for %s in organization org-parley on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.", model)
	case status == http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys."
	case status == http.StatusForbidden:
		return "invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"
	case status == http.StatusNotFound:
		return "invalid_request_error", "model_not_found", fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model)
	case status == http.StatusServiceUnavailable:
		return "server_error", "", "The engine is currently overloaded, please try again later."
	case status >= 500:
		return "server_error", "", "The server had an error while processing your request. Sorry about that!"
	default:
		return "invalid_request_error", "", http.StatusText(status)
	}
}

// errorBody is OpenAI's error object, byte for byte: fields in OpenAI's
// order, null param and code when absent, indented by four spaces.
func errorBody(typ, code, param, msg string) []byte {
	type apiError struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	nullable := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	b, _ := json.MarshalIndent(struct {
		Error apiError `json:"error"`
	}{apiError{Message: msg, Type: typ, Param: nullable(param), Code: nullable(code)}}, "", "    ")
	return b
}

func writeError(w http.ResponseWriter, status int, typ, code, param, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b := errorBody(typ, code, param, msg)
	_, _ = w.Write(append(b, '\n'))
}

func botMessages(ms []Message) []bot.ChatMessage {
	out := make([]bot.ChatMessage, len(ms))
	for i, m := range ms {
		out[i] = bot.ChatMessage{Role: m.Role, Name: m.Name, Content: m.Content}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// firstLines trims s to at most n lines, for quoting.
func firstLines(s string, n int) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return lines
}
