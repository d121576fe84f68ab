package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

type fakeAdapter struct{ up atomic.Bool }

func (a *fakeAdapter) Connected() bool { return a.up.Load() }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthAndReadiness(t *testing.T) {
	m := New("dev")
	var storeErr atomic.Pointer[error]
	store := ReadinessCheck{Name: "store", Check: func(context.Context) error {
		if p := storeErr.Load(); p != nil {
			return *p
		}
		return nil
	}}
	slack := &fakeAdapter{}
	slack.up.Store(true)
	s := NewServer(m, ServerOptions{Checks: []ReadinessCheck{store, AdapterCheck("slack", slack)}})
	h := s.Handler()

	if code, body := get(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with all up = %d %q", code, body)
	}

	slack.up.Store(false)
	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "slack: not connected") {
		t.Fatalf("/readyz with slack down = %d %q", code, body)
	}
	slack.up.Store(true)
	if code, body := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after reconnect = %d %q", code, body)
	}

	closed := errors.New("conversation store closed")
	storeErr.Store(&closed)
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "store: conversation store closed") {
		t.Fatalf("/readyz with store closed = %d %q", code, body)
	}
	storeErr.Store(nil)

	// A check added later (an adapter built after the server) counts too.
	discord := &fakeAdapter{}
	s.AddCheck(AdapterCheck("discord", discord))
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "discord") || strings.Contains(body, "slack") {
		t.Fatalf("/readyz with discord down = %d %q", code, body)
	}
}

func TestReadinessCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	stuck := ReadinessCheck{Name: "stuck", Check: func(context.Context) error {
		calls.Add(1)
		<-release // ignores ctx on purpose
		return nil
	}}
	s := NewServer(New("dev"), ServerOptions{Checks: []ReadinessCheck{stuck}, CheckTimeout: 10 * time.Millisecond})
	failed := s.Ready(context.Background())
	if !errors.Is(failed["stuck"], context.DeadlineExceeded) {
		t.Fatalf("stuck check: %v", failed)
	}
	// Probes while it hangs fail without starting it again.
	for range 5 {
		if failed := s.Ready(context.Background()); failed["stuck"] == nil {
			t.Fatal("a hung check reported ready")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("hung check started %d times, want 1", n)
	}
	// Once it answers, it runs again.
	close(release)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if failed := s.Ready(context.Background()); failed == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("check never ran again after it answered")
		}
	}
}

func TestServerStartServeShutdown(t *testing.T) {
	m := New("v0.1.0")
	s := NewServer(m, ServerOptions{})
	if addr, err := s.Start(context.Background(), ""); err != nil || addr != "" {
		t.Fatalf("empty listen = %q, %v; want off", addr, err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown of a server never started: %v", err)
	}
	addr, err := s.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(context.Background(), "127.0.0.1:0"); err == nil {
		t.Fatal("second Start accepted")
	}

	// After a console conversation the counters and histograms moved.
	key := bot.ThreadKey{Platform: bot.PlatformConsole, Workspace: "local", Channel: "console", Thread: "1"}
	m.EventReceived(bot.PlatformConsole, "message")
	m.MessageAccepted(bot.Message{Platform: bot.PlatformConsole})
	m.ReplyStarted(key)
	m.FirstToken(key, 300*time.Millisecond, 200*time.Millisecond)
	m.Edit(bot.PlatformConsole, 0)
	m.ReplyFinished(key, bot.StatusComplete, bot.Usage{Model: "demo", PromptTokens: 10, CompletionTokens: 5}, time.Second, "")

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`parley_events_received_total{kind="message",platform="console"} 1`,
		`parley_replies_total{platform="console",status="complete"} 1`,
		`parley_first_token_seconds_count{platform="console"} 1`,
		`parley_model_tokens_total{kind="completion",model="demo"} 5`,
		`parley_build_info{goversion=`,
		`process_start_time_seconds`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("server still answers after Shutdown")
	}
}
