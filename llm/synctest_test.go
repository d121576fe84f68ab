package llm_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// pipeListener is an in-memory listener: connections are net.Pipe pairs,
// whose blocking operations synctest treats as durable, so fake time can
// advance while client and server wait on each other.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "fake.openai" }

// withPipeFake runs fn in a synctest bubble against a fake served over pipes.
func withPipeFake(t *testing.T, opts fakeopenai.Options, cfg llm.Config, fn func(*testing.T, *fakeopenai.Server, *llm.Client)) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		opts.Listener = ln
		opts.Logger = slog.New(slog.DiscardHandler)
		srv, err := fakeopenai.Start(opts)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{DialContext: ln.dial}
		cfg.BaseURL, cfg.Transport, cfg.Logger = srv.URL(), tr, slog.New(slog.DiscardHandler)
		c, err := llm.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, srv, c)
		tr.CloseIdleConnections()
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// A slow but steady model (a chunk every 20s) passes a 30s idle limit, a
// 45s first-token limit and a 10-minute total limit; a 15s idle limit
// stops it after the first token.
func TestIdleWatchdogFakeTime(t *testing.T) {
	opts := fakeopenai.Options{ChunkDelay: 20 * time.Second, Answer: func(fakeopenai.Request) string { return "one two three" }}
	cfg := llm.Config{FirstTokenTimeout: 45 * time.Second, IdleTimeout: 30 * time.Second, TotalTimeout: 10 * time.Minute}
	withPipeFake(t, opts, cfg, func(t *testing.T, _ *fakeopenai.Server, c *llm.Client) {
		start := time.Now()
		comp, err := c.Stream(t.Context(), hello(), nil)
		if err != nil || comp.Text != "one two three" {
			t.Fatalf("slow steady stream: %+v, %v", comp, err)
		}
		// role, 3 tokens, finish, usage, [DONE]: six gaps of 20s.
		if took := time.Since(start); took != 120*time.Second {
			t.Errorf("took %v of fake time, want 2m", took)
		}
	})
	cfg.IdleTimeout = 15 * time.Second
	withPipeFake(t, opts, cfg, func(t *testing.T, _ *fakeopenai.Server, c *llm.Client) {
		start := time.Now()
		comp, err := c.Stream(t.Context(), hello(), nil)
		me := wantClass(t, err, bot.ModelTimeout)
		if me.Message != "no data for 15s mid-stream" || comp.Text != "one" {
			t.Errorf("error %q, text %q", me.Message, comp.Text)
		}
		// The role chunk comes at once, the first token at 20s, then 15s
		// pass without data.
		if took := time.Since(start); took != 35*time.Second {
			t.Errorf("timed out after %v of fake time, want 35s", took)
		}
	})
}

// Keep-alive comments do not count as tokens: a model that only sends
// them still hits the first-token limit.
func TestFirstTokenIgnoresKeepAlivesFakeTime(t *testing.T) {
	opts := fakeopenai.Options{}
	cfg := llm.Config{FirstTokenTimeout: 30 * time.Second}
	withPipeFake(t, opts, cfg, func(t *testing.T, srv *fakeopenai.Server, c *llm.Client) {
		srv.Enqueue(fakeopenai.Fault{StallAfterChunks: 1, KeepAlivesBetweenChunks: 5})
		start := time.Now()
		_, err := c.Stream(t.Context(), hello(), nil)
		if me := wantClass(t, err, bot.ModelTimeout); me.Message != "no first token within 30s" {
			t.Errorf("message %q", me.Message)
		}
		if took := time.Since(start); took != 30*time.Second {
			t.Errorf("took %v, want 30s", took)
		}
	})
}
