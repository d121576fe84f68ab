package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parley-bot/parley/bot"
)

// fakeOutbox is a recording platform that enforces its declared budgets
// the way a platform does: a request over budget is refused with a
// *bot.RateLimitedError and counted, as is an edit sooner than
// MinEditInterval or a text longer than MaxMessageChars.
type fakeOutbox struct {
	limits  bot.Limits
	latency time.Duration // time a request takes after the platform applied it
	// hook, when set, may fail a request before the platform sees it
	// (n counts the requests of that op, from 1).
	hook func(ctx context.Context, op string, n int, thread bot.ThreadKey) error

	mu        sync.Mutex
	buckets   map[string]*fakeBucket
	msgs      map[string]*fakeMsg
	order     []string
	calls     []fakeCall
	n         map[string]int
	rejected  int
	violation []string // requests no platform would accept
}

type fakeMsg struct {
	thread    bot.ThreadKey
	streaming bool // started by StartStream and not stopped yet
	lastWrite time.Time
	history   []fakeVersion
}

type fakeVersion struct {
	at   time.Time
	text string
}

type fakeCall struct {
	at     time.Time
	op     string
	thread bot.ThreadKey
	err    error
}

// fakeBucket is a classic token bucket (a count and a refill clock),
// written independently of the renderer's scheduler.
type fakeBucket struct {
	budget bot.Budget
	tokens int
	last   time.Time
}

func (b *fakeBucket) take(now time.Time) (bool, time.Duration) {
	if b.budget.Unlimited() {
		return true, 0
	}
	burst := max(b.budget.Burst, 1)
	if n := int(now.Sub(b.last) / b.budget.Every); n > 0 {
		b.tokens = min(burst, b.tokens+n)
		b.last = b.last.Add(time.Duration(n) * b.budget.Every)
	}
	if b.tokens == burst {
		b.last = now // a full bucket does not bank refill time
	}
	if b.tokens == 0 {
		return false, b.last.Add(b.budget.Every).Sub(now)
	}
	b.tokens--
	return true, 0
}

func newFake(l bot.Limits) *fakeOutbox {
	return &fakeOutbox{
		limits:  l,
		buckets: make(map[string]*fakeBucket),
		msgs:    make(map[string]*fakeMsg),
		n:       make(map[string]int),
	}
}

func (f *fakeOutbox) Limits() bot.Limits { return f.limits }

// admit runs the hook and the platform's checks; it applies nothing.
func (f *fakeOutbox) admit(ctx context.Context, op string, thread bot.ThreadKey, text string, bud bot.Budget) error {
	return f.admitAs(ctx, op, op, thread, text, bud)
}

// admitAs is admit for a request that spends the bucket of budgetOp.
func (f *fakeOutbox) admitAs(ctx context.Context, op, budgetOp string, thread bot.ThreadKey, text string, bud bot.Budget) error {
	f.mu.Lock()
	f.n[op]++
	n := f.n[op]
	f.mu.Unlock()
	if f.hook != nil {
		if err := f.hook(ctx, op, n, thread); err != nil {
			f.record(op, thread, err)
			return err
		}
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if blank(text) {
		f.violation = append(f.violation, op+": empty text")
		return errors.New("no_text")
	}
	if l := utf8.RuneCountInString(text); f.limits.MaxMessageChars > 0 && l > f.limits.MaxMessageChars {
		f.violation = append(f.violation, fmt.Sprintf("%s: %d runes > %d", op, l, f.limits.MaxMessageChars))
		return errors.New("msg_too_long")
	}
	key := budgetOp + ":" + bud.Scope.Key(thread)
	b := f.buckets[key]
	if b == nil {
		b = &fakeBucket{budget: bud, tokens: max(bud.Burst, 1), last: now}
		f.buckets[key] = b
	}
	if ok, retry := b.take(now); !ok {
		f.rejected++
		err := &bot.RateLimitedError{Op: op, RetryAfter: retry}
		f.calls = append(f.calls, fakeCall{at: now, op: op, thread: thread, err: err})
		return err
	}
	return nil
}

func (f *fakeOutbox) record(op string, thread bot.ThreadKey, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{at: time.Now(), op: op, thread: thread, err: err})
}

func (f *fakeOutbox) respond(ctx context.Context) error {
	if f.latency <= 0 {
		return nil
	}
	t := time.NewTimer(f.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeOutbox) Post(ctx context.Context, thread bot.ThreadKey, text string) (string, error) {
	if err := f.admit(ctx, "post", thread, text, f.limits.Post); err != nil {
		return "", err
	}
	now := time.Now()
	f.mu.Lock()
	id := fmt.Sprintf("m%d", len(f.order)+1)
	f.msgs[id] = &fakeMsg{thread: thread, lastWrite: now, history: []fakeVersion{{at: now, text: text}}}
	f.order = append(f.order, id)
	f.calls = append(f.calls, fakeCall{at: now, op: "post", thread: thread})
	f.mu.Unlock()
	return id, f.respond(ctx)
}

func (f *fakeOutbox) Edit(ctx context.Context, thread bot.ThreadKey, id, text string) error {
	now := time.Now()
	f.mu.Lock()
	m := f.msgs[id]
	if m == nil || m.thread != thread {
		f.mu.Unlock()
		return fmt.Errorf("edit %s: unknown message", id)
	}
	if m.streaming {
		f.violation = append(f.violation, "edit of a message that is still streaming")
		f.mu.Unlock()
		return fmt.Errorf("edit %s: message is streaming", id)
	}
	if f.limits.MinEditInterval > 0 && now.Sub(m.lastWrite) < f.limits.MinEditInterval {
		f.rejected++
		f.calls = append(f.calls, fakeCall{at: now, op: "edit", thread: thread})
		retry := m.lastWrite.Add(f.limits.MinEditInterval).Sub(now)
		f.mu.Unlock()
		return &bot.RateLimitedError{Op: "edit", RetryAfter: retry}
	}
	f.mu.Unlock()
	if err := f.admit(ctx, "edit", thread, text, f.limits.Edit); err != nil {
		return err
	}
	now = time.Now()
	f.mu.Lock()
	m.lastWrite = now
	m.history = append(m.history, fakeVersion{at: now, text: text})
	f.calls = append(f.calls, fakeCall{at: now, op: "edit", thread: thread})
	f.mu.Unlock()
	return f.respond(ctx)
}

// texts returns the current text of the messages of thread, in order.
func (f *fakeOutbox) texts(thread bot.ThreadKey) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, id := range f.order {
		if m := f.msgs[id]; m.thread == thread {
			out = append(out, m.history[len(m.history)-1].text)
		}
	}
	return out
}

// history returns the versions of one message.
func (f *fakeOutbox) history(id string) []fakeVersion {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.msgs[id]; m != nil {
		return append([]fakeVersion(nil), m.history...)
	}
	return nil
}

// shownAt returns when the thread's messages first all showed want.
func (f *fakeOutbox) shownAt(thread bot.ThreadKey, want []string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, id := range f.order {
		if f.msgs[id].thread == thread {
			ids = append(ids, id)
		}
	}
	if len(ids) != len(want) {
		return time.Time{}, false
	}
	var at time.Time
	for i, id := range ids {
		found := false
		for _, v := range f.msgs[id].history {
			if v.text == want[i] {
				if v.at.After(at) {
					at = v.at
				}
				found = true
				break
			}
		}
		if !found {
			return time.Time{}, false
		}
	}
	return at, true
}

func (f *fakeOutbox) stats() (rejected int, violations []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected, append([]string(nil), f.violation...)
}

func (f *fakeOutbox) callsSnapshot() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// typingOutbox adds the Typer ability.
type typingOutbox struct {
	*fakeOutbox
	tmu   sync.Mutex
	typed []time.Time
}

func (t *typingOutbox) Typing(ctx context.Context, thread bot.ThreadKey) error {
	t.tmu.Lock()
	defer t.tmu.Unlock()
	t.typed = append(t.typed, time.Now())
	return nil
}

// model streams text into a reply in chunks, one every gap.
func model(rs bot.ReplyStream, text string, chunk int, gap time.Duration) {
	for len(text) > 0 {
		time.Sleep(gap)
		n := min(chunk, len(text))
		for n < len(text) && !utf8.RuneStart(text[n]) {
			n++
		}
		rs.Append(text[:n])
		text = text[n:]
	}
}

// words returns n runes of deterministic prose with paragraphs.
func words(seed, n int) string {
	var b strings.Builder
	vocab := []string{"budget", "edit", "reply", "token", "stream", "the", "a", "fair", "bucket", "Slack", "Discord", "näive", "final", "text"}
	for i := 0; utf8.RuneCountInString(b.String()) < n; i++ {
		w := vocab[(i*7+seed*13+i*i)%len(vocab)]
		b.WriteString(w)
		switch {
		case i%23 == 22:
			b.WriteString(".\n\n")
		case i%9 == 8:
			b.WriteString(",\n")
		default:
			b.WriteString(" ")
		}
	}
	r := []rune(b.String())[:n]
	r[n-1] = '.'
	return string(r)
}
