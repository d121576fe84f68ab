package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"
)

// Options configure a Renderer.
type Options struct {
	// Placeholder is shown until the first token (default "…");
	// ReplyStream.SetStatus replaces it.
	Placeholder string
	Logger      *slog.Logger
	// OnEdit, when not nil, is called after each edit that went out, with
	// how long it waited for budget (a metrics hook; it must not block).
	OnEdit func(platform bot.Platform, wait time.Duration)
}

// DefaultPlaceholder is shown in a reply's message until its first token.
const DefaultPlaceholder = "…"

// NoAnswer is the final text of a reply that got no text and no notice:
// a reply always ends as a finished message, never as a placeholder.
const NoAnswer = "(no answer)"

// ErrClosed is returned for replies opened after Renderer.Close.
var ErrClosed = errors.New("stream: renderer closed")

// Renderer implements bot.Renderer: it shows each reply by posting a
// placeholder and editing it as the text grows, sharing each platform
// budget fairly among the replies that use it. It is safe for concurrent
// use.
type Renderer struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	buckets   map[bucketKey]*bucket
	platforms map[bot.Platform]*platformState
	replies   map[*reply]struct{}
	seq       uint64
	lastSweep time.Time
	closed    bool
	// noStream holds the budget keys (Scope.Key) where the platform
	// refused streaming, until when replies there go straight to edits.
	noStream map[string]time.Time

	wg sync.WaitGroup // reply and typing goroutines
}

var _ bot.Renderer = (*Renderer)(nil)

// NewRenderer returns a Renderer; Close it to wait for its replies.
func NewRenderer(opts Options) *Renderer {
	if opts.Placeholder == "" {
		opts.Placeholder = DefaultPlaceholder
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Renderer{
		opts:      opts,
		log:       log.With("component", "stream"),
		buckets:   make(map[bucketKey]*bucket),
		platforms: make(map[bot.Platform]*platformState),
		replies:   make(map[*reply]struct{}),
		noStream:  make(map[string]time.Time),
	}
}

// Open starts a reply in thread and posts its placeholder at once (in the
// background: Open never blocks); a streaming reply starts its stream at
// the first text instead, with the recipient bot.RecipientFrom(ctx). ctx supplies values only: a reply keeps
// going after ctx is cancelled so that Close can still show the
// interruption notice; it stops when Close returns or the Renderer closes.
func (r *Renderer) Open(ctx context.Context, out bot.Outbox, thread bot.ThreadKey, posted func(messageIDs []string)) bot.ReplyStream {
	lim := out.Limits()
	typer, _ := out.(bot.Typer)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &reply{
		r:       r,
		out:     out,
		typer:   typer,
		thread:  thread,
		limits:  lim,
		posted:  posted,
		ctx:     rctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		visible: make(chan struct{}),
		w:       waiter{signal: make(chan struct{}, 1)},
		log:     r.log.With("thread", thread.String()),
	}

	// Resolved before taking the lock: an adapter may look the key up.
	editKey := bot.BudgetKey(out, lim.Edit.Scope, thread)
	postKey := bot.BudgetKey(out, lim.Post.Scope, thread)
	now := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		s.err = fmt.Errorf("open reply in %s: %w", thread, ErrClosed)
		close(s.done)
		return s
	}
	r.sweep(now)
	if st, ok := out.(bot.Streamer); ok && st.CanStream(thread) && r.streamAllowedLocked(thread, now) {
		s.streamer, s.streaming = st, true
		s.recipient = bot.RecipientFrom(ctx)
	}
	s.editB = r.bucketFor(opEdit, lim.Edit, editKey, thread.Platform, now)
	s.editB.borrow = max(0, lim.FirstTextBorrow)
	s.postB = r.bucketFor(opPost, lim.Post, postKey, thread.Platform, now)
	s.editB.active++
	r.replies[s] = struct{}{}
	r.wg.Add(1)
	if typer != nil {
		r.wg.Add(1)
	}
	r.mu.Unlock()

	if typer != nil {
		go s.typing()
	}
	go s.run()
	return s
}

// Close waits for every open reply to finish (each must be Closed). When
// ctx ends first, the replies still open are abandoned where they are and
// Close returns ctx's error once their goroutines have stopped. Replies
// opened after Close fail with ErrClosed.
func (r *Renderer) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()

	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	r.mu.Lock()
	n := len(r.replies)
	for s := range r.replies {
		s.cancel()
	}
	r.mu.Unlock()
	<-done // cancelled replies return promptly
	return fmt.Errorf("close renderer: %d replies abandoned: %w", n, ctx.Err())
}

// release is called by a reply's goroutine when it ends.
func (r *Renderer) release(s *reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.replies, s)
	s.editB.active--
	// A smaller reserve may let intermediate edits go now.
	s.editB.dispatch(time.Now())
	s.editB.nudge()
}

// pause records a rate limit from the platform: the request's bucket, or
// with global every bucket of the platform, waits until after.
func (r *Renderer) pause(b *bucket, rl *bot.RateLimitedError) {
	until := time.Now().Add(rl.RetryAfter)
	r.mu.Lock()
	defer r.mu.Unlock()
	if rl.Global {
		if until.After(b.platform.pausedUntil) {
			b.platform.pausedUntil = until
		}
		for _, o := range r.buckets {
			if o.platform == b.platform && !o.budget.Unlimited() {
				// Restart with one token, as pause does.
				if o.base.Before(until.Add(-o.budget.Every)) {
					o.base = until.Add(-o.budget.Every)
				}
			}
		}
		return
	}
	b.pause(until)
}
