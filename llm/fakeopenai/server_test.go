package fakeopenai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

func post(t *testing.T, s *Server, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

const helloBody = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hi"}]}`

// The copies in testdata must stay identical to the project's shared
// recordings, when those are around (they are not in a standalone checkout).
func TestRecordedStreamsMatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "testdata", "openai-streams")
	names, err := filepath.Glob(filepath.Join(shared, "*.sse"))
	if err != nil || len(names) == 0 {
		t.Skipf("no shared recordings at %s", shared)
	}
	for _, name := range names {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("testdata", "openai-streams", filepath.Base(name)))
		if err != nil {
			t.Fatalf("missing copy: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the shared recording", filepath.Base(name))
		}
	}
}

func TestReplayIsVerbatim(t *testing.T) {
	s := start(t, Options{})
	files, _ := filepath.Glob(filepath.Join("testdata", "openai-streams", "*.sse"))
	if len(files) != 12 {
		t.Fatalf("%d recordings, want 12", len(files))
	}
	for _, f := range files {
		s.Enqueue(Replay(f, 0))
		resp, body := post(t, s, helloBody)
		want, _ := os.ReadFile(f)
		if resp.StatusCode != 200 || body != string(want) {
			t.Errorf("%s: replayed body differs (status %d)", f, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("content type %q", ct)
		}
	}
}

func TestGeneratedStreamShape(t *testing.T) {
	s := start(t, Options{Answer: func(Request) string { return "Hello there, friend." }})
	_, body := post(t, s, helloBody)
	events := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	if len(events) < 5 || events[len(events)-1] != "data: [DONE]" {
		t.Fatalf("events %q", events)
	}
	type chunk struct {
		Object  string `json:"object"`
		Choices []struct {
			Delta struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	var chunks []chunk
	for _, e := range events[:len(events)-1] {
		var c chunk
		if err := json.Unmarshal([]byte(strings.TrimPrefix(e, "data: ")), &c); err != nil {
			t.Fatalf("event %q: %v", e, err)
		}
		chunks = append(chunks, c)
	}
	if chunks[0].Choices[0].Delta.Role != "assistant" {
		t.Error("first chunk must carry the role")
	}
	var text strings.Builder
	for _, c := range chunks[1 : len(chunks)-2] {
		text.WriteString(*c.Choices[0].Delta.Content)
	}
	if text.String() != "Hello there, friend." {
		t.Errorf("content %q", text.String())
	}
	fin := chunks[len(chunks)-2]
	if fin.Choices[0].FinishReason == nil || *fin.Choices[0].FinishReason != "stop" {
		t.Error("finish chunk missing")
	}
	use := chunks[len(chunks)-1]
	// "Say hi": 3 + (1 "user" + 2 "Say hi") + 3 = 9 prompt tokens.
	if len(use.Choices) != 0 || use.Usage == nil || use.Usage.PromptTokens != 9 ||
		use.Usage.CompletionTokens != len(chunks)-3 || use.Usage.TotalTokens != 9+use.Usage.CompletionTokens {
		t.Errorf("usage chunk %+v", use)
	}
	// Without include_usage there is no usage chunk, like OpenAI.
	_, body = post(t, s, `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hi"}]}`)
	if strings.Contains(body, `"usage"`) {
		t.Error("usage sent without include_usage")
	}
}

func TestContextLengthExceededBody(t *testing.T) {
	s := start(t, Options{Window: 10})
	resp, body := post(t, s, `{"model":"gpt-4o","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"Say hi"}]}`)
	want := `{
    "error": {
        "message": "This model's maximum context length is 10 tokens. However, you requested 14 tokens (9 in the messages, 5 in the completion). Please reduce the length of the messages or completion.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded"
    }
}
`
	if resp.StatusCode != 400 || body != want {
		t.Errorf("status %d body:\n%s\nwant:\n%s", resp.StatusCode, body, want)
	}
	s2 := start(t, Options{Window: 8})
	_, body = post(t, s2, helloBody)
	if !strings.Contains(body, "However, your messages resulted in 9 tokens. Please reduce the length of the messages.") {
		t.Errorf("body %s", body)
	}
}

func TestBadRequests(t *testing.T) {
	s := start(t, Options{})
	for body, param := range map[string]string{
		`{`: "",
		`{"messages":[{"role":"user","content":"x"}]}`:                            "model",
		`{"model":"m","messages":[]}`:                                             "messages",
		`{"model":"m","messages":[{"role":"robot","content":"x"}]}`:               "messages[0].role",
		`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`: "max_tokens",
	} {
		resp, got := post(t, s, body)
		var e struct {
			Error struct {
				Type  string  `json:"type"`
				Param *string `json:"param"`
			} `json:"error"`
		}
		if resp.StatusCode != 400 || json.Unmarshal([]byte(got), &e) != nil || e.Error.Type != "invalid_request_error" {
			t.Errorf("%s: status %d body %s", body, resp.StatusCode, got)
			continue
		}
		if (e.Error.Param == nil) != (param == "") || (e.Error.Param != nil && *e.Error.Param != param) {
			t.Errorf("%s: param %v, want %q", body, e.Error.Param, param)
		}
	}
	if got := len(s.Requests()); got != 0 {
		t.Errorf("%d invalid requests recorded", got)
	}
}

func TestNonStreaming(t *testing.T) {
	s := start(t, Options{Answer: func(r Request) string { return "echo: " + r.LastUserMessage() }})
	_, body := post(t, s, `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Say hi"}]}]}`)
	var resp struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Object != "chat.completion" || resp.Choices[0].Message.Content != "echo: Say hi" {
		t.Errorf("body %s", body)
	}
}

func TestDemoAnswer(t *testing.T) {
	req := Request{Model: DemoModel, Messages: []Message{
		{Role: "system", Content: "be nice"},
		{Role: "user", Content: "first"},
		{Role: "assistant", Content: "ok"},
		{Role: "user", Content: "How do I deploy Parley?"},
	}}
	a := DemoAnswer(req)
	for _, want := range []string{"Parley demo model", "> How do I deploy Parley?", "```text\n", "messages: 4 (3 turns)", "**"} {
		if !strings.Contains(a, want) {
			t.Errorf("demo answer lacks %q:\n%s", want, a)
		}
	}
	if DemoAnswer(req) != a {
		t.Error("demo answer is not deterministic")
	}
	if a := DemoAnswer(Request{Model: DemoModel}); !strings.Contains(a, "could not find a message") {
		t.Errorf("answer without a user message:\n%s", a)
	}
}

func TestCloseEndsStalledStreams(t *testing.T) {
	s, err := Start(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(Fault{StallAfterChunks: 1})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(helloBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	if _, err := io.ReadFull(resp.Body, buf); err != nil { // the role chunk has arrived: the handler stalls now
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("body after close: %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(helloBody))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"}]}],"n":3}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":null}],"max_completion_tokens":9}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}]} trailing`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body)
		if err != nil {
			var rerr *requestError
			if !errors.As(err, &rerr) || rerr.message == "" {
				t.Fatalf("error %v is not an OpenAI-style request error", err)
			}
			return
		}
		if req.Model == "" || len(req.Messages) == 0 || req.MaxTokens < 0 || req.MaxCompletionTokens < 0 ||
			(req.MaxTokens > 0 && req.MaxCompletionTokens > 0) || req.N < 0 || req.N > 128 {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
		for _, m := range req.Messages {
			if !validRoles[m.Role] {
				t.Fatalf("accepted role %q", m.Role)
			}
		}
		_ = DemoAnswer(req) // must not panic on anything accepted
	})
}
