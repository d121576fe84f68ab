package fakeopenai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Message is one chat message of a Request.
type Message struct {
	Role    string
	Name    string
	Content string // text parts of a multi-part content joined with newlines
}

// Request is a decoded chat-completions request, as the server received it.
type Request struct {
	Model               string
	Messages            []Message
	MaxTokens           int // max_tokens
	MaxCompletionTokens int // max_completion_tokens
	Stream              bool
	IncludeUsage        bool // stream_options.include_usage
	N                   int  // 0 when absent
	Authorization       string
}

// Limit is the completion token limit the request asked for, 0 for none.
func (r Request) Limit() int {
	if r.MaxCompletionTokens > 0 {
		return r.MaxCompletionTokens
	}
	return r.MaxTokens
}

// LastUserMessage returns the content of the last user message, or "".
func (r Request) LastUserMessage() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// requestError is a 400 the server answers with OpenAI's error body.
type requestError struct {
	param, message string
}

func (e *requestError) Error() string { return e.message }

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// DecodeRequest decodes and checks a chat-completions request body the way
// the OpenAI API does, with OpenAI's messages for what it rejects.
func DecodeRequest(body []byte) (Request, error) {
	var wire struct {
		Model    *string `json:"model"`
		Messages *[]struct {
			Role    string          `json:"role"`
			Name    string          `json:"name"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		MaxTokens           *int `json:"max_tokens"`
		MaxCompletionTokens *int `json:"max_completion_tokens"`
		Stream              bool `json:"stream"`
		N                   *int `json:"n"`
		StreamOptions       *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wire); err != nil {
		return Request{}, &requestError{message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"}
	}
	if dec.More() {
		return Request{}, &requestError{message: "We could not parse the JSON body of your request: trailing data after the JSON object."}
	}
	if wire.Model == nil || *wire.Model == "" {
		return Request{}, &requestError{param: "model", message: "you must provide a model parameter"}
	}
	if wire.Messages == nil {
		return Request{}, &requestError{param: "messages", message: "Missing required parameter: 'messages'."}
	}
	if len(*wire.Messages) == 0 {
		return Request{}, &requestError{param: "messages", message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."}
	}
	req := Request{Model: *wire.Model, Stream: wire.Stream}
	for i, m := range *wire.Messages {
		if !validRoles[m.Role] {
			return Request{}, &requestError{param: fmt.Sprintf("messages[%d].role", i),
				message: fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", m.Role)}
		}
		content, err := decodeContent(m.Content)
		if err != nil {
			return Request{}, &requestError{param: fmt.Sprintf("messages[%d].content", i),
				message: fmt.Sprintf("Invalid type for 'messages[%d].content': %v", i, err)}
		}
		req.Messages = append(req.Messages, Message{Role: m.Role, Name: m.Name, Content: content})
	}
	if wire.MaxTokens != nil {
		if *wire.MaxTokens < 1 {
			return Request{}, &requestError{param: "max_tokens", message: fmt.Sprintf("Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *wire.MaxTokens)}
		}
		req.MaxTokens = *wire.MaxTokens
	}
	if wire.MaxCompletionTokens != nil {
		if *wire.MaxCompletionTokens < 1 {
			return Request{}, &requestError{param: "max_completion_tokens", message: fmt.Sprintf("Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *wire.MaxCompletionTokens)}
		}
		req.MaxCompletionTokens = *wire.MaxCompletionTokens
	}
	if req.MaxTokens > 0 && req.MaxCompletionTokens > 0 {
		return Request{}, &requestError{param: "max_tokens", message: "max_tokens and max_completion_tokens cannot both be set."}
	}
	if wire.N != nil {
		if *wire.N < 1 || *wire.N > 128 {
			return Request{}, &requestError{param: "n", message: fmt.Sprintf("Invalid 'n': expected a value between 1 and 128, but got %d instead.", *wire.N)}
		}
		req.N = *wire.N
	}
	if wire.StreamOptions != nil {
		if !wire.Stream {
			return Request{}, &requestError{param: "stream_options", message: "The 'stream_options' parameter is only allowed when 'stream' is enabled."}
		}
		req.IncludeUsage = wire.StreamOptions.IncludeUsage
	}
	return req, nil
}

// decodeContent reads a message content: a string, null, or an array of
// parts of which the text ones are kept.
func decodeContent(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("expected a string or an array of content parts")
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n"), nil
}
