package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dial opens the Socket Mode socket the way a client does: through
// apps.connections.open.
func dial(t *testing.T, f *Fake) *websocket.Conn {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.URL()+"apps.connections.open", nil)
	req.Header.Set("Authorization", "Bearer xapp-fake")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var open struct {
		OK  bool   `json:"ok"`
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&open); err != nil || !open.OK || !strings.HasPrefix(open.URL, "ws://") {
		t.Fatalf("apps.connections.open: %+v, %v", open, err)
	}
	ws, _, err := websocket.DefaultDialer.DialContext(t.Context(), open.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	var hello struct{ Type string }
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("first frame %+v, %v; want hello", hello, err)
	}
	return ws
}

func TestAckDeadlineEnforced(t *testing.T) {
	f := New(Options{AckDeadline: 200 * time.Millisecond})
	defer f.Close()
	ws := dial(t, f)

	// A client that reads but never acks.
	read := make(chan map[string]any, 4)
	go func() {
		defer close(read)
		for {
			var env map[string]any
			if err := ws.ReadJSON(&env); err != nil {
				return
			}
			read <- env
		}
	}()
	err := f.SendEvent(t.Context(), "Ev1", map[string]any{"type": "app_mention"})
	if !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("SendEvent = %v, want ErrAckTimeout", err)
	}
	if f.LateAcks() != 1 {
		t.Errorf("LateAcks = %d, want 1", f.LateAcks())
	}
	env := <-read
	if env["type"] != "events_api" || env["envelope_id"] == "" {
		t.Errorf("envelope %+v", env)
	}
	payload, _ := env["payload"].(map[string]any)
	if payload["event_id"] != "Ev1" || payload["type"] != "event_callback" {
		t.Errorf("payload %+v", payload)
	}
}

func TestAckedEnvelopeReturnsPayload(t *testing.T) {
	f := New(Options{})
	defer f.Close()
	ws := dial(t, f)
	go func() {
		var env struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if ws.ReadJSON(&env) == nil {
			_ = ws.WriteJSON(map[string]any{"envelope_id": env.EnvelopeID, "payload": map[string]string{"text": "ok"}})
		}
	}()
	got, err := f.SendSlashCommand(t.Context(), f.SlashCommand("C1", "U1", "/parley", "help", "r"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"text":"ok"}` {
		t.Errorf("ack payload %s", got)
	}
	if f.EventsAcked() != 0 {
		t.Errorf("a slash command counted as an event")
	}
}

func TestDropAndDisconnect(t *testing.T) {
	f := New(Options{})
	defer f.Close()
	ws := dial(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := f.Disconnect(ctx, "refresh_requested"); err != nil {
		t.Fatal(err)
	}
	var d struct{ Type, Reason string }
	if err := ws.ReadJSON(&d); err != nil || d.Type != "disconnect" || d.Reason != "refresh_requested" {
		t.Fatalf("got %+v, %v", d, err)
	}
	f.DropSocket()
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("socket still readable after DropSocket")
	}
	dial(t, f)
	if err := f.WaitConnections(ctx, 2); err != nil {
		t.Fatal(err)
	}
}

func post(t *testing.T, f *Fake, method string, form url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(f.URL()+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestWebAPIAuthAndLimits(t *testing.T) {
	f := New(Options{EditsPerMinute: 60, EditBurst: 1})
	defer f.Close()
	if _, _, b := post(t, f, "auth.test", url.Values{"token": {"xoxb-wrong"}}); b["ok"] != false || b["error"] != "invalid_auth" {
		t.Errorf("wrong token: %+v", b)
	}
	_, _, b := post(t, f, "chat.postMessage", url.Values{"token": {"xoxb-fake"}, "channel": {"C1"}, "text": {"hi"}, "thread_ts": {"1.1"}})
	ts, _ := b["ts"].(string)
	if b["ok"] != true || ts == "" {
		t.Fatalf("postMessage: %+v", b)
	}
	upd := url.Values{"token": {"xoxb-fake"}, "channel": {"C1"}, "ts": {ts}, "text": {"v2"}}
	if _, _, b := post(t, f, "chat.update", upd); b["ok"] != true {
		t.Fatalf("first update: %+v", b)
	}
	status, hdr, b := post(t, f, "chat.update", upd) // the bucket of 1 is empty
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" || b["error"] != "ratelimited" {
		t.Errorf("second update: %d Retry-After %q %+v", status, hdr.Get("Retry-After"), b)
	}
	post(t, f, "chat.update", upd) // inside the Retry-After window
	if f.RateLimited() != 2 || f.CallsInRetryWindow() != 1 {
		t.Errorf("rejected %d, in window %d; want 2 and 1", f.RateLimited(), f.CallsInRetryWindow())
	}
	if h := f.Thread("C1", "1.1")[0].History; len(h) != 2 || h[1] != "v2" {
		t.Errorf("history %q", h)
	}
	f.Revoke("token_revoked")
	if _, _, b := post(t, f, "auth.test", url.Values{"token": {"xoxb-fake"}}); b["error"] != "token_revoked" {
		t.Errorf("after revoke: %+v", b)
	}
}
