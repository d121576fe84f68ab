package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/parley-bot/parley/bot"
)

// Retry policy for Post and Edit errors other than rate limits.
const (
	maxRetries   = 3                      // retries after the first failure, then give up
	retryBackoff = 500 * time.Millisecond // first backoff, doubled per retry, ±50% jitter
	typingEvery  = 8 * time.Second        // Discord's typing indicator lasts 10 s
)

// reply is one ReplyStream. The model side (Append, SetStatus, Close)
// only updates the fields under mu and wakes the goroutine (run), which
// owns all the platform state and does every request.
type reply struct {
	r      *Renderer
	out    bot.Outbox
	typer  bot.Typer
	thread bot.ThreadKey
	limits bot.Limits
	posted func([]string)
	log    *slog.Logger

	ctx    context.Context // ended by Close's ctx or Renderer.Close's
	cancel context.CancelFunc

	editB, postB *bucket
	w            waiter // reused for every request

	wake    chan struct{} // cap 1: the model side changed something
	done    chan struct{} // closed when run has ended and result/err are set
	visible chan struct{} // closed when the first text is visible (stops typing)

	mu     sync.Mutex
	text   strings.Builder
	status string
	closed bool
	notice string

	// Owned by run until done is closed, then read by Close.
	result bot.Rendered
	err    error

	// Owned by run.
	ids       []string
	shown     string    // text of the current (last) message as the platform has it
	isText    bool      // shown is reply text, not the placeholder
	textShown bool      // some reply text has been shown: no more first text
	start     int       // byte offset in the display text where the current message begins
	carry     string    // reopened code fence the current message starts with
	visEnd    int       // display text visible on the platform: display[:visEnd]
	lastWrite time.Time // last post or edit of the current message
	timer     *time.Timer

	// Streaming (see streaming.go), owned by run.
	streamer   bot.Streamer  // nil: post and edit
	recipient  bot.Recipient // who the reply answers
	streaming  bool          // this reply streams (until it falls back)
	streamID   string        // the open stream of the current message
	stopped    bool          // the current message's stream is stopped: it is final
	doneEnd    int           // display offset where the stopped message ends
	doneReopen string        // fence line the next message starts with
	doneClosed bool          // the stopped message was laid out after Close
}

// SetStatus sets the text shown until the first token.
func (s *reply) SetStatus(text string) {
	s.mu.Lock()
	s.status = text
	s.mu.Unlock()
	notify(s.wake)
}

// Append adds model text; it never blocks on the platform.
func (s *reply) Append(delta string) {
	if delta == "" {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.text.WriteString(delta)
	}
	s.mu.Unlock()
	notify(s.wake)
}

// Close shows the complete text with notice on its own line and waits for
// the final edits, or until ctx ends: then the reply is abandoned and the
// text visible so far is returned with ctx's error.
func (s *reply) Close(ctx context.Context, notice string) (bot.Rendered, error) {
	s.mu.Lock()
	if !s.closed {
		s.closed, s.notice = true, strings.TrimSpace(notice)
	}
	s.mu.Unlock()
	notify(s.wake)

	select {
	case <-s.done:
		return s.result, s.err
	case <-ctx.Done():
	}
	s.cancel()
	<-s.done // run returns promptly once cancelled
	return s.result, fmt.Errorf("close reply in %s: final text not shown: %w", s.thread, ctx.Err())
}

// snapshot is the model side's state at one moment.
type snapshot struct {
	text, status, notice string
	closed               bool
}

func (s *reply) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot{text: s.text.String(), status: s.status, notice: s.notice, closed: s.closed}
}

func blank(t string) bool { return strings.TrimSpace(t) == "" }

// display is the text the reply shows: the model text, and once closed
// the notice on its own line. Before Close it only grows, so offsets into
// it stay valid; at Close only trailing space of the model text is cut,
// which lies after any message boundary.
func (sn snapshot) display() string {
	if !sn.closed {
		return sn.text
	}
	t := strings.TrimRightFunc(sn.text, unicode.IsSpace)
	switch {
	case t == "" && sn.notice == "":
		return NoAnswer
	case t == "":
		return sn.notice
	case sn.notice == "":
		return t
	}
	return t + "\n" + sn.notice
}

// layout is what the current message should show.
type layout struct {
	content  string // the message text
	isText   bool   // content is reply text, not the placeholder
	end      int    // display[:end] is visible once content is
	final    bool   // nothing will change in this message after content
	overflow bool   // the display goes on in a next message
	more     bool   // the next message has text to show now
	reopen   string // fence line the next message starts with
	closed   bool   // laid out from a closed reply: the display is final
}

func (s *reply) layout(sn snapshot) layout {
	if !sn.closed && blank(sn.text) {
		p := sn.status
		if blank(p) {
			p = s.r.opts.Placeholder
		}
		return layout{content: p, end: s.start}
	}
	d := sn.display()
	if s.start > len(d) {
		// Only trailing space was cut at Close.
		return layout{content: s.shown, isText: true, end: len(d), final: true, closed: true}
	}
	c := s.carry + d[s.start:]
	minCut := len(s.carry)
	if s.streamID != "" && len(s.shown) > minCut {
		// Streamed text cannot be taken back: cut after it.
		minCut = len(s.shown) - 1
	}
	cut := splitFirst(c, s.limits.MaxMessageChars, minCut)
	if cut.whole {
		return layout{content: c, isText: true, end: len(d), final: sn.closed, closed: sn.closed}
	}
	return layout{
		content:  cut.head,
		isText:   true,
		end:      s.start + cut.cut - len(s.carry),
		final:    true,
		overflow: true,
		more:     !blank(c[cut.cut:]),
		reopen:   cut.reopen,
		closed:   sn.closed,
	}
}

// run shows the reply: post, edit while the text grows, continue in new
// messages, and end after the final edit (or on error or cancellation).
func (s *reply) run() {
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	defer s.r.wg.Done()
	defer s.r.release(s)
	defer close(s.done)
	defer s.markVisible()

	for {
		sn := s.snapshot()
		if s.streaming {
			done, err := s.streamStep(sn)
			if err != nil {
				s.finish(s.snapshot(), err)
				return
			}
			if done {
				return
			}
			continue
		}
		l := s.layout(sn)
		var err error
		switch {
		case s.shown == "":
			// Nothing posted yet, or a continuation is due.
			err = s.send(opPost)
		case l.content != s.shown:
			err = s.send(opEdit)
		case l.overflow && l.more:
			// The current message is finished: continue in a new one.
			s.start, s.carry = l.end, l.reopen
			s.shown, s.isText = "", false
			continue
		case sn.closed:
			s.finish(sn, nil)
			return
		default:
			select {
			case <-s.wake:
				continue
			case <-s.ctx.Done():
				err = s.ctx.Err()
			}
		}
		if err != nil {
			s.finish(s.snapshot(), err)
			return
		}
	}
}

// finish records the reply's result.
func (s *reply) finish(sn snapshot, err error) {
	d := sn.display()
	text := d
	if err != nil {
		text = d[:min(s.visEnd, len(d))]
		s.log.Warn("reply stopped before its final text was visible", "err", err, "messages", len(s.ids))
		s.err = fmt.Errorf("render reply in %s: %w", s.thread, err)
	}
	s.result = bot.Rendered{Text: text, MessageIDs: append([]string(nil), s.ids...)}
}

// send does one post or edit of the current message with the latest
// text, within the budget, retrying rate limits and errors.
func (s *reply) send(op opKind) error {
	b := s.editB
	if op == opPost {
		b = s.postB
	}
	return s.request(op, b, func(l layout, waited time.Duration) error {
		if op == opPost {
			id, err := s.out.Post(s.ctx, s.thread, l.content)
			if err != nil {
				return err
			}
			s.addID(id)
		} else {
			if l.content == s.shown {
				return errNoop // an overflow cut landed where the message already ends
			}
			if err := s.out.Edit(s.ctx, s.thread, s.ids[len(s.ids)-1], l.content); err != nil {
				return err
			}
			s.edited(waited)
		}
		s.shown = l.content
		s.wrote(l.isText, l.end)
		return nil
	})
}

// urgency says whether the next request would show the current
// message's final text, or replace the placeholder with the reply's first
// text: both go before progress edits of other replies (see bucket.need).
func (s *reply) urgency() (final, first bool) {
	l := s.layout(s.snapshot())
	return l.final, l.isText && !s.textShown
}

// errNoop is returned by a request's call when there was nothing to do.
var errNoop = errors.New("nothing to send")

// streamFailure marks an error of a Streamer call: the reply falls back
// to edits instead of retrying it (an append is not idempotent).
type streamFailure struct{ err error }

func (e *streamFailure) Error() string { return e.err.Error() }
func (e *streamFailure) Unwrap() error { return e.err }

// request does one platform call for the current message within b's
// budget: it waits for a grant, then calls call with the layout of all the
// text the model has produced by then. Rate limits pause the bucket and
// retry with the text accumulated meanwhile; other errors are retried
// with backoff, except streamFailures, which are returned at once.
func (s *reply) request(op opKind, b *bucket, call func(l layout, waited time.Duration) error) error {
	failures := 0
	for {
		if op == opEdit && s.limits.MinEditInterval > 0 {
			if err := s.sleepUntil(s.lastWrite.Add(s.limits.MinEditInterval)); err != nil {
				return err
			}
		}
		s.w.final, s.w.first = s.urgency()
		waited, err := s.r.acquire(s.ctx, b, &s.w, s.timer, s.wake, s.urgency)
		if err != nil {
			return err
		}
		// Granted: show everything the model has produced so far.
		err = call(s.layout(s.snapshot()), waited)
		if err == nil || errors.Is(err, errNoop) {
			return nil
		}
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if rl, ok := bot.AsRateLimited(err); ok {
			// Not a failure: wait out the platform's window, then send
			// whatever text has accumulated by then.
			s.log.Debug("rate limited", "op", op, "retry_after", rl.RetryAfter, "global", rl.Global)
			s.r.pause(b, rl)
			continue
		}
		var sf *streamFailure
		if errors.As(err, &sf) {
			return err
		}
		failures++
		if failures > maxRetries {
			return fmt.Errorf("%s message (%d attempts): %w", op, failures, err)
		}
		backoff := retryBackoff << (failures - 1)
		backoff = backoff/2 + rand.N(backoff) // jitter: [0.5, 1.5) × backoff
		s.log.Debug("retrying", "op", op, "err", err, "backoff", backoff)
		if err := s.sleepUntil(time.Now().Add(backoff)); err != nil {
			return err
		}
	}
}

// addID records a new message of the reply and reports it.
func (s *reply) addID(id string) {
	s.ids = append(s.ids, id)
	if s.posted != nil {
		s.posted(append([]string(nil), s.ids...))
	}
}

// edited calls the OnEdit hook after an edit or append went out.
func (s *reply) edited(waited time.Duration) {
	if s.r.opts.OnEdit != nil {
		s.r.opts.OnEdit(s.thread.Platform, waited)
	}
}

// wrote records that the current message now shows display[:end].
func (s *reply) wrote(isText bool, end int) {
	s.lastWrite = time.Now()
	s.isText, s.visEnd = isText, end
	if isText {
		s.markVisible()
		s.textShown = true
	}
}

// sleepUntil waits until t or until the reply is cancelled.
func (s *reply) sleepUntil(t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	s.timer.Reset(d)
	defer s.timer.Stop()
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// markVisible stops the typing indicator.
func (s *reply) markVisible() {
	select {
	case <-s.visible:
	default:
		close(s.visible)
	}
}

// typing shows the typing indicator at open and every typingEvery until
// the first text is visible.
func (s *reply) typing() {
	defer s.r.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.visible:
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if err := s.typer.Typing(s.ctx, s.thread); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Debug("typing indicator failed", "err", err)
		}
		t.Reset(typingEvery)
	}
}
