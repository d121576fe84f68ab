package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrShuttingDown is returned by HandleMessage once Shutdown has begun.
var ErrShuttingDown = errors.New("parley is shutting down")

// UnhandledNotice is what an adapter shows in the thread when
// HandleMessage failed: platforms do not deliver an acknowledged event
// again, so the user must be told to send the message again rather than
// be met with silence.
func UnhandledNotice(err error) string {
	if errors.Is(err, ErrShuttingDown) {
		return "⚠ Parley is restarting and could not take this message; please send it again in a minute."
	}
	return "⚠ Sorry, I could not take this message (an internal error); please send it again."
}

// unhandledNoticeTimeout bounds the post of an UnhandledNotice, which may
// come while the daemon shuts down.
const unhandledNoticeTimeout = 10 * time.Second

// TellUnhandled posts UnhandledNotice(err) in the message's thread through
// out, even when ctx is already cancelled (at shutdown), within a bound.
func TellUnhandled(ctx context.Context, out Outbox, m Message, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unhandledNoticeTimeout)
	defer cancel()
	if _, perr := out.Post(ctx, m.Key(), UnhandledNotice(err)); perr != nil {
		return fmt.Errorf("tell %s that message %s was not taken: %w", m.Key(), m.ID, perr)
	}
	return nil
}

// ErrUnknownPlatform is returned for a message from a platform that has no
// registered Outbox.
var ErrUnknownPlatform = errors.New("no adapter registered for platform")

// Settings are the engine's reloadable settings (SIGHUP swaps them).
type Settings struct {
	SystemPrompt  string
	Model         string            // the default model
	ChannelModels map[string]string // "platform/workspace/channel" → model
}

// ModelFor returns the model for a channel.
func (s Settings) ModelFor(ch ChannelKey) string {
	if m, ok := s.ChannelModels[string(ch.Platform)+"/"+ch.Workspace+"/"+ch.Channel]; ok && m != "" {
		return m
	}
	return s.Model
}

// Gate admits a message to the model (rate limits and quotas). Admit may
// block while the message waits in a queue, calling status to show its
// position. It returns a *RefusedError when the message must not be
// answered now.
type Gate interface {
	Admit(ctx context.Context, m Message, model string, promptTokens, maxOutput int, status func(string)) (Admission, error)
}

// Admission is a granted request; Settle records what it really used.
type Admission interface {
	Settle(u Usage)
}

// RefusedError is a polite refusal to answer (a limit or quota was hit);
// Notice is shown to the user.
type RefusedError struct {
	Reason string // for logs and metrics: "rate_limit", "queue_full", "quota"
	Notice string
}

func (e *RefusedError) Error() string { return "refused (" + e.Reason + "): " + e.Notice }

// CommandHandler runs /parley commands other than the engine's own.
type CommandHandler interface {
	HandleCommand(ctx context.Context, c Command) (CommandResult, bool)
}

// Observer receives the engine's events for metrics. Every method must be
// cheap and safe for concurrent use.
type Observer interface {
	MessageAccepted(m Message)
	ReplyStarted(key ThreadKey)
	FirstToken(key ThreadKey, sinceEvent, sinceRequest time.Duration)
	ReplyFinished(key ThreadKey, status Status, u Usage, took time.Duration, modelErr ModelErrorClass)
	Refused(key ThreadKey, reason string)
	// EventReceived counts what adapters deliver, before de-duplication:
	// kind is message, edit, delete or command.
	EventReceived(p Platform, kind string)
}

// EngineConfig wires the engine. Conversations, Model and Renderer are required.
type EngineConfig struct {
	Conversations Conversations
	Model         Model
	Renderer      Renderer
	Filter        WordFilter     // optional
	Gate          Gate           // optional
	Commands      CommandHandler // optional: commands beyond help and reset
	Observer      Observer       // optional
	Settings      Settings
	// MaxConcurrent bounds the replies streaming at once (default 16).
	MaxConcurrent int
	// MaxPendingPerThread bounds the messages waiting behind a thread's
	// reply (default 20); more are answered with a busy notice.
	MaxPendingPerThread int
	// FinishTimeout bounds the final edits of a reply after its model
	// stream has ended or been cancelled (default 60s: twenty replies that
	// end together in one Discord channel need about 20 s of edit budget).
	FinishTimeout time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// shutdownGrace bounds the final edits of replies interrupted by Shutdown.
const shutdownGrace = 15 * time.Second

// Engine answers messages: one reply in flight per thread, later messages
// answered in order, many threads in parallel within MaxConcurrent.
type Engine struct {
	cfg      EngineConfig
	settings atomic.Pointer[Settings]
	log      *slog.Logger
	now      func() time.Time

	// base is the parent of every reply's context; Shutdown cancels it
	// once the drain deadline passes.
	base       context.Context
	cancelBase context.CancelFunc
	slots      chan struct{}

	mu       sync.Mutex
	outboxes map[Platform]Outbox
	threads  map[ThreadKey]*threadQueue
	closing  bool
	pending  int           // accepted and not yet finished
	idle     chan struct{} // closed when pending drops to zero; replaced when it rises
	workers  sync.WaitGroup
}

type job struct {
	msg      Message
	userID   int64 // stored row of the user message
	filtered string
	accepted time.Time
}

type threadQueue struct {
	jobs    []job
	running bool
	current *runningReply
	// busyNoticed: a message found the queue full and got the busy
	// notice; later ones are stored but not answered until the queue
	// moves, so a flood cannot make the bot flood the thread back.
	busyNoticed bool
}

type runningReply struct {
	messageID string
	cancel    context.CancelCauseFunc
}

var errDeleted = errors.New("the message was deleted")

// NewEngine checks the config and returns an engine ready for messages.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	switch {
	case cfg.Conversations == nil:
		return nil, errors.New("engine: Conversations is required")
	case cfg.Model == nil:
		return nil, errors.New("engine: Model is required")
	case cfg.Renderer == nil:
		return nil, errors.New("engine: Renderer is required")
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 16
	}
	if cfg.MaxPendingPerThread <= 0 {
		cfg.MaxPendingPerThread = 20
	}
	if cfg.FinishTimeout <= 0 {
		cfg.FinishTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        cfg.Now,
		base:       base,
		cancelBase: cancel,
		slots:      make(chan struct{}, cfg.MaxConcurrent),
		outboxes:   make(map[Platform]Outbox),
		threads:    make(map[ThreadKey]*threadQueue),
		idle:       make(chan struct{}),
	}
	close(e.idle)
	s := cfg.Settings
	e.settings.Store(&s)
	return e, nil
}

// AddOutbox registers the Outbox that shows replies on a platform.
func (e *Engine) AddOutbox(p Platform, out Outbox) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outboxes[p] = out
}

// SetSettings swaps the reloadable settings; replies already streaming
// keep the settings they started with.
func (e *Engine) SetSettings(s Settings) { e.settings.Store(&s) }

// Settings returns the current settings.
func (e *Engine) Settings() Settings { return *e.settings.Load() }

var _ Handler = (*Engine)(nil)

// HandleMessage de-duplicates the message, stores it and queues it for an
// answer. It returns once the message is stored.
func (e *Engine) HandleMessage(ctx context.Context, m Message) error {
	e.observeEvent(m.Platform, "message")
	if err := m.Validate(); err != nil {
		return fmt.Errorf("handle message: %w", err)
	}
	if m.Time.IsZero() {
		m.Time = e.now()
	}
	e.mu.Lock()
	_, known := e.outboxes[m.Platform]
	closing := e.closing
	e.mu.Unlock()
	if closing {
		return ErrShuttingDown
	}
	if !known {
		return fmt.Errorf("handle message %s: %w %q", m.ID, ErrUnknownPlatform, m.Platform)
	}
	key := m.Key()
	j := job{msg: m, accepted: e.now()}
	status := StatusComplete
	if e.cfg.Filter != nil {
		if ok, notice := e.cfg.Filter.CheckInput(key.ChannelKey(), m.Text); !ok {
			status, j.filtered = StatusFiltered, notice
		}
	}
	// Stored before anything else happens to it, in the transaction that
	// records the event: a refused, failed or interrupted reply never loses
	// what the user wrote, and neither does a crash between the two.
	var first bool
	var err error
	j.userID, first, err = e.cfg.Conversations.AcceptUserMessage(ctx, m, m.DedupeID(), status, e.now())
	if err != nil {
		return fmt.Errorf("store message %s in %s: %w", m.ID, key, err)
	}
	if !first {
		e.log.Debug("duplicate event ignored", "platform", m.Platform, "channel", m.Channel, "thread", key.Thread, "event", m.DedupeID())
		return nil
	}
	if e.cfg.Observer != nil {
		e.cfg.Observer.MessageAccepted(m)
	}
	return e.enqueue(key, j)
}

func (e *Engine) enqueue(key ThreadKey, j job) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return ErrShuttingDown
	}
	q := e.threads[key]
	if q == nil {
		q = &threadQueue{}
		e.threads[key] = q
	}
	if len(q.jobs) >= e.cfg.MaxPendingPerThread {
		if q.busyNoticed {
			e.log.Info("thread busy: message stored, not answered (the busy notice was given)",
				"platform", key.Platform, "channel", key.Channel, "thread", key.Thread, "message", j.msg.ID)
			if o := e.cfg.Observer; o != nil {
				o.Refused(key, "thread_busy")
			}
			return nil
		}
		q.busyNoticed = true
		e.workers.Add(1)
		go func() {
			defer e.workers.Done()
			e.refuse(key, j, &RefusedError{Reason: "thread_busy",
				Notice: "I'm still working through earlier messages in this thread; please send this again in a moment."})
		}()
		return nil
	}
	q.jobs = append(q.jobs, j)
	if e.pending == 0 {
		e.idle = make(chan struct{})
	}
	e.pending++
	if !q.running {
		q.running = true
		e.workers.Add(1)
		go e.runThread(key, q)
	}
	return nil
}

// runThread answers a thread's messages in order, one at a time.
func (e *Engine) runThread(key ThreadKey, q *threadQueue) {
	defer e.workers.Done()
	for {
		e.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			delete(e.threads, key)
			e.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		q.busyNoticed = false // room again: the next overflow is told
		e.mu.Unlock()

		e.answer(key, q, j)

		e.mu.Lock()
		e.pending--
		if e.pending == 0 {
			close(e.idle)
		}
		e.mu.Unlock()
	}
}

// Idle waits until every accepted message has been answered.
func (e *Engine) Idle(ctx context.Context) error {
	e.mu.Lock()
	idle := e.idle
	e.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InFlight returns how many accepted messages are not yet answered.
func (e *Engine) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pending
}

// Shutdown stops taking messages and lets the replies in flight finish
// until ctx ends; then it cancels them, so each ends with a visible notice
// and is stored as partial, and waits for that.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		e.cancelBase()
		return nil
	case <-ctx.Done():
	}
	e.log.Warn("shutdown deadline reached; interrupting replies in flight", "in_flight", e.InFlight())
	e.cancelBase()
	// Interrupted replies still make their final edit and store; a
	// platform that cannot take it within shutdownGrace is abandoned.
	select {
	case <-done:
		return nil
	case <-time.After(shutdownGrace):
		return fmt.Errorf("shutdown: %d replies did not finish their final edit within %s", e.InFlight(), shutdownGrace)
	}
}

// HandleEdit updates the stored text of a user's message.
func (e *Engine) HandleEdit(ctx context.Context, key ThreadKey, messageID, text string) error {
	e.observeEvent(key.Platform, "edit")
	if err := e.cfg.Conversations.EditUserMessage(ctx, key, messageID, text); err != nil {
		return fmt.Errorf("edit message %s in %s: %w", messageID, key, err)
	}
	return nil
}

// HandleDelete cancels the reply to messageID if it is still streaming, and
// drops the message from the thread's queue if it is still waiting.
func (e *Engine) HandleDelete(ctx context.Context, key ThreadKey, messageID string) error {
	e.observeEvent(key.Platform, "delete")
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.threads[key]
	if q == nil {
		return nil
	}
	if q.current != nil && q.current.messageID == messageID {
		q.current.cancel(errDeleted)
		return nil
	}
	for i, j := range q.jobs {
		if j.msg.ID == messageID {
			q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
			e.pending--
			if e.pending == 0 {
				close(e.idle)
			}
			return nil
		}
	}
	return nil
}

// ThreadActive reports whether the bot has answered in the thread.
func (e *Engine) ThreadActive(ctx context.Context, key ThreadKey) (bool, error) {
	active, err := e.cfg.Conversations.ThreadActive(ctx, key)
	if err != nil {
		return false, fmt.Errorf("thread %s: %w", key, err)
	}
	return active, nil
}

func (e *Engine) observeEvent(p Platform, kind string) {
	if e.cfg.Observer != nil {
		e.cfg.Observer.EventReceived(p, kind)
	}
}

func (e *Engine) outbox(p Platform) Outbox {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outboxes[p]
}
