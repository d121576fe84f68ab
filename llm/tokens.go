package llm

import (
	"strings"
	"sync"

	"github.com/parley-bot/parley/bot"
	"github.com/tiktoken-go/tokenizer"
)

// TokenCounter counts tokens the way OpenAI bills them, with tiktoken
// encodings: o200k_base for the gpt-4o generation and newer (and for models
// it does not know, since most current models are closer to it),
// cl100k_base for gpt-4 and gpt-3.5. Codecs load lazily, once; a
// TokenCounter is safe for concurrent use.
type TokenCounter struct {
	o200k, cl100k codecOnce
}

type codecOnce struct {
	once  sync.Once
	codec tokenizer.Codec
}

func (c *codecOnce) get(enc tokenizer.Encoding) tokenizer.Codec {
	c.once.Do(func() {
		codec, err := tokenizer.Get(enc)
		if err == nil {
			c.codec = codec
		}
	})
	return c.codec
}

// NewTokenCounter returns a TokenCounter.
func NewTokenCounter() *TokenCounter { return &TokenCounter{} }

// Encoding names the tiktoken encoding used for model.
func (tc *TokenCounter) Encoding(model string) tokenizer.Encoding {
	m := strings.ToLower(model)
	if i := strings.LastIndexByte(m, '/'); i >= 0 { // "openai/gpt-4o" on OpenRouter
		m = m[i+1:]
	}
	m = strings.TrimPrefix(m, "ft:")
	for _, p := range []string{"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4"} {
		if strings.HasPrefix(m, p) {
			return tokenizer.O200kBase
		}
	}
	for _, p := range []string{"gpt-4", "gpt-3.5", "gpt-35", "text-embedding"} {
		if strings.HasPrefix(m, p) {
			return tokenizer.Cl100kBase
		}
	}
	return tokenizer.O200kBase
}

func (tc *TokenCounter) codec(model string) tokenizer.Codec {
	if tc.Encoding(model) == tokenizer.Cl100kBase {
		return tc.cl100k.get(tokenizer.Cl100kBase)
	}
	return tc.o200k.get(tokenizer.O200kBase)
}

// Count returns the number of tokens of text for model. It falls back to
// a rough four-bytes-per-token estimate only if the encoding cannot load.
func (tc *TokenCounter) Count(model, text string) int {
	if text == "" {
		return 0
	}
	if c := tc.codec(model); c != nil {
		if n, err := c.Count(text); err == nil {
			return n
		}
	}
	return (len(text) + 3) / 4
}

// Encode splits text into the model's tokens, as strings. Byte-level tokens
// that split a multi-byte character are joined with their neighbours so every
// piece is valid UTF-8, as OpenAI's streams do.
func (tc *TokenCounter) Encode(model, text string) []string {
	if text == "" {
		return nil
	}
	c := tc.codec(model)
	if c == nil {
		return []string{text}
	}
	_, toks, err := c.Encode(text)
	if err != nil {
		return []string{text}
	}
	// Rebuild pieces from byte offsets rather than trusting token strings,
	// so the pieces always concatenate to exactly text.
	pieces := make([]string, 0, len(toks))
	var pending strings.Builder
	pos := 0
	for _, t := range toks {
		end := min(pos+len(t), len(text))
		pending.WriteString(text[pos:end])
		pos = end
		if s := pending.String(); isUTF8Boundary(text, pos) && s != "" {
			pieces = append(pieces, s)
			pending.Reset()
		}
	}
	if pos < len(text) {
		pending.WriteString(text[pos:])
	}
	if pending.Len() > 0 {
		pieces = append(pieces, pending.String())
	}
	return pieces
}

// isUTF8Boundary reports whether byte offset i of s starts a character.
func isUTF8Boundary(s string, i int) bool {
	return i >= len(s) || s[i]&0xC0 != 0x80
}

// CountPrompt counts the tokens a chat prompt costs, by the OpenAI
// cookbook's formula ("How to count tokens with tiktoken", bot.PromptTokens).
func (tc *TokenCounter) CountPrompt(model string, msgs []bot.ChatMessage) int {
	return bot.PromptTokens(msgs, func(s string) int { return tc.Count(model, s) })
}
