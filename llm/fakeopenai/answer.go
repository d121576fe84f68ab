package fakeopenai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// generated is one answer, split into token-sized pieces.
type generated struct {
	id, model        string
	created          int64
	pieces           []string
	finish           string
	prompt, complete int
}

// answer produces the answer for req: the Answer option's or DemoAnswer's
// text, split into tokens and cut at the request's token limit.
func (s *Server) answer(req Request, id string, promptTokens int) generated {
	text := ""
	if s.opts.Answer != nil {
		text = s.opts.Answer(req)
	} else {
		text = DemoAnswer(req)
	}
	pieces := s.tc.Encode(req.Model, text)
	finish := "stop"
	if limit := req.Limit(); limit > 0 && len(pieces) > limit {
		pieces, finish = pieces[:limit], "length"
	}
	return generated{
		id: id, model: req.Model, created: time.Now().Unix(),
		pieces: pieces, finish: finish,
		prompt: promptTokens, complete: s.tc.Count(req.Model, strings.Join(pieces, "")),
	}
}

// chunkJSON is a chat.completion.chunk, fields in OpenAI's order.
type chunkJSON struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *usageJSON    `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int            `json:"index"`
	Delta        map[string]any `json:"delta"`
	Logprobs     any            `json:"logprobs"`
	FinishReason *string        `json:"finish_reason"`
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// events renders the stream as OpenAI does: a role chunk, one chunk per
// token, a finish_reason chunk, the usage chunk with empty choices when
// asked for, and [DONE].
func (g generated) events(includeUsage bool) []string {
	mk := func(choices []chunkChoice, usage *usageJSON) string {
		b, _ := json.Marshal(chunkJSON{ID: g.id, Object: "chat.completion.chunk", Created: g.created,
			Model: g.model, SystemFingerprint: "fp_parley", Choices: choices, Usage: usage})
		return string(b)
	}
	evs := []string{mk([]chunkChoice{{Delta: map[string]any{"role": "assistant", "content": "", "refusal": nil}}}, nil)}
	for _, p := range g.pieces {
		evs = append(evs, mk([]chunkChoice{{Delta: map[string]any{"content": p}}}, nil))
	}
	finish := g.finish
	evs = append(evs, mk([]chunkChoice{{Delta: map[string]any{}, FinishReason: &finish}}, nil))
	if includeUsage {
		evs = append(evs, mk([]chunkChoice{}, &usageJSON{g.prompt, g.complete, g.prompt + g.complete}))
	}
	return append(evs, "[DONE]")
}

// writeWhole answers a request with "stream": false.
func (s *Server) writeWhole(w http.ResponseWriter, g generated, f Fault) {
	text := strings.Join(g.pieces, "")
	if f.replayEvents != nil {
		text = replayText(f.replayEvents)
	}
	body := map[string]any{
		"id": g.id, "object": "chat.completion", "created": g.created, "model": g.model,
		"system_fingerprint": "fp_parley",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": text, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": g.finish,
		}},
		"usage": usageJSON{g.prompt, g.complete, g.prompt + g.complete},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// replayText is the choice-0 content of recorded events.
func replayText(events []string) string {
	var b strings.Builder
	for _, e := range events {
		var c struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(e), &c) == nil {
			for _, ch := range c.Choices {
				if ch.Index == 0 {
					b.WriteString(ch.Delta.Content)
				}
			}
		}
	}
	return b.String()
}

// readSSE reads the data payloads of a recorded SSE body.
func readSSE(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read recorded stream: %w", err)
	}
	var events []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, data)
		} else if strings.TrimSpace(line) != "" {
			return nil, fmt.Errorf("recorded stream %s: unexpected line %q", path, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recorded stream %s: %w", path, err)
	}
	return events, nil
}

// DemoAnswer is the deterministic answer of the Parley demo model: it says
// what it is, quotes the user's last message and shows a little markdown,
// including a short code block, so every renderer path gets exercised.
func DemoAnswer(req Request) string {
	var b strings.Builder
	b.WriteString("Hello! I'm the **Parley demo model**, a stand-in that runs inside Parley itself. ")
	b.WriteString("No real AI model is configured yet, so my answers are canned.\n\n")
	last := strings.TrimSpace(req.LastUserMessage())
	if last == "" {
		b.WriteString("I could not find a message from you to answer.\n\n")
	} else {
		b.WriteString("You wrote:\n\n")
		// Fences in the quote would swallow the rest of the answer.
		quoted := strings.ReplaceAll(truncateRunes(last, 280), "```", "'''")
		for _, l := range firstLines(quoted, 6) {
			b.WriteString("> " + l + "\n")
		}
		fmt.Fprintf(&b, "\nThat is %d words and %d characters. ", len(strings.Fields(last)), utf8.RuneCountInString(last))
		b.WriteString("A real model would answer it; I can only describe it.\n\n")
	}
	turns := 0
	for _, m := range req.Messages {
		if m.Role == "user" || m.Role == "assistant" {
			turns++
		}
	}
	b.WriteString("Here is what this conversation looks like to me:\n\n")
	b.WriteString("```text\n")
	fmt.Fprintf(&b, "model:    %s\n", req.Model)
	fmt.Fprintf(&b, "messages: %d (%d turns)\n", len(req.Messages), turns)
	b.WriteString("```\n\n")
	b.WriteString("To talk to a real model, configure an API key and base URL for an OpenAI-compatible server.")
	return b.String()
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
