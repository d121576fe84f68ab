package stream

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/parley-bot/parley/bot"
)

// StreamOffFor is how long a refusal to stream is remembered for its
// budget key: replies there go straight to edits until then, and the
// platform is asked again afterwards (a workspace may enable the feature).
const StreamOffFor = time.Hour

// stopTimeout bounds the best-effort stop of a stream the reply abandons
// for edits.
const stopTimeout = 10 * time.Second

// streamAllowedLocked reports whether replies in thread may stream: no
// refusal is remembered for any scope of the thread. Caller holds r.mu.
func (r *Renderer) streamAllowedLocked(thread bot.ThreadKey, now time.Time) bool {
	for _, sc := range []bot.Scope{bot.ScopeGlobal, bot.ScopeWorkspace, bot.ScopeChannel} {
		if until, ok := r.noStream[sc.Key(thread)]; ok && now.Before(until) {
			return false
		}
	}
	return true
}

// streamOff remembers that the platform refused streaming (err matches
// bot.ErrStreamUnsupported) in the extent the error names, by default
// the Edit budget's scope of the thread.
func (r *Renderer) streamOff(thread bot.ThreadKey, lim bot.Limits, err error) (key string, remembered bool) {
	scope := lim.Edit.Scope
	var su *bot.StreamUnsupportedError
	if errors.As(err, &su) {
		if su.OnlyThisReply {
			return "", false
		}
		scope = su.Scope
	}
	key = scope.Key(thread)
	r.mu.Lock()
	r.noStream[key] = time.Now().Add(StreamOffFor)
	r.mu.Unlock()
	return key, true
}

// streamWant is what the streamed message should show for l: all of it
// once final, else without trailing space, which the model may still
// follow with text or which Close trims (streamed text is never taken
// back). "" means nothing beyond the reopened fence yet.
func (s *reply) streamWant(l layout) string {
	if l.final {
		return l.content
	}
	t := strings.TrimRightFunc(l.content, unicode.IsSpace)
	if len(t) <= len(s.carry) || !l.isText {
		return ""
	}
	return t
}

// streamStep makes the next request of a streaming reply, or waits for
// the model. done reports that the reply has ended (finish was called).
func (s *reply) streamStep(sn snapshot) (done bool, err error) {
	if len(s.ids) == 0 && !sn.closed && blank(sn.text) {
		if !blank(sn.status) {
			// A status ("queued — 2 ahead of you") must be replaced by
			// the answer, which only an edit can do.
			s.streaming = false
			return false, nil
		}
		return false, s.waitModel() // the Typer shows that the bot is busy
	}
	if s.stopped {
		d := sn.display()
		next, carry := s.doneEnd, s.doneReopen
		if sn.closed && !s.doneClosed && next >= len(strings.TrimRightFunc(sn.text, unicode.IsSpace)) {
			// Only space was left after the stopped message, and Close
			// trimmed it: what follows is the notice alone.
			next, carry = len(d)-len(sn.notice), ""
		}
		if next < len(d) && !blank(d[next:]) {
			// Continue in a new message.
			s.start, s.carry = next, carry
			s.shown, s.isText, s.stopped = "", false, false
			return false, nil
		}
		if sn.closed {
			s.finish(sn, nil)
			return true, nil
		}
		return false, s.waitModel()
	}
	l := s.layout(sn)
	want := s.streamWant(l)
	switch {
	case s.shown == "" && want == "":
		return false, s.waitModel()
	case s.shown == "":
		err = s.request(opPost, s.postB, s.streamStart)
	case want != s.shown || l.final:
		err = s.request(opEdit, s.editB, s.streamAdvance)
	default:
		return false, s.waitModel()
	}
	var sf *streamFailure
	if errors.As(err, &sf) {
		s.fallBack(sf.err)
		return false, nil
	}
	return false, err
}

// streamStart starts the current message's stream, or posts the message
// when it is already final (one call instead of start and stop).
func (s *reply) streamStart(l layout, _ time.Duration) error {
	want := s.streamWant(l)
	if want == "" {
		return errNoop
	}
	if l.final {
		id, err := s.out.Post(s.ctx, s.thread, want)
		if err != nil {
			return err
		}
		s.addID(id)
		s.shown = want
		s.wrote(true, l.end)
		s.stopped, s.doneEnd, s.doneReopen, s.doneClosed = true, l.end, l.reopen, l.closed
		return nil
	}
	id, err := s.streamer.StartStream(s.ctx, s.thread, s.recipient, want)
	if err != nil {
		return &streamFailure{err: err}
	}
	s.streamID = id
	s.addID(id)
	s.shown = want
	s.wrote(true, l.end-(len(l.content)-len(want)))
	return nil
}

// streamAdvance appends the text the stream does not show yet, and stops
// the stream once the message is final.
func (s *reply) streamAdvance(l layout, waited time.Duration) error {
	want := s.streamWant(l)
	if !strings.HasPrefix(want, s.shown) {
		// Cannot happen (layout never cuts before streamed text), but
		// never show a garbled message: let an edit rewrite it.
		return &streamFailure{err: errors.New("streamed text diverged from the reply")}
	}
	delta := want[len(s.shown):]
	if !l.final {
		if delta == "" {
			return errNoop
		}
		if err := s.streamer.AppendStream(s.ctx, s.thread, s.streamID, delta); err != nil {
			return &streamFailure{err: err}
		}
		s.shown = want
		s.edited(waited)
		s.wrote(true, l.end-(len(l.content)-len(want)))
		return nil
	}
	if err := s.streamer.StopStream(s.ctx, s.thread, s.streamID, delta); err != nil {
		return &streamFailure{err: err}
	}
	s.shown, s.streamID = want, ""
	s.edited(waited)
	s.wrote(true, l.end)
	s.stopped, s.doneEnd, s.doneReopen, s.doneClosed = true, l.end, l.reopen, l.closed
	return nil
}

// fallBack switches the reply to posts and edits after a Streamer call
// failed. The current message, if any, is stopped (best effort) and then
// edited like a posted one: an edit replaces its whole text, which also
// repairs an append that may have half happened.
func (s *reply) fallBack(err error) {
	s.streaming = false
	if errors.Is(err, bot.ErrStreamUnsupported) {
		if key, ok := s.r.streamOff(s.thread, s.limits, err); ok {
			s.log.Info("streaming refused; this reply and later ones here are edited instead", "scope_key", key, "err", err)
		} else {
			s.log.Info("streaming refused for this reply; it is edited instead", "err", err)
		}
	} else {
		s.log.Warn("streaming failed; the reply goes on by editing", "err", err)
	}
	if s.streamID == "" {
		return
	}
	id := s.streamID
	s.streamID = ""
	ctx, cancel := context.WithTimeout(s.ctx, stopTimeout)
	defer cancel()
	// Within the edit budget, so that a refusal here pauses it for the
	// edits that follow.
	err = s.request(opEdit, s.editB, func(layout, time.Duration) error {
		if err := s.streamer.StopStream(ctx, s.thread, id, ""); err != nil {
			if _, ok := bot.AsRateLimited(err); ok {
				return err
			}
			return &streamFailure{err: err}
		}
		s.lastWrite = time.Now() // the edits that follow keep MinEditInterval
		return nil
	})
	if err != nil {
		// The edits that follow still show the text; the platform ends
		// the open stream on its own.
		s.log.Warn("could not stop the stream before editing", "stream", id, "err", err)
	}
}

// waitModel waits for the model side to change something.
func (s *reply) waitModel() error {
	select {
	case <-s.wake:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}
