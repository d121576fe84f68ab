package conversation

import (
	"sync"

	"github.com/parley-bot/parley/bot"
	"github.com/tiktoken-go/tokenizer"
)

// encoding indexes the codecs a Store keeps.
type encoding int

const (
	encO200k encoding = iota
	encCl100k
	numEncodings
)

func (e encoding) String() string {
	if e == encCl100k {
		return EncodingCl100k
	}
	return EncodingO200k
}

func parseEncoding(name string) (encoding, bool) {
	switch name {
	case EncodingO200k:
		return encO200k, true
	case EncodingCl100k:
		return encCl100k, true
	}
	return encO200k, false
}

// codecs builds each tokenizer once, on first use: building o200k_base takes
// tens of milliseconds and a few MB, and most deployments use one encoding.
// The tokenizer's codecs are read-only after construction and safe for
// concurrent use.
type codecs struct {
	once [numEncodings]sync.Once
	c    [numEncodings]tokenizer.Codec
	role [numEncodings][2]int // tokens of "user" and "assistant"
	sys  [numEncodings]int    // tokens of "system"
}

func (cs *codecs) get(e encoding) tokenizer.Codec {
	cs.once[e].Do(func() {
		enc := tokenizer.O200kBase
		if e == encCl100k {
			enc = tokenizer.Cl100kBase
		}
		c, err := tokenizer.Get(enc)
		if err != nil {
			// Both encodings are compiled into the tokenizer module; failing
			// here means a broken build, not a runtime condition.
			panic("conversation: tokenizer " + string(enc) + ": " + err.Error())
		}
		cs.c[e] = c
		cs.role[e][0] = rawCount(c, bot.RoleUser)
		cs.role[e][1] = rawCount(c, bot.RoleAssistant)
		cs.sys[e] = rawCount(c, bot.RoleSystem)
	})
	return cs.c[e]
}

// count returns the tokens of text. The codec fails only in strict UTF-8
// mode, which is not used; the byte length is a safe over-estimate should it
// ever fail.
func (cs *codecs) count(e encoding, text string) int {
	if text == "" {
		return 0
	}
	return rawCount(cs.get(e), text)
}

func rawCount(c tokenizer.Codec, text string) int {
	n, err := c.Count(text)
	if err != nil {
		return len(text)
	}
	return n
}

// roleTokens returns the tokens of a chat role.
func (cs *codecs) roleTokens(e encoding, role string) int {
	cs.get(e)
	switch role {
	case bot.RoleUser:
		return cs.role[e][0]
	case bot.RoleAssistant:
		return cs.role[e][1]
	case bot.RoleSystem:
		return cs.sys[e]
	}
	return cs.count(e, role)
}

// chatCost counts a whole request, reply priming included.
func (cs *codecs) chatCost(e encoding, msgs []bot.ChatMessage) int {
	return bot.PromptTokens(msgs, func(s string) int { return cs.count(e, s) })
}

// CountTokens returns the number of tokens text has in model's encoding.
func (s *Store) CountTokens(model, text string) int {
	return s.codecs.count(s.encodingOf(model), text)
}

// CountMessages returns the prompt tokens a chat request costs with model's
// tokenizer: every message costs 3 + tokens(role) + tokens(content), plus
// tokens(name) + 1 when it has a name, and the request adds 3 for priming
// the reply.
func (s *Store) CountMessages(model string, msgs []bot.ChatMessage) int {
	return s.codecs.chatCost(s.encodingOf(model), msgs)
}

func (s *Store) encodingOf(model string) encoding {
	e, _ := parseEncoding(s.model(model).Encoding)
	return e
}

// messageCostNamed is what one message adds to a request, its content's
// and name's tokens already counted (0 for no name).
func (cs *codecs) messageCostNamed(e encoding, role string, contentTokens, nameTokens int) int {
	return bot.MessageTokens(cs.roleTokens(e, role), contentTokens, nameTokens)
}
