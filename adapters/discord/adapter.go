package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/parley-bot/parley/bot"
)

// Adapter is Parley's Discord connection. It implements bot.Adapter and
// bot.Typer.
type Adapter struct {
	opts   Options
	log    *slog.Logger
	s      *discordgo.Session
	tr     *transport
	routes *routeTracker
	closes closeWatcher
	dir    *directory
	work   *serialQueues
	intent discordgo.Intent

	// deferAfter is how long a command may take before its interaction is
	// deferred; Discord drops interactions not answered within 3 s.
	deferAfter time.Duration

	runMu sync.Mutex // held by Run

	// connected is true between READY (or RESUMED) and a disconnect
	// (readiness, /readyz).
	connected atomic.Bool

	mu           sync.Mutex
	h            bot.Handler
	ctx          context.Context // Run's context while running
	botID        string
	appID        string
	disconnected chan struct{}
	firstPosted  map[string]time.Time // reply-mode conversations whose reference was sent
}

var (
	_ bot.Adapter = (*Adapter)(nil)
	_ bot.Typer   = (*Adapter)(nil)
)

// New prepares an adapter; Run connects it. When opts.APIURL is set, the
// adapter's REST calls go there (see apiRewrite).
func New(opts Options, logger *slog.Logger) (*Adapter, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	var api *apiRewrite
	if opts.APIURL != "" {
		var err error
		if api, err = newAPIRewrite(opts.APIURL); err != nil {
			return nil, err
		}
	}
	s, err := discordgo.New(opts.Token)
	if err != nil {
		return nil, fmt.Errorf("discord: new session: %w", err)
	}
	a := &Adapter{
		opts:         opts,
		log:          logger.With("platform", "discord"),
		s:            s,
		routes:       newRouteTracker(time.Now),
		work:         newSerialQueues(),
		deferAfter:   1500 * time.Millisecond,
		disconnected: make(chan struct{}, 1),
		firstPosted:  make(map[string]time.Time),
		appID:        opts.ApplicationID,
	}
	a.dir = newDirectory(s)
	base := http.DefaultTransport.(*http.Transport).Clone()
	a.tr = newTransport(base, a.routes)
	a.tr.api = api

	a.intent = discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages
	if opts.MessageContentIntent {
		a.intent |= discordgo.IntentsMessageContent
	}
	s.Identify.Intents = a.intent
	s.ShardID, s.ShardCount = opts.ShardID, max(opts.ShardCount, 1)
	// The adapter owns reconnection (Run) so that fatal close codes end it
	// and every attempt honours the context; discordgo would retry forever.
	s.ShouldReconnectOnError = false
	// A 429 comes back as *discordgo.RateLimitError instead of a silent
	// sleep-and-retry inside discordgo: the renderer retries with newer text.
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 1
	// Handlers run on the gateway's reading goroutine, in order; the slow
	// work is handed to a.work.
	s.SyncEvents = true
	s.Client = &http.Client{Transport: a.tr, Timeout: 20 * time.Second}
	plain, secure := a.closes.dialers(a.runContext)
	s.Dialer = &websocket.Dialer{
		NetDialContext:    plain,
		NetDialTLSContext: secure,
		HandshakeTimeout:  15 * time.Second,
	}

	s.AddHandler(a.onReady)
	s.AddHandler(a.onDisconnect)
	s.AddHandler(a.onResumed)
	s.AddHandler(a.onMessageCreate)
	s.AddHandler(a.onMessageUpdate)
	s.AddHandler(a.onMessageDelete)
	s.AddHandler(a.onInteraction)
	return a, nil
}

// Platform reports bot.PlatformDiscord.
func (a *Adapter) Platform() bot.Platform { return bot.PlatformDiscord }

// Session exposes the discordgo session, for diagnostics.
func (a *Adapter) Session() *discordgo.Session { return a.s }

// RateLimitRejections returns how many 429s Discord has answered.
func (a *Adapter) RateLimitRejections() int { return a.tr.Rejections() }

func (a *Adapter) runContext() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx == nil {
		return context.Background()
	}
	return a.ctx
}

// current returns the handler and context of the running Run, or nil.
func (a *Adapter) current() (bot.Handler, context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.h, a.ctx
}

func (a *Adapter) botUserID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.botID
}

// Run connects to the gateway and delivers events to h until ctx ends
// (returning nil) or Discord refuses the connection for good: a rejected
// token, or a close code such as 4014 (disallowed intent), returned as a
// *FatalCloseError naming the cause and the fix.
func (a *Adapter) Run(ctx context.Context, h bot.Handler) error {
	if !a.runMu.TryLock() {
		return errors.New("discord: Run is already running")
	}
	defer a.runMu.Unlock()
	a.mu.Lock()
	a.h, a.ctx = h, ctx
	a.mu.Unlock()
	a.work.open()
	defer func() {
		a.mu.Lock()
		a.h = nil
		a.mu.Unlock()
		a.work.closeAndWait()
		a.mu.Lock()
		a.ctx = nil
		a.mu.Unlock()
	}()

	me, err := a.s.User("@me", discordgo.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var re *discordgo.RESTError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
			return errors.New("discord: the bot token was rejected (HTTP 401); check discord.token (Developer Portal → your application → Bot → Reset Token)")
		}
		return fmt.Errorf("discord: get the bot user: %w", err)
	}
	a.mu.Lock()
	a.botID = me.ID
	if a.appID == "" {
		a.appID = me.ID // a bot user's ID is its application's ID
	}
	a.mu.Unlock()
	if gb, err := a.s.GatewayBot(discordgo.WithContext(ctx)); err == nil {
		if gb.Shards > 1 && a.opts.ShardCount < gb.Shards {
			a.log.Warn("Discord recommends more shards", "recommended", gb.Shards, "shard_count", a.opts.ShardCount)
		}
	} else if ctx.Err() != nil {
		return nil
	}
	if err := a.registerCommands(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// Messages still work without the command; say why it is missing.
		a.log.Error("registering /parley failed; was the bot invited with the applications.commands scope?", "err", err)
	}
	return a.connect(ctx)
}

// connect keeps the gateway connected, resuming after drops, until ctx
// ends or a fatal close code arrives.
func (a *Adapter) connect(ctx context.Context) error {
	backoff := time.Second
	for {
		select {
		case <-a.disconnected:
		default:
		}
		a.closes.take()
		err := a.s.Open()
		if code, reason := a.closes.take(); fatalCloseCode(code) {
			a.s.Close()
			return &FatalCloseError{Code: code, Reason: reason}
		}
		if ctx.Err() != nil {
			a.s.Close()
			return nil
		}
		if err != nil {
			a.log.Warn("gateway connect failed; retrying", "err", err, "retry_in", backoff)
			if !sleepCtx(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, 2*time.Minute)
			continue
		}
		backoff = time.Second
		a.log.Info("gateway connected", "shard", a.opts.ShardID, "shards", max(a.opts.ShardCount, 1))
		select {
		case <-ctx.Done():
			a.s.Close()
			return nil
		case <-a.disconnected:
		}
		code, reason := a.closes.take()
		if fatalCloseCode(code) {
			return &FatalCloseError{Code: code, Reason: reason}
		}
		a.log.Info("gateway disconnected; reconnecting", "close_code", code, "reason", reason)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (a *Adapter) onReady(_ *discordgo.Session, r *discordgo.Ready) {
	a.mu.Lock()
	if r.User != nil {
		a.botID = r.User.ID
	}
	if a.appID == "" && r.Application != nil {
		a.appID = r.Application.ID
	}
	a.mu.Unlock()
	a.connected.Store(true)
	a.log.Info("gateway ready", "session", r.SessionID != "", "user", userName(r.User))
}

func (a *Adapter) onResumed(_ *discordgo.Session, _ *discordgo.Resumed) { a.connected.Store(true) }

// Connected reports whether the gateway session is up (for /readyz).
func (a *Adapter) Connected() bool { return a.connected.Load() }

func (a *Adapter) onDisconnect(_ *discordgo.Session, _ *discordgo.Disconnect) {
	a.connected.Store(false)
	select {
	case a.disconnected <- struct{}{}:
	default:
	}
}
