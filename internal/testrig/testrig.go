package testrig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/commands"
	"github.com/parley-bot/parley/conversation"
	"github.com/parley-bot/parley/limits"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
	"github.com/parley-bot/parley/stream"
)

// Options adjust the rig; the zero value is a working default.
type Options struct {
	Model    fakeopenai.Options          // the fake model server (ChunkDelay, Answer, Window…)
	Client   func(*llm.Config)           // changes to the model client's config
	Store    func(*conversation.Options) // changes to the store's options
	Engine   func(*bot.EngineConfig)     // changes to the engine's config
	Renderer func(*stream.Options)       // changes to the renderer's options
	Settings func(*bot.Settings)         // changes to the engine settings
	DBPath   string                      // reuse a database (restart tests); "" = a new temp file
	// Limits, when set, adds the rate-limit and quota gate with these
	// options and the admin commands, as the daemon wires them.
	Limits *limits.Options
	Logger *slog.Logger // nil: discard
}

// Rig is a running engine with real parts.
type Rig struct {
	Engine   *bot.Engine
	Store    *conversation.Store
	Model    *fakeopenai.Server
	Client   *llm.Client
	Renderer *stream.Renderer
	Gate     *limits.Gate // nil unless Options.Limits was set
	DBPath   string

	tempDir  string
	stopOnce sync.Once
	stopErr  error
	adapters sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	t        testing.TB
}

// New starts a rig for a test; it is stopped when the test ends.
func New(t testing.TB, opts Options) *Rig {
	t.Helper()
	if opts.DBPath == "" {
		opts.DBPath = filepath.Join(t.TempDir(), "parley.db")
	}
	r, err := Start(opts)
	if err != nil {
		t.Fatalf("start rig: %v", err)
	}
	r.t = t
	t.Cleanup(func() {
		if err := r.Stop(20 * time.Second); err != nil {
			t.Errorf("stop rig: %v", err)
		}
	})
	return r
}

// Start assembles and starts a rig outside a test (the bench harness).
// Stop it when done.
func Start(opts Options) (r *Rig, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Model.Logger == nil {
		opts.Model.Logger = log
	}
	r = &Rig{DBPath: opts.DBPath}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if r.DBPath == "" {
		if r.tempDir, err = os.MkdirTemp("", "parley-rig-"); err != nil {
			return nil, fmt.Errorf("temp dir: %w", err)
		}
		r.DBPath = filepath.Join(r.tempDir, "parley.db")
	}
	if r.Model, err = fakeopenai.Start(opts.Model); err != nil {
		return nil, fmt.Errorf("start fake model: %w", err)
	}
	ccfg := llm.Config{BaseURL: r.Model.URL(), APIKey: "sk-test-rig", FirstTokenTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second, Logger: log}
	if opts.Client != nil {
		opts.Client(&ccfg)
	}
	if r.Client, err = llm.New(ccfg); err != nil {
		return nil, errors.Join(fmt.Errorf("model client: %w", err), r.Stop(time.Second))
	}
	sopts := conversation.Options{Path: r.DBPath, DefaultModel: "gpt-4o-mini", SummaryModel: r.Client, Logger: log}
	if opts.Limits != nil {
		ms, err := limits.Migrations()
		if err != nil {
			return nil, errors.Join(err, r.Stop(time.Second))
		}
		sopts.Migrations = append(sopts.Migrations, ms...)
	}
	if opts.Store != nil {
		opts.Store(&sopts)
	}
	if r.Store, err = conversation.Open(context.Background(), sopts); err != nil {
		return nil, errors.Join(fmt.Errorf("open store: %w", err), r.Stop(time.Second))
	}
	if opts.Limits != nil {
		lo := *opts.Limits
		if lo.Logger == nil {
			lo.Logger = log
		}
		if r.Gate, err = limits.NewGate(context.Background(), r.Store.DB(), lo); err != nil {
			return nil, errors.Join(fmt.Errorf("limits: %w", err), r.Stop(time.Second))
		}
	}
	ropts := stream.Options{Logger: log}
	if opts.Renderer != nil {
		opts.Renderer(&ropts)
	}
	r.Renderer = stream.NewRenderer(ropts)
	settings := bot.Settings{SystemPrompt: "You are Parley, a test assistant.", Model: "gpt-4o-mini"}
	if opts.Settings != nil {
		opts.Settings(&settings)
	}
	ecfg := bot.EngineConfig{Conversations: r.Store, Model: r.Client, Renderer: r.Renderer, Settings: settings, Logger: log}
	if r.Gate != nil {
		ecfg.Gate, ecfg.Commands = r.Gate, commands.New(r.Gate, log)
	}
	if opts.Engine != nil {
		opts.Engine(&ecfg)
	}
	if r.Engine, err = bot.NewEngine(ecfg); err != nil {
		return nil, errors.Join(fmt.Errorf("engine: %w", err), r.Stop(time.Second))
	}
	return r, nil
}

// Attach registers an adapter's Outbox with the engine without running it.
func (r *Rig) Attach(a bot.Adapter) { r.Engine.AddOutbox(a.Platform(), a) }

// Run attaches the adapter and runs it until the rig stops; the channel
// receives Run's result.
func (r *Rig) Run(a bot.Adapter) <-chan error {
	r.Attach(a)
	done := make(chan error, 1)
	r.adapters.Add(1)
	go func() {
		defer r.adapters.Done()
		done <- a.Run(r.ctx, r.Engine)
	}()
	return done
}

// Idle waits until every accepted message has been answered; it fails the
// test after timeout.
func (r *Rig) Idle(timeout time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.Engine.Idle(ctx); err != nil {
		r.t.Fatalf("engine did not become idle within %s: %d messages in flight", timeout, r.Engine.InFlight())
	}
}

// History returns the stored messages of a thread.
func (r *Rig) History(key bot.ThreadKey) []conversation.StoredMessage {
	r.t.Helper()
	h, err := r.Store.History(context.Background(), key)
	if err != nil {
		r.t.Fatalf("history of %s: %v", key, err)
	}
	return h
}

// Stop drains the engine (within drain), stops the adapters and closes
// every part in the order the daemon does. It is safe to call twice.
func (r *Rig) Stop(drain time.Duration) error {
	r.stopOnce.Do(func() {
		var errs []error
		if r.Engine != nil {
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			errs = append(errs, r.Engine.Shutdown(ctx))
			cancel()
		}
		r.cancel()
		r.adapters.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if r.Renderer != nil {
			errs = append(errs, r.Renderer.Close(ctx))
		}
		if r.Gate != nil {
			errs = append(errs, r.Gate.Close())
		}
		if r.Store != nil {
			errs = append(errs, r.Store.Close(ctx))
		}
		if r.Client != nil {
			errs = append(errs, r.Client.Close())
		}
		if r.Model != nil {
			errs = append(errs, r.Model.Close(ctx))
		}
		if r.tempDir != "" {
			errs = append(errs, os.RemoveAll(r.tempDir))
		}
		r.stopErr = errors.Join(errs...)
	})
	return r.stopErr
}

// Unsplit reduces the messages a long answer was split into, or the answer
// itself, to what must survive the split: its text without the code-fence
// lines a split closes and reopens and without whitespace (splits trim at
// their cuts). Equal results mean no text was lost or repeated.
func Unsplit(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		for _, line := range strings.Split(p, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				continue
			}
			for _, r := range line {
				if !unicode.IsSpace(r) {
					b.WriteRune(r)
				}
			}
		}
	}
	return b.String()
}

// TokensToday is what the rig's gate has booked for target today (used
// and reserved). The rig must come from New with Options.Limits set.
func (r *Rig) TokensToday(target limits.Target) int64 {
	r.t.Helper()
	lines, err := r.Gate.QuotaStatus(r.ctx, target)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, l := range lines {
		if l.Kind.Unit == limits.Tokens && l.Kind.Period == limits.Day {
			return l.Used + l.Reserved
		}
	}
	r.t.Fatalf("no tokens/day line for %s", target)
	return 0
}
