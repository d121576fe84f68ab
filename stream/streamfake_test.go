package stream

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/parley-bot/parley/bot"
)

// streamOutbox adds the Streamer ability to fakeOutbox, like Slack:
// starts spend the post budget, appends and stops the edit budget (and
// MinEditInterval per message), text only grows while a message streams,
// and a streaming message cannot be edited. The hook sees the ops
// "start", "append" and "stop".
type streamOutbox struct {
	*fakeOutbox
	recipients []bot.Recipient // of each start
}

var _ bot.Streamer = (*streamOutbox)(nil)

func newStreamFake(l bot.Limits) *streamOutbox { return &streamOutbox{fakeOutbox: newFake(l)} }

// CanStream refuses threads named "nostream" (a DM without a thread).
func (f *streamOutbox) CanStream(th bot.ThreadKey) bool { return th.Thread != "nostream" }

func (f *streamOutbox) StartStream(ctx context.Context, thread bot.ThreadKey, rcpt bot.Recipient, text string) (string, error) {
	if err := f.admitAs(ctx, "start", "post", thread, text, f.limits.Post); err != nil {
		return "", err
	}
	now := time.Now()
	f.mu.Lock()
	id := fmt.Sprintf("m%d", len(f.order)+1)
	f.msgs[id] = &fakeMsg{thread: thread, streaming: true, lastWrite: now, history: []fakeVersion{{at: now, text: text}}}
	f.order = append(f.order, id)
	f.calls = append(f.calls, fakeCall{at: now, op: "start", thread: thread})
	f.recipients = append(f.recipients, rcpt)
	f.mu.Unlock()
	return id, f.respond(ctx)
}

func (f *streamOutbox) AppendStream(ctx context.Context, thread bot.ThreadKey, id, delta string) error {
	if delta == "" {
		f.mu.Lock()
		f.violation = append(f.violation, "append: empty delta")
		f.mu.Unlock()
		return fmt.Errorf("append %s: no_text", id)
	}
	return f.grow(ctx, "append", thread, id, delta, true)
}

func (f *streamOutbox) StopStream(ctx context.Context, thread bot.ThreadKey, id, delta string) error {
	return f.grow(ctx, "stop", thread, id, delta, false)
}

func (f *streamOutbox) grow(ctx context.Context, op string, thread bot.ThreadKey, id, delta string, streaming bool) error {
	now := time.Now()
	f.mu.Lock()
	m := f.msgs[id]
	if m == nil || m.thread != thread || !m.streaming {
		f.violation = append(f.violation, op+": not a streaming message")
		f.mu.Unlock()
		return fmt.Errorf("%s %s: message_not_in_streaming_state", op, id)
	}
	if f.limits.MinEditInterval > 0 && now.Sub(m.lastWrite) < f.limits.MinEditInterval {
		f.rejected++
		f.calls = append(f.calls, fakeCall{at: now, op: op, thread: thread})
		retry := m.lastWrite.Add(f.limits.MinEditInterval).Sub(now)
		f.mu.Unlock()
		return &bot.RateLimitedError{Op: op, RetryAfter: retry}
	}
	text := m.history[len(m.history)-1].text + delta
	f.mu.Unlock()
	if err := f.admitAs(ctx, op, "edit", thread, text, f.limits.Edit); err != nil {
		return err
	}
	now = time.Now()
	f.mu.Lock()
	m.lastWrite, m.streaming = now, streaming
	m.history = append(m.history, fakeVersion{at: now, text: text})
	f.calls = append(f.calls, fakeCall{at: now, op: op, thread: thread})
	f.mu.Unlock()
	return f.respond(ctx)
}

// ops counts the successful requests of each op.
func (f *fakeOutbox) ops() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := make(map[string]int)
	for _, c := range f.calls {
		if c.err == nil {
			n[c.op]++
		}
	}
	return n
}

// streaming reports whether any message is still streaming.
func (f *fakeOutbox) anyStreaming() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.streaming {
			return true
		}
	}
	return false
}

func runes(s string) int { return utf8.RuneCountInString(s) }
