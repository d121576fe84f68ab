package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/parley-bot/parley/adapters/console"
	"github.com/parley-bot/parley/adapters/discord"
	"github.com/parley-bot/parley/adapters/slack"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/commands"
	"github.com/parley-bot/parley/config"
	"github.com/parley-bot/parley/conversation"
	"github.com/parley-bot/parley/filters"
	"github.com/parley-bot/parley/limits"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
	"github.com/parley-bot/parley/metrics"
	"github.com/parley-bot/parley/ops"
	"github.com/parley-bot/parley/stream"
)

const usage = `usage: parley [-config FILE] run|chat|check-config|version

  run           serve the platforms enabled in the config (the console when none is)
  chat          an interactive console session (reads one message per line from a pipe)
  check-config  validate the config and print the effective settings, secrets redacted
  version       print the version

The config file is ./config.toml unless -config or $PARLEY_CONFIG names another.
`

// Main parses the command line and runs a command; it returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, usage) }
	defaultPath := "config.toml"
	if p := env.Getenv("PARLEY_CONFIG"); p != "" {
		defaultPath = p
	}
	path := fs.String("config", defaultPath, "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cmd := fs.Arg(0)
	switch cmd {
	case "version":
		fmt.Fprintln(env.Stdout, "parley", version)
		return 0
	case "run", "chat", "check-config":
	default:
		fmt.Fprintf(env.Stderr, "parley: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := config.Load(*path, env.Getenv)
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley: %v\n", err)
		return 1
	}
	if cmd == "check-config" {
		fmt.Fprint(env.Stdout, cfg.Redacted())
		return 0
	}
	app := &App{Config: cfg, ConfigPath: *path, Env: env, ConsoleOnly: cmd == "chat"}
	if err := app.Run(ctx); err != nil {
		fmt.Fprintf(env.Stderr, "parley: %v\n", err)
		return 1
	}
	return 0
}

// App is one running Parley: the components built from the config and
// the adapters that feed them.
type App struct {
	Config      *config.Config
	ConfigPath  string
	Env         Env
	ConsoleOnly bool

	log      *slog.Logger
	demo     *fakeopenai.Server
	client   *llm.Client
	model    bot.Model // the client behind pacing, retries and fallbacks
	store    *conversation.Store
	filter   *filters.Filter
	renderer *stream.Renderer
	engine   *bot.Engine
	gate     *limits.Gate
	metrics  *metrics.Metrics
	health   *metrics.Server
	adapters []bot.Adapter
	closers  []func(context.Context) error
}

// Run builds everything, serves until ctx ends or an adapter stops, then
// drains in-flight replies and closes everything in reverse order.
func (a *App) Run(ctx context.Context) (err error) {
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := len(a.closers) - 1; i >= 0; i-- {
			if cerr := a.closers[i](cctx); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	if err := a.build(ctx); err != nil {
		return err
	}
	return a.serve(ctx)
}

// notify tells the service manager about the lifecycle (sd_notify).
func (a *App) notify(state string) {
	if a.Env.Ready != nil {
		a.Env.Ready(state)
	}
}

func (a *App) onClose(f func(context.Context) error) { a.closers = append(a.closers, f) }

func (a *App) build(ctx context.Context) error {
	cfg := a.Config
	useConsole := a.ConsoleOnly || (!cfg.Slack.Enabled && !cfg.Discord.Enabled)
	a.log = newLogger(cfg.Log, a.Env.Stderr, useConsole && a.Env.Terminal)
	a.metrics = metrics.New(version)

	model := cfg.LLM.Model
	baseURL := cfg.LLM.Endpoint()
	if cfg.LLM.Offline() {
		demo, err := fakeopenai.Start(fakeopenai.Options{ChunkDelay: 25 * time.Millisecond, Logger: a.log})
		if err != nil {
			return fmt.Errorf("start the offline demo model: %w", err)
		}
		a.demo = demo
		a.onClose(demo.Close)
		baseURL, model = demo.URL(), fakeopenai.DemoModel
		a.log.Warn("no OPENAI_API_KEY or llm.base_url: answering with the built-in offline demo model")
	}

	// The store counts tokens for the client when a server omits usage;
	// the client writes the store's summaries. Both hooks are set before
	// the first request.
	var store *conversation.Store
	var resilient *llm.Resilient
	client, err := llm.New(llm.Config{
		BaseURL: baseURL, APIKey: cfg.LLM.APIKey.Value(),
		HeaderTimeout: cfg.LLM.HeaderTimeout.Duration, FirstTokenTimeout: cfg.LLM.FirstTokenTimeout.Duration,
		IdleTimeout: cfg.LLM.IdleTimeout.Duration, TotalTimeout: cfg.LLM.TotalTimeout.Duration,
		MaxTokensField: llm.MaxTokensField(cfg.LLM.MaxTokensParam),
		CountTokens:    func(model, text string) int { return store.CountTokens(model, text) },
		OnRateLimits:   func(model string, rl llm.RateLimits) { resilient.ObserveRateLimits(model, rl) },
		Logger:         a.log,
	})
	if err != nil {
		return fmt.Errorf("model client: %w", err)
	}
	a.client = client
	a.onClose(func(context.Context) error { return client.Close() })
	resilient = llm.NewResilient(llm.ResilientConfig{
		Model: client, Fallbacks: cfg.LLM.FallbackModels,
		RequestsPerMinute: cfg.LLM.RequestsPerMinute, TokensPerMinute: cfg.LLM.TokensPerMinute,
		OnQuotaExhausted: func(model string, err *bot.ModelError) {
			a.metrics.UpstreamError(err.Class)
			a.log.Error("the model API key's quota is used up: users are told; add credit or change the key", "model", model, "err", err)
		},
		OnRetry: a.metrics.Retry,
		Logger:  a.log,
	})
	a.model = resilient

	var filter *filters.Filter
	if cfg.Filters.Enabled {
		filter, err = filters.New(a.filterOptions(cfg.Filters))
		if err != nil {
			return fmt.Errorf("word filter: %w", err)
		}
		a.filter = filter
	}

	models := make(map[string]conversation.ModelInfo, len(cfg.LLM.Models))
	for name, m := range cfg.LLM.Models {
		models[name] = conversation.ModelInfo{ContextWindow: m.ContextWindow, MaxOutput: m.MaxOutput, Encoding: m.Encoding}
	}
	opts := conversation.Options{
		Path: cfg.Storage.Path, Policy: conversation.Policy(cfg.Context.Policy), Models: models,
		DefaultModel: model, MaxOutputTokens: cfg.LLM.MaxOutputTokens, MarginTokens: cfg.Context.MarginTokens,
		SummaryModel: a.model, SummaryModelName: cfg.Context.SummaryModel,
		DedupeTTL: cfg.Storage.DedupeTTL.Duration, Logger: a.log,
	}
	if filter != nil {
		opts.SummaryFilter = func(s string) string { return filter.Mask(bot.ChannelKey{}, s) }
	}
	limitsMigrations, err := limits.Migrations()
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	opts.Migrations = append(opts.Migrations, limitsMigrations...)
	store, err = conversation.Open(ctx, opts)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	a.store = store
	a.onClose(store.Close)
	lopts, err := a.limitsOptions(cfg)
	if err != nil {
		return err
	}
	if a.gate, err = limits.NewGate(ctx, store.DB(), lopts); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	a.onClose(func(context.Context) error { return a.gate.Close() })

	a.health = metrics.NewServer(a.metrics, metrics.ServerOptions{Logger: a.log, Checks: []metrics.ReadinessCheck{
		{Name: "store", Check: store.ReadDB().PingContext},
		a.metrics.ModelCheck(cfg.Metrics.ModelReadyWindow.Duration),
	}})
	addr, err := a.health.Start(ctx, cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	if addr != "" {
		a.log.Info("metrics and health listening", "addr", addr)
	}
	a.onClose(a.health.Shutdown)
	interval, err := ops.WatchdogInterval(a.Env.Getenv)
	if err != nil {
		a.log.Warn("systemd watchdog disabled", "err", err)
	}
	watchdog := ops.StartWatchdog(context.Background(), ops.WatchdogOptions{Interval: interval, Check: store.ReadDB().PingContext, Logger: a.log})
	a.onClose(func(context.Context) error { watchdog.Stop(); return nil })

	a.renderer = stream.NewRenderer(stream.Options{Placeholder: cfg.Bot.Placeholder, Logger: a.log, OnEdit: a.metrics.Edit})
	a.onClose(a.renderer.Close)

	ecfg := bot.EngineConfig{
		Conversations: store, Model: a.model, Renderer: a.renderer,
		Settings:            settingsFrom(cfg, model),
		MaxConcurrent:       cfg.Bot.MaxConcurrentReplies,
		MaxPendingPerThread: cfg.Bot.MaxPendingPerThread,
		Observer:            a.metrics,
		Gate:                a.gate,
		Commands:            commands.New(a.gate, a.log),
		Logger:              a.log,
	}
	if filter != nil {
		ecfg.Filter = filter
	}
	a.engine, err = bot.NewEngine(ecfg)
	if err != nil {
		return err
	}

	if useConsole {
		banner := ""
		if a.demo != nil {
			banner = "Parley — demo mode: answers come from the built-in offline demo model.\nSet OPENAI_API_KEY (or llm.base_url in config.toml) to talk to a real model."
		}
		a.adapters = append(a.adapters, console.New(console.Options{
			UserName: cfg.Console.UserName, Interactive: a.Env.Terminal, Color: cfg.Console.Color && a.Env.Terminal,
			In: a.Env.Stdin, Out: a.Env.Stdout, Banner: banner,
		}))
	}
	if !a.ConsoleOnly && cfg.Slack.Enabled {
		sl, err := slack.New(slackOptions(cfg.Slack), a.log.With("platform", "slack"))
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		a.adapters = append(a.adapters, sl)
	}
	if !a.ConsoleOnly && cfg.Discord.Enabled {
		d := cfg.Discord
		dc, err := discord.New(discord.Options{
			Token: d.Token.Value(), ApplicationID: d.ApplicationID, APIURL: d.APIURL, GuildIDs: d.GuildIDs, DMQuotaGuild: d.DMQuotaGuild,
			ReplyMode: d.ReplyMode, Admins: d.Admins, RespondToBots: d.RespondToBots, MaxMessageChars: d.MaxMessageChars,
			MessageContentIntent: d.MessageContentIntent, ShardID: d.ShardID, ShardCount: d.ShardCount,
		}, a.log.With("platform", "discord"))
		if err != nil {
			return fmt.Errorf("discord: %w", err)
		}
		a.adapters = append(a.adapters, dc)
	}
	outboxes := make(map[bot.Platform]bot.Outbox, len(a.adapters))
	for _, ad := range a.adapters {
		a.engine.AddOutbox(ad.Platform(), ad)
		outboxes[ad.Platform()] = ad
		if c, ok := ad.(metrics.Connector); ok {
			a.health.AddCheck(metrics.AdapterCheck(string(ad.Platform()), c))
		}
	}
	// Replies a crash left streaming are finished on their platform with
	// a notice before new messages are taken.
	if n, err := ops.RecoverInterrupted(ctx, store, outboxes, a.log); err != nil {
		a.log.Warn("crash recovery incomplete", "recovered", n, "err", err)
	} else if n > 0 {
		a.log.Info("finished replies interrupted by a crash", "count", n)
	}
	return nil
}

func slackOptions(c config.Slack) slack.Options {
	return slack.Options{
		Mode: c.Mode, BotToken: c.BotToken.Value(), AppToken: c.AppToken.Value(), SigningSecret: c.SigningSecret.Value(),
		Listen: c.Listen, APIURL: c.APIURL, Command: c.Command, Admins: c.Admins,
		ReplyInThreadsWithoutMention: c.ReplyInThreadsWithoutMention, RespondToBots: c.RespondToBots,
		Streaming: c.Streaming, MaxMessageChars: c.MaxMessageChars,
	}
}

func settingsFrom(cfg *config.Config, model string) bot.Settings {
	return bot.Settings{SystemPrompt: cfg.Bot.SystemPrompt, Model: model, ChannelModels: cfg.LLM.ChannelModels}
}

func (a *App) filterOptions(f config.Filters) filters.Options {
	channels := make(map[string]filters.ChannelRules, len(f.Channels))
	for k, c := range f.Channels {
		channels[k] = filters.ChannelRules{Add: c.Add, Remove: c.Remove}
	}
	return filters.Options{
		Words: f.Words, Files: f.Files, Channels: channels,
		NormalizeWidth: f.NormalizeWidth, CaseFold: f.CaseFold, StripInvisible: f.StripInvisible, StripSeparators: f.StripSeparators,
		Action: f.Action, InputNotice: f.InputNotice, OutputNotice: f.OutputNotice, LogText: f.LogText, Logger: a.log,
		OnHit: a.metrics.FilterHit,
	}
}

// serve runs the adapters until ctx ends or one of them returns, then
// shuts the engine down within the configured timeout.
func (a *App) serve(ctx context.Context) error {
	runCtx, stopAdapters := context.WithCancel(context.Background())
	defer stopAdapters()
	errs := make(chan error, len(a.adapters))
	var wg sync.WaitGroup
	for _, ad := range a.adapters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ad.Run(runCtx, a.engine)
			if err != nil {
				err = fmt.Errorf("%s: %w", ad.Platform(), err)
			}
			errs <- err
		}()
	}
	var bg sync.WaitGroup
	if a.filter != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			_ = a.filter.Watch(runCtx, 2*time.Second)
		}()
	}
	a.notify(ops.StateReady)
	a.log.Info("parley started", "version", version, "adapters", len(a.adapters), "model", a.engine.Settings().Model)

	var runErr error
wait:
	for {
		select {
		case <-ctx.Done():
			a.log.Info("shutting down: finishing replies in flight", "timeout", a.Config.Bot.ShutdownTimeout.Duration)
			break wait
		case runErr = <-errs:
			// The console returns nil when its input ends; a platform
			// returns an error only when it cannot go on.
			break wait
		case <-a.Env.Reload:
			a.notify(ops.StateReloading)
			if err := a.reload(); err != nil {
				a.log.Error("reload refused; keeping the running config", "err", err)
			}
			a.notify(ops.StateReady)
		}
	}
	a.notify(ops.StateStopping)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.Bot.ShutdownTimeout.Duration)
	shutdownErr := a.engine.Shutdown(sctx)
	cancel()
	stopAdapters()
	wg.Wait()
	bg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && runErr == nil {
			runErr = err
		}
	}
	return errors.Join(runErr, shutdownErr)
}

// newLogger returns a text logger on a terminal and JSON otherwise (per
// log.format). In an interactive console session only warnings and errors
// are shown, so logs do not break into the conversation.
func newLogger(c config.Log, w io.Writer, interactiveConsole bool) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	if interactiveConsole && level < slog.LevelWarn && c.Level != config.LevelDebug {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == config.FormatAuto {
		format = config.FormatText
		if f, ok := w.(interface{ Fd() uintptr }); !ok || !isTerminal(f.Fd()) {
			format = config.FormatJSON
		}
	}
	if format == config.FormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// reload re-reads the config file (SIGHUP) and applies what can change
// without dropping connections: prompts and models, the word filter, limits
// and quota defaults. An invalid file changes nothing: every part is
// checked before any is applied.
func (a *App) reload() error {
	cfg, err := config.Load(a.ConfigPath, a.Env.Getenv)
	if err != nil {
		return err
	}
	applyFilter := func() {}
	if a.filter != nil {
		if applyFilter, err = a.filter.Prepare(a.filterOptions(cfg.Filters)); err != nil {
			return fmt.Errorf("word filter: %w", err)
		}
	}
	model := cfg.LLM.Model
	if a.demo != nil {
		model = fakeopenai.DemoModel
	}
	lopts, err := a.limitsOptions(cfg)
	if err != nil {
		return err
	}
	// The gate checks its options before it changes anything.
	if err := a.gate.Reload(lopts); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	applyFilter()
	a.engine.SetSettings(settingsFrom(cfg, model))
	a.log.Info("config reloaded", "path", a.ConfigPath)
	return nil
}

// limitsOptions converts the [limits] and [quotas] sections.
func (a *App) limitsOptions(cfg *config.Config) (limits.Options, error) {
	l := cfg.Limits
	o := limits.Options{
		Channel:   limits.Limit{Count: l.Rate.Count, Per: l.Rate.Per, Burst: l.Burst},
		User:      limits.Limit{Count: l.UserRate.Count, Per: l.UserRate.Per, Burst: l.UserBurst},
		QueueSize: l.QueueSize, MaxWait: l.MaxWait.Duration, Logger: a.log,
		OnQueueDepth: a.metrics.QueueDepth, OnQueueWait: a.metrics.QueueWait,
		Channels: make(map[bot.ChannelKey]limits.Limit, len(l.Channels)),
		Quotas: map[limits.Kind]int64{
			{Scope: limits.ScopeUser, Unit: limits.Tokens, Period: limits.Day}:        int64(cfg.Quotas.UserTokensPerDay),
			{Scope: limits.ScopeChannel, Unit: limits.Tokens, Period: limits.Day}:     int64(cfg.Quotas.ChannelTokensPerDay),
			{Scope: limits.ScopeWorkspace, Unit: limits.Tokens, Period: limits.Month}: int64(cfg.Quotas.WorkspaceTokensPerMonth),
			{Scope: limits.ScopeUser, Unit: limits.Requests, Period: limits.Day}:      int64(cfg.Quotas.UserRequestsPerDay),
		},
	}
	for k, c := range l.Channels {
		ck, err := config.ParseChannelKey(k)
		if err != nil {
			return o, fmt.Errorf("limits.channels.%q: %w", k, err)
		}
		o.Channels[ck] = limits.Limit{Count: c.Rate.Count, Per: c.Rate.Per, Burst: c.Burst}
	}
	return o, nil
}
