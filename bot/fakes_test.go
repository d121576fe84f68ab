package bot_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"
)

// memConversations is an in-memory bot.Conversations for engine tests.
type memConversations struct {
	mu        sync.Mutex
	processed map[string]bool
	users     []storedUser
	replies   map[int64]*bot.ReplyOutcome
	replyKeys map[int64]bot.ThreadKey
	nextID    int64
	tooLong   *bot.TooLongError
	prompts   []bot.PromptOptions
	resets    []bot.ThreadKey
}

type storedUser struct {
	id     int64
	msg    bot.Message
	status bot.Status
}

var _ bot.Conversations = (*memConversations)(nil)

func newMemConversations() *memConversations {
	return &memConversations{processed: map[string]bool{}, replies: map[int64]*bot.ReplyOutcome{}, replyKeys: map[int64]bot.ThreadKey{}}
}

func (c *memConversations) AcceptUserMessage(_ context.Context, m bot.Message, eventID string, s bot.Status, _ time.Time) (int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := string(m.Platform) + "|" + eventID
	if c.processed[k] {
		return 0, false, nil
	}
	c.processed[k] = true
	c.nextID++
	c.users = append(c.users, storedUser{c.nextID, m, s})
	return c.nextID, true, nil
}

func (c *memConversations) EditUserMessage(_ context.Context, key bot.ThreadKey, id, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.users {
		if c.users[i].msg.ID == id && c.users[i].msg.Key() == key {
			c.users[i].msg.Text = text
			return nil
		}
	}
	return fmt.Errorf("no message %s", id)
}

func (c *memConversations) Prompt(_ context.Context, key bot.ThreadKey, o bot.PromptOptions) (bot.Prompt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prompts = append(c.prompts, o)
	if c.tooLong != nil {
		return bot.Prompt{}, c.tooLong
	}
	msgs := []bot.ChatMessage{{Role: bot.RoleSystem, Content: o.SystemPrompt}}
	for _, u := range c.users {
		if o.ReplyTo != 0 && u.id > o.ReplyTo {
			break
		}
		if u.msg.Key() == key && u.status == bot.StatusComplete {
			msgs = append(msgs, bot.ChatMessage{Role: bot.RoleUser, Content: u.msg.Text})
		}
	}
	return bot.Prompt{Messages: msgs, Tokens: 10 * len(msgs), Budget: 1000, MaxOutput: 100}, nil
}

func (c *memConversations) BeginReply(_ context.Context, key bot.ThreadKey, _ int64, _ string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	c.replies[c.nextID] = &bot.ReplyOutcome{Status: bot.StatusStreaming}
	c.replyKeys[c.nextID] = key
	return c.nextID, nil
}

func (c *memConversations) ReplyMessages(_ context.Context, id int64, ids []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies[id].MessageIDs = ids
	return nil
}

func (c *memConversations) ReplyProgress(_ context.Context, id int64, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies[id].Text = text
	return nil
}

func (c *memConversations) FinishReply(_ context.Context, id int64, out bot.ReplyOutcome) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies[id] = &out
	return nil
}

func (c *memConversations) ResetThread(_ context.Context, key bot.ThreadKey) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resets = append(c.resets, key)
	return nil
}

func (c *memConversations) ThreadActive(_ context.Context, key bot.ThreadKey) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, k := range c.replyKeys {
		if k == key && c.replies[id].Status == bot.StatusComplete {
			return true, nil
		}
	}
	return false, nil
}

// outcomes returns the finished replies in the order they were begun.
func (c *memConversations) outcomes() []bot.ReplyOutcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []bot.ReplyOutcome
	for id := int64(1); id <= c.nextID; id++ {
		if r, ok := c.replies[id]; ok {
			out = append(out, *r)
		}
	}
	return out
}

func (c *memConversations) userStatuses() []bot.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []bot.Status
	for _, u := range c.users {
		s = append(s, u.status)
	}
	return s
}

// scriptModel answers each request with a scripted behaviour.
type scriptModel struct {
	mu     sync.Mutex
	calls  []bot.ChatRequest
	answer func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error)
}

func (m *scriptModel) Stream(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
	m.mu.Lock()
	n := len(m.calls)
	m.calls = append(m.calls, req)
	m.mu.Unlock()
	return m.answer(n, req, ctx, delta)
}

func (m *scriptModel) requests() []bot.ChatRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]bot.ChatRequest(nil), m.calls...)
}

// words streams text word by word.
func words(ctx context.Context, text string, delta func(string)) (bot.Completion, error) {
	var sent strings.Builder
	for i, w := range strings.SplitAfter(text, " ") {
		if err := ctx.Err(); err != nil {
			return bot.Completion{Text: sent.String()}, err
		}
		_ = i
		delta(w)
		sent.WriteString(w)
	}
	return bot.Completion{Text: sent.String(), FinishReason: "stop", PromptTokens: 10, CompletionTokens: 5, UsageReported: true}, nil
}

// textRenderer is a bot.Renderer that keeps each reply's text in memory.
type textRenderer struct {
	mu      sync.Mutex
	streams []*textStream
	// closeErr, when set, fails every Close with only the first visible
	// bytes of the text shown (a final edit the platform never took).
	closeErr error
	visible  int
}

type textStream struct {
	mu       sync.Mutex
	status   string
	text     strings.Builder
	closed   bool
	closeErr error
	visible  int
}

func (r *textRenderer) Open(ctx context.Context, out bot.Outbox, thread bot.ThreadKey, posted func([]string)) bot.ReplyStream {
	r.mu.Lock()
	s := &textStream{closeErr: r.closeErr, visible: r.visible}
	r.streams = append(r.streams, s)
	n := len(r.streams)
	r.mu.Unlock()
	if posted != nil {
		posted([]string{fmt.Sprintf("m%d", n)})
	}
	return s
}

func (s *textStream) SetStatus(t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = t
}

func (s *textStream) Append(d string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		panic("append after close")
	}
	s.text.WriteString(d)
}

func (s *textStream) Close(ctx context.Context, notice string) (bot.Rendered, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	t := s.text.String()
	if s.closeErr != nil {
		return bot.Rendered{Text: t[:min(s.visible, len(t))], MessageIDs: []string{"m"}}, s.closeErr
	}
	if notice != "" {
		if t != "" {
			t += "\n"
		}
		t += notice
	}
	return bot.Rendered{Text: t, MessageIDs: []string{"m"}}, nil
}

// nullOutbox satisfies the engine's platform registration.
type nullOutbox struct{}

func (nullOutbox) Post(context.Context, bot.ThreadKey, string) (string, error) { return "1", nil }
func (nullOutbox) Edit(context.Context, bot.ThreadKey, string, string) error   { return nil }
func (nullOutbox) Limits() bot.Limits                                          { return bot.Limits{MaxMessageChars: 4000} }
