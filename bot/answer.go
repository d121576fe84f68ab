package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Notices shown at the end of a reply that did not complete normally.
const (
	noticeShutdown  = "⚠ reply interrupted: Parley is restarting"
	noticeDeleted   = "⚠ reply cancelled: the message was deleted"
	noticeLength    = "⚠ reply cut off: it reached the model's output limit"
	noticeFilterMod = "⚠ reply stopped by the model's content filter"
)

var errFilterStop = errors.New("stopped by the word filter")

// answer produces and stores the reply to one message.
func (e *Engine) answer(key ThreadKey, q *threadQueue, j job) {
	if j.filtered != "" {
		e.refuse(key, j, &RefusedError{Reason: "filtered", Notice: j.filtered})
		return
	}
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	case <-e.base.Done():
		e.refuse(key, j, &RefusedError{Reason: "shutdown", Notice: "⚠ Parley is restarting; please send your message again in a minute."})
		return
	}

	ctx, cancel := context.WithCancelCause(e.base)
	defer cancel(nil)
	e.mu.Lock()
	q.current = &runningReply{messageID: j.msg.ID, cancel: cancel}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		q.current = nil
		e.mu.Unlock()
	}()

	settings := e.Settings()
	model := settings.ModelFor(key.ChannelKey())
	r, err := e.begin(key, j, model)
	if err != nil {
		e.log.Error("cannot start reply", "platform", key.Platform, "channel", key.Channel, "thread", key.Thread, "err", err)
		return
	}
	defer r.end()

	prompt, err := e.cfg.Conversations.Prompt(ctx, key, PromptOptions{Model: model, SystemPrompt: settings.SystemPrompt, ReplyTo: j.userID})
	var tooLong *TooLongError
	switch {
	case errors.As(err, &tooLong):
		r.refused("too_long", fmt.Sprintf("⚠ Your message is too long for %s: with the instructions it needs %d tokens, but the limit is %d (%d over). Please shorten it or split it into parts.",
			model, tooLong.Tokens, tooLong.Budget, tooLong.Tokens-tooLong.Budget))
		return
	case err != nil:
		r.failed(fmt.Errorf("build prompt: %w", err), "⚠ Sorry, I could not load this conversation; please try again.")
		return
	}

	if prompt.Model != "" {
		model = prompt.Model
	}
	var admission Admission
	if e.cfg.Gate != nil {
		admission, err = e.cfg.Gate.Admit(ctx, j.msg, model, prompt.Tokens, prompt.MaxOutput, r.stream.SetStatus)
		var refused *RefusedError
		switch {
		case errors.As(err, &refused):
			r.refused(refused.Reason, refused.Notice)
			return
		case err != nil:
			r.interrupted(ctx, Completion{}, fmt.Errorf("admit: %w", err))
			return
		}
	}

	comp, err := r.run(ctx, model, prompt)
	if ModelErrorClassOf(err) == ModelContextTooLong && comp.Text == "" {
		// The server's tokenizer disagrees with ours: shrink once.
		r.log.Warn("server rejected the prompt as too long; retrying once with a smaller budget", "prompt_tokens", prompt.Tokens)
		if shrunk, perr := e.cfg.Conversations.Prompt(ctx, key, PromptOptions{Model: model, SystemPrompt: settings.SystemPrompt, ReplyTo: j.userID, Shrink: true}); perr == nil {
			comp, err = r.run(ctx, model, shrunk)
		}
	}
	if admission != nil {
		admission.Settle(Usage{Model: comp.Model, PromptTokens: comp.PromptTokens, CompletionTokens: comp.CompletionTokens})
	}
	r.usage = Usage{Model: firstNonEmpty(comp.Model, model), PromptTokens: comp.PromptTokens, CompletionTokens: comp.CompletionTokens}
	if err != nil || r.filterStopped {
		r.interrupted(ctx, comp, err)
		return
	}
	switch comp.FinishReason {
	case "length":
		r.finish(StatusPartial, noticeLength, "finish_reason length")
	case "content_filter":
		r.finish(StatusPartial, noticeFilterMod, "finish_reason content_filter")
	default:
		r.finish(StatusComplete, "", "")
	}
}

// reply is one reply being produced: its stream, its stored row and its
// outcome.
type reply struct {
	e        *Engine
	key      ThreadKey
	job      job
	id       int64
	log      *slog.Logger
	stream   ReplyStream
	usage    Usage
	started  time.Time
	finished bool

	renderCancel  context.CancelFunc
	filter        OutputFilter
	filterStopped bool
	filterNotice  string
	firstToken    bool
	modelErr      ModelErrorClass

	shown     strings.Builder // the text appended to the stream so far
	savedAt   time.Time       // when shown was last stored as progress
	savedSize int
}

// progressEvery is how often a streaming reply's text is stored, so that
// a crash loses at most this much of what users saw.
const progressEvery = 2 * time.Second

// show appends text to the reply stream and, every progressEvery, stores
// the text so far.
func (r *reply) show(text string) {
	r.stream.Append(text)
	r.shown.WriteString(text)
	if now := r.e.now(); now.Sub(r.savedAt) >= progressEvery && r.shown.Len() > r.savedSize {
		r.savedAt, r.savedSize = now, r.shown.Len()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := r.e.cfg.Conversations.ReplyProgress(ctx, r.id, r.shown.String()); err != nil {
			r.log.Warn("cannot store reply progress", "err", err)
		}
	}
}

func (e *Engine) begin(key ThreadKey, j job, model string) (*reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.FinishTimeout)
	defer cancel()
	id, err := e.cfg.Conversations.BeginReply(ctx, key, j.userID, model)
	if err != nil {
		return nil, fmt.Errorf("begin reply in %s: %w", key, err)
	}
	if e.cfg.Observer != nil {
		e.cfg.Observer.ReplyStarted(key)
	}
	r := &reply{
		e: e, key: key, job: j, id: id, started: e.now(), savedAt: e.now(),
		log: e.log.With("platform", key.Platform, "workspace", key.Workspace, "channel", key.Channel,
			"thread", key.Thread, "reply_id", id),
	}
	// The stream outlives the reply's context: after a cancellation it
	// still makes the final edit that shows the notice.
	// The recipient lets a platform's native streaming address the author.
	renderCtx, renderCancel := context.WithCancel(WithRecipient(context.Background(), Recipient{UserID: j.msg.AuthorID, TeamID: j.msg.Workspace}))
	r.renderCancel = renderCancel
	posted := func(ids []string) {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.FinishTimeout)
		defer cancel()
		if err := e.cfg.Conversations.ReplyMessages(ctx, id, ids); err != nil {
			r.log.Warn("cannot record reply messages", "err", err)
		}
	}
	r.stream = e.cfg.Renderer.Open(renderCtx, e.outbox(key.Platform), key, posted)
	if e.cfg.Filter != nil {
		r.filter = e.cfg.Filter.NewOutput(key.ChannelKey())
	}
	return r, nil
}

// run runs one model request, showing its text as it arrives.
func (r *reply) run(ctx context.Context, model string, p Prompt) (Completion, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	requested := r.e.now()
	delta := func(d string) {
		if r.filterStopped || d == "" {
			return
		}
		if !r.firstToken {
			r.firstToken = true
			if o := r.e.cfg.Observer; o != nil {
				now := r.e.now()
				o.FirstToken(r.key, now.Sub(r.job.accepted), now.Sub(requested))
			}
		}
		if r.filter == nil {
			r.show(d)
			return
		}
		visible, stop, notice := r.filter.Write(d)
		if visible != "" {
			r.show(visible)
		}
		if stop {
			r.filterStopped, r.filterNotice = true, notice
			cancel(errFilterStop)
		}
	}
	comp, err := r.e.cfg.Model.Stream(ctx, ChatRequest{
		Model: model, Messages: p.Messages, MaxTokens: p.MaxOutput, PromptTokens: p.Tokens,
	}, delta)
	if r.filter != nil && !r.filterStopped {
		if rest := r.filter.Flush(); rest != "" {
			r.show(rest)
		}
	}
	if r.filterStopped {
		return comp, nil
	}
	return comp, err
}

// interrupted ends a reply whose model stream failed or was cancelled.
func (r *reply) interrupted(ctx context.Context, comp Completion, err error) {
	if r.filterStopped {
		r.finish(StatusFiltered, r.filterNotice, "stopped by the word filter")
		return
	}
	cause := context.Cause(ctx)
	r.modelErr = ModelErrorClassOf(err)
	var me *ModelError
	switch {
	case errors.Is(cause, errDeleted):
		r.finish(StatusPartial, noticeDeleted, "cancelled: the message was deleted")
	case r.e.base.Err() != nil:
		r.finish(StatusPartial, noticeShutdown, "interrupted by shutdown")
	case errors.As(err, &me):
		if comp.Text == "" {
			r.finish(StatusFailed, "⚠ Sorry, I couldn't answer: "+me.UserNotice()+".", err.Error())
			return
		}
		r.finish(StatusPartial, "⚠ reply interrupted: "+me.UserNotice(), err.Error())
	default:
		if comp.Text == "" {
			r.finish(StatusFailed, "⚠ Sorry, something went wrong while answering.", err.Error())
			return
		}
		r.finish(StatusPartial, "⚠ reply interrupted: something went wrong", err.Error())
	}
}

func (r *reply) refused(reason, notice string) {
	if o := r.e.cfg.Observer; o != nil {
		o.Refused(r.key, reason)
	}
	r.finish(StatusRefused, notice, reason)
}

func (r *reply) failed(err error, notice string) {
	r.finish(StatusFailed, notice, err.Error())
}

// finish shows the final text with its notice and stores what users saw.
func (r *reply) finish(status Status, notice, reason string) {
	if r.finished {
		return
	}
	r.finished = true
	ctx, cancel := context.WithTimeout(context.Background(), r.e.cfg.FinishTimeout)
	defer cancel()
	rendered, err := r.stream.Close(ctx, notice)
	if err != nil {
		// What users see is only the start of the text: the reply is cut
		// short, whatever the model did, and must not later be sent to
		// the model as a complete turn.
		r.log.Warn("final edit failed; storing what is visible", "err", err)
		if status == StatusComplete {
			status = StatusPartial
		}
		if reason != "" {
			reason += "; "
		}
		reason += "final edit failed: " + err.Error()
	}
	out := ReplyOutcome{Text: rendered.Text, Status: status, Usage: r.usage, MessageIDs: rendered.MessageIDs, Error: reason}
	if err := r.e.cfg.Conversations.FinishReply(ctx, r.id, out); err != nil {
		r.log.Error("cannot store reply", "status", status, "err", err)
	}
	level := slog.LevelInfo
	if status != StatusComplete {
		level = slog.LevelWarn
	}
	took := r.e.now().Sub(r.started)
	r.log.Log(ctx, level, "reply finished", "status", status, "model", r.usage.Model,
		"prompt_tokens", r.usage.PromptTokens, "completion_tokens", r.usage.CompletionTokens,
		"chars", len([]rune(rendered.Text)), "messages", len(rendered.MessageIDs), "took", took.Round(time.Millisecond).String(), "reason", reason)
	if o := r.e.cfg.Observer; o != nil {
		o.ReplyFinished(r.key, status, r.usage, took, r.modelErr)
	}
}

// end releases the stream's resources; finish must have run.
func (r *reply) end() {
	if !r.finished {
		r.finish(StatusFailed, "⚠ Sorry, something went wrong while answering.", "reply ended without a final state")
	}
	r.renderCancel()
}

// refuse answers with a notice instead of the model (filtered input, busy
// thread, shutdown) and stores it as refused.
func (e *Engine) refuse(key ThreadKey, j job, refusal *RefusedError) {
	r, err := e.begin(key, j, "")
	if err != nil {
		e.log.Error("cannot answer with a notice", "platform", key.Platform, "channel", key.Channel, "thread", key.Thread, "reason", refusal.Reason, "err", err)
		return
	}
	defer r.end()
	r.refused(refusal.Reason, refusal.Notice)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
