package limits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"
)

// DefaultMaxWait is how long a request may wait in a channel's queue when
// Options.MaxWait is 0.
const DefaultMaxWait = 30 * time.Second

// UserKey identifies a user for rate limiting: users are limited per
// workspace, as their IDs are.
type UserKey struct {
	Platform  bot.Platform
	Workspace string
	User      string
}

// Options configure a Gate. Reload swaps all of them but Now, Logger and
// MaxKeys at run time.
type Options struct {
	Channel Limit // per channel; zero Count means unlimited
	User    Limit // per user; zero Count means unlimited
	// Channels override Channel in single channels; a zero rate inherits
	// Channel's rate and a zero Burst its burst.
	Channels map[bot.ChannelKey]Limit
	// QueueSize bounds the requests waiting per channel; 0 refuses at
	// once (politely, with a retry time) when over the limit.
	QueueSize int
	MaxWait   time.Duration // 0: DefaultMaxWait
	// Quotas are the defaults per kind (0: unlimited); admins override them
	// per target and per scope with the quota commands.
	Quotas   map[Kind]int64
	Location *time.Location // for retry times shown to users; nil: UTC
	MaxKeys  int            // limiters remembered per scope; 0: DefaultMaxKeys
	Now      func() time.Time
	Logger   *slog.Logger
	// OnQueueDepth is told the number of messages waiting in every queue
	// whenever it changes; OnQueueWait how long an admitted message
	// waited (metrics hooks: cheap, non-blocking; may be nil).
	OnQueueDepth func(waiting int)
	OnQueueWait  func(d time.Duration)
}

// Gate admits messages to the model: it checks and reserves quotas, then
// applies the channel and user rate limits, queueing per channel. It
// implements bot.Gate and offers the admin operations the commands use.
type Gate struct {
	db  *sql.DB
	q   *quotas
	log *slog.Logger
	// now reads Options.Now as start plus the elapsed monotonic time, so
	// that a step of the wall clock does not stall or release the limiters.
	now   func() time.Time
	start time.Time

	channels *Keyed[bot.ChannelKey]
	users    *Keyed[UserKey]

	mu            sync.Mutex
	opts          Options
	adminDefault  *Limit                   // channel default set by an admin
	adminChannels map[bot.ChannelKey]Limit // channel limits set by admins
	queues        map[bot.ChannelKey]*queue
	waiting       int // messages waiting in every queue, for OnQueueDepth
}

var _ bot.Gate = (*Gate)(nil)

type queue struct{ waiters []*waiter }

type waiter struct {
	user    UserKey
	wake    chan struct{} // capacity 1: "the queue changed, look again"
	granted bool
}

// NewGate loads the admins' settings from db (which must have this
// package's Migrations applied) and releases reservations a crash left.
func NewGate(ctx context.Context, db *sql.DB, opts Options) (*Gate, error) {
	if db == nil {
		return nil, errors.New("new gate: database is required")
	}
	if err := checkOptions(&opts); err != nil {
		return nil, fmt.Errorf("new gate: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	q, err := newQuotas(ctx, db, opts.Quotas, log)
	if err != nil {
		return nil, fmt.Errorf("new gate: %w", err)
	}
	start := now()
	g := &Gate{
		db: db, q: q, log: log, start: start, opts: opts,
		now:           func() time.Time { return start.Add(now().Sub(start)) },
		adminChannels: make(map[bot.ChannelKey]Limit),
		queues:        make(map[bot.ChannelKey]*queue),
	}
	if err := g.loadRates(ctx); err != nil {
		_ = q.close()
		return nil, fmt.Errorf("new gate: %w", err)
	}
	def, over := g.channelLimits()
	g.channels = NewKeyed(def, over, opts.MaxKeys)
	g.users = NewKeyed[UserKey](opts.User, nil, opts.MaxKeys)
	return g, nil
}

// Close releases the gate's prepared statements; call it before closing
// the store. Admissions still open may no longer settle.
func (g *Gate) Close() error {
	if err := g.q.close(); err != nil {
		return fmt.Errorf("close gate: %w", err)
	}
	return nil
}

func checkOptions(o *Options) error {
	if o.QueueSize < 0 {
		return fmt.Errorf("queue size must not be negative, got %d", o.QueueSize)
	}
	if o.MaxWait < 0 {
		return fmt.Errorf("max wait must not be negative, got %s", o.MaxWait)
	}
	if o.MaxWait == 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	for k, v := range o.Quotas {
		if !ValidKind(k) || v < 0 {
			return fmt.Errorf("quota %s = %d: want a day or month quota of at least 0", k, v)
		}
	}
	return nil
}

// Reload swaps the limits, the queue settings and the quota defaults
// (on SIGHUP). Admins' settings stay; requests waiting are re-examined.
func (g *Gate) Reload(opts Options) error {
	if err := checkOptions(&opts); err != nil {
		return fmt.Errorf("reload limits: %w", err)
	}
	if err := g.q.setDefaults(opts.Quotas); err != nil {
		return fmt.Errorf("reload limits: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	opts.Now, opts.Logger, opts.MaxKeys = g.opts.Now, g.opts.Logger, g.opts.MaxKeys
	g.opts = opts
	g.applyLocked()
	return nil
}

// applyLocked pushes the current limits into the limiters and wakes every
// waiter, since its wait may have changed.
func (g *Gate) applyLocked() {
	def, over := g.channelLimits()
	now := g.now()
	g.channels.SetLimits(def, over, now)
	g.users.SetLimits(g.opts.User, nil, now)
	for _, q := range g.queues {
		for _, w := range q.waiters {
			signal(w)
		}
	}
}

// channelLimits merges the config and the admins' settings; admins win.
func (g *Gate) channelLimits() (Limit, map[bot.ChannelKey]Limit) {
	def := g.opts.Channel
	if g.adminDefault != nil {
		def = *g.adminDefault
	}
	over := make(map[bot.ChannelKey]Limit, len(g.opts.Channels)+len(g.adminChannels))
	for k, l := range g.opts.Channels {
		if l.Unlimited() {
			l.Count, l.Per = def.Count, def.Per
		}
		if l.Burst <= 0 {
			l.Burst = def.Burst
		}
		over[k] = l
	}
	maps.Copy(over, g.adminChannels)
	return def, over
}

func signal(w *waiter) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// admission is a granted request.
type admission struct{ r *reservation }

func (a admission) Settle(u bot.Usage) { a.r.settle(int64(u.Total())) }

// Admit implements bot.Gate: quotas first (a spent quota is refused
// without waiting), then the rate limits, waiting in the channel's queue
// if need be. Every refusal is a *bot.RefusedError.
func (g *Gate) Admit(ctx context.Context, m bot.Message, model string, promptTokens, maxOutput int, status func(string)) (bot.Admission, error) {
	estimate := int64(max(promptTokens, 0) + max(maxOutput, 0))
	r, err := g.q.reserve(ctx, m, estimate, g.now())
	if err != nil {
		return nil, err
	}
	start := g.now()
	if err := g.acquire(ctx, m, status); err != nil {
		r.settle(0) // release the reservation and the request
		return nil, err
	}
	if g.opts.OnQueueWait != nil {
		g.opts.OnQueueWait(g.now().Sub(start))
	}
	return admission{r}, nil
}

// acquire takes a slot of the channel's and the user's rate, waiting in
// the channel's FIFO queue until both allow it. The first waiter whose
// user is within its rate goes next, so one user over their own limit does
// not hold up the channel.
func (g *Gate) acquire(ctx context.Context, m bot.Message, status func(string)) error {
	ck := bot.ChannelKey{Platform: m.Platform, Workspace: m.Workspace, Channel: m.Channel}
	w := &waiter{user: UserKey{m.Platform, m.ChargedWorkspace(), m.AuthorID}, wake: make(chan struct{}, 1)}

	g.mu.Lock()
	q := g.queues[ck]
	if q == nil {
		q = &queue{}
		g.queues[ck] = q
	}
	now := g.now()
	if len(q.waiters) > 0 && len(q.waiters) >= g.opts.QueueSize {
		err := g.busyLocked(ck, w, q, now, "queue_full")
		g.mu.Unlock()
		return err
	}
	q.waiters = append(q.waiters, w)
	g.dispatchLocked(ck, q, now)
	if w.granted {
		g.mu.Unlock()
		return nil
	}
	if g.opts.QueueSize == 0 {
		err := g.leaveLocked(ck, q, w, now, "rate_limit")
		g.mu.Unlock()
		return err
	}
	g.waiting++
	g.reportDepthLocked()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.reportDepthLocked()
		g.mu.Unlock()
	}()
	deadline := now.Add(g.opts.MaxWait)
	lastPos := -1
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		pos := slices.Index(q.waiters, w)
		wait := min(max(g.channels.Delay(ck, now), g.users.Delay(w.user, now)), deadline.Sub(now))
		g.mu.Unlock()

		if pos != lastPos && status != nil {
			status(queuedText(pos))
		}
		lastPos = pos
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		var cancelled bool
		select {
		case <-w.wake:
		case <-timer.C:
		case <-ctx.Done():
			cancelled = true
		}

		g.mu.Lock()
		now = g.now()
		if !w.granted && !cancelled {
			g.dispatchLocked(ck, q, now)
		}
		switch {
		case w.granted:
			g.mu.Unlock()
			return nil
		case cancelled:
			g.removeLocked(ck, q, w)
			g.mu.Unlock()
			return fmt.Errorf("wait for a rate limit slot: %w", context.Cause(ctx))
		case !now.Before(deadline):
			err := g.leaveLocked(ck, q, w, now, "rate_limit")
			g.mu.Unlock()
			return err
		}
	}
}

func queuedText(pos int) string {
	if pos <= 0 {
		return "queued — you're next"
	}
	return fmt.Sprintf("queued — %d ahead of you", pos)
}

// dispatchLocked grants slots, in queue order, while the channel's rate
// allows: to the first waiter whose user is also within its rate.
func (g *Gate) dispatchLocked(ck bot.ChannelKey, q *queue, now time.Time) {
	for len(q.waiters) > 0 && g.channels.Delay(ck, now) == 0 {
		i := slices.IndexFunc(q.waiters, func(w *waiter) bool { return g.users.Delay(w.user, now) == 0 })
		if i < 0 {
			return
		}
		w := q.waiters[i]
		g.channels.Allow(ck, now)
		g.users.Allow(w.user, now)
		w.granted = true
		q.waiters = slices.Delete(q.waiters, i, i+1)
		signal(w)
		for _, o := range q.waiters[i:] {
			signal(o) // their position changed
		}
	}
	if len(q.waiters) == 0 {
		delete(g.queues, ck)
	}
}

// removeLocked takes w out of the queue and tells those behind it.
func (g *Gate) removeLocked(ck bot.ChannelKey, q *queue, w *waiter) {
	i := slices.Index(q.waiters, w)
	if i < 0 {
		return
	}
	q.waiters = slices.Delete(q.waiters, i, i+1)
	for _, o := range q.waiters[i:] {
		signal(o)
	}
	if len(q.waiters) == 0 {
		delete(g.queues, ck)
	}
}

// leaveLocked removes w and returns the busy refusal.
func (g *Gate) leaveLocked(ck bot.ChannelKey, q *queue, w *waiter, now time.Time, reason string) error {
	g.removeLocked(ck, q, w)
	return g.busyLocked(ck, w, q, now, reason)
}

// busyLocked is the polite refusal with an estimate of when a new request
// would get through: after the channel's next slot and one slot for each
// request still queued, or when the user's own rate allows, whichever is
// later.
func (g *Gate) busyLocked(ck bot.ChannelKey, w *waiter, q *queue, now time.Time, reason string) error {
	chWait := g.channels.Delay(ck, now) + time.Duration(len(q.waiters))*g.channels.Limit(ck).Interval()
	userWait := g.users.Delay(w.user, now)
	wait := max(chWait, userWait, time.Second)
	at := now.Add(wait).In(g.opts.Location)
	when := fmt.Sprintf("please try again at %s (in about %s).", at.Format("15:04 MST"), FormatWait(wait))
	if userWait > chWait {
		return &bot.RefusedError{Reason: reason, Notice: "You're sending requests faster than I can take them — " + when}
	}
	return &bot.RefusedError{Reason: reason, Notice: "I'm busy in this channel right now — " + when}
}

// QueueLen returns the number of requests waiting in a channel.
func (g *Gate) QueueLen(ck bot.ChannelKey) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.queues[ck]; q != nil {
		return len(q.waiters)
	}
	return 0
}

// reportDepthLocked tells OnQueueDepth how many messages wait; g.mu is held.
func (g *Gate) reportDepthLocked() {
	if g.opts.OnQueueDepth != nil {
		g.opts.OnQueueDepth(g.waiting)
	}
}
