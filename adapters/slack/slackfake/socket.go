package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ErrAckTimeout is returned when an envelope was not acked in time.
var ErrAckTimeout = errors.New("slackfake: envelope not acknowledged within the deadline")

// errDropped is returned when the socket went away before the ack.
var errDropped = errors.New("slackfake: socket closed before the ack")

// sockConn is one Socket Mode connection.
type sockConn struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	mu      sync.Mutex
	acks    map[string]chan json.RawMessage
	done    chan struct{}
}

func (c *sockConn) write(v any) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

func (f *Fake) serveSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := f.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &sockConn{ws: ws, acks: make(map[string]chan json.RawMessage), done: make(chan struct{})}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		ws.Close()
		return
	}
	f.wg.Add(1) // under mu while not closed: Close's Wait comes after
	defer f.wg.Done()
	f.connections++
	f.conns[c] = true
	f.conn = c
	close(f.connChanged)
	f.connChanged = make(chan struct{})
	f.mu.Unlock()

	if err := c.write(map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "fake", "approximate_connection_time": 3600},
		"connection_info": map[string]any{"app_id": "AFAKE"}}); err != nil {
		ws.Close()
		return
	}
	f.wg.Go(func() { f.ping(c) })
	// Read loop: acks from the client. Runs in the server's handler
	// goroutine, which httptest's Close waits for.
	defer func() {
		close(c.done)
		ws.Close()
		f.mu.Lock()
		delete(f.conns, c)
		if f.conn == c {
			f.conn = nil
			close(f.connChanged)
			f.connChanged = make(chan struct{})
		}
		f.mu.Unlock()
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := ws.ReadJSON(&ack); err != nil {
			return
		}
		c.mu.Lock()
		ch, ok := c.acks[ack.EnvelopeID]
		delete(c.acks, ack.EnvelopeID)
		c.mu.Unlock()
		if ok {
			ch <- ack.Payload
		}
	}
}

func (f *Fake) ping(c *sockConn) {
	t := time.NewTicker(f.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.writeMu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second))
			c.writeMu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// Connections is how many Socket Mode connections were opened so far.
func (f *Fake) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connections
}

// EventsSent is how many events_api envelopes were written to the app
// (echoes of the bot's own messages included), less those lost with a
// dropped socket.
func (f *Fake) EventsSent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.eventsSent
}

// EventsAcked is how many events_api envelopes were acknowledged,
// including the echoes of the bot's own messages.
func (f *Fake) EventsAcked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.eventsAcked
}

// LateAcks is how many envelopes missed the ack deadline.
func (f *Fake) LateAcks() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lateAcks
}

// WaitConnections waits until at least n connections were opened and one
// is live.
func (f *Fake) WaitConnections(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		ok := f.connections >= n && f.conn != nil
		ch := f.connChanged
		closed := f.closed
		f.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return errClosed
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for socket connection %d: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// current waits for a live connection.
func (f *Fake) current(ctx context.Context) (*sockConn, error) {
	for {
		f.mu.Lock()
		c, ch, closed := f.conn, f.connChanged, f.closed
		f.mu.Unlock()
		if closed {
			return nil, errClosed
		}
		if c != nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no socket connection: %w", ctx.Err())
		case <-ch:
		}
	}
}

// SendEnvelope sends one Socket Mode envelope of type typ over the live
// connection (waiting for one) and waits for its ack; it returns the ack's
// payload, or ErrAckTimeout after the deadline.
func (f *Fake) SendEnvelope(ctx context.Context, typ string, payload any, retryAttempt int) (json.RawMessage, error) {
	c, err := f.current(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.envelopeSeq++
	id := fmt.Sprintf("env-%06d", f.envelopeSeq)
	f.mu.Unlock()
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.acks[id] = ch
	c.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": typ == "slash_commands", "retry_attempt": retryAttempt}
	if retryAttempt > 0 {
		env["retry_reason"] = "timeout"
	}
	sent := func(delta int) {
		if typ == "events_api" {
			f.mu.Lock()
			f.eventsSent += delta
			f.mu.Unlock()
		}
	}
	sent(1)
	if err := c.write(env); err != nil {
		sent(-1)
		return nil, fmt.Errorf("send envelope %s: %w", id, err)
	}
	t := time.NewTimer(f.opts.AckDeadline)
	defer t.Stop()
	select {
	case p := <-ch:
		if typ == "events_api" {
			f.mu.Lock()
			f.eventsAcked++
			f.mu.Unlock()
		}
		return p, nil
	case <-t.C:
		f.mu.Lock()
		f.lateAcks++
		f.mu.Unlock()
		return nil, fmt.Errorf("envelope %s: %w", id, ErrAckTimeout)
	case <-c.done:
		sent(-1)
		return nil, fmt.Errorf("envelope %s: %w", id, errDropped)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// EventCallback wraps an inner event in the Events API's outer
// event_callback object, as Slack delivers it (Socket Mode payload or HTTP
// body). An empty eventID gets a fresh one.
func (f *Fake) EventCallback(eventID string, inner map[string]any) map[string]any {
	if eventID == "" {
		f.mu.Lock()
		f.eventSeq++
		eventID = fmt.Sprintf("Ev%08d", f.eventSeq)
		f.mu.Unlock()
	}
	return map[string]any{
		"token": "verification-token", "team_id": f.opts.TeamID, "api_app_id": "AFAKE",
		"event": inner, "type": "event_callback", "event_id": eventID,
		"event_time": time.Now().Unix(), "authorizations": []map[string]any{{"team_id": f.opts.TeamID, "user_id": f.opts.BotUserID, "is_bot": true}},
	}
}

// SendEvent delivers an events_api envelope and waits for its ack.
func (f *Fake) SendEvent(ctx context.Context, eventID string, inner map[string]any) error {
	_, err := f.SendEnvelope(ctx, "events_api", f.EventCallback(eventID, inner), 0)
	return err
}

// SlashCommand is the form of a slash command invocation.
func (f *Fake) SlashCommand(channel, user, command, text, responseID string) url.Values {
	return url.Values{
		"token": {"verification-token"}, "team_id": {f.opts.TeamID}, "team_domain": {"fake"},
		"channel_id": {channel}, "channel_name": {"general"}, "user_id": {user}, "user_name": {user},
		"command": {command}, "text": {text}, "api_app_id": {"AFAKE"},
		"response_url": {f.ResponseURL(responseID)}, "trigger_id": {"trigger-" + responseID},
	}
}

// SendSlashCommand delivers a slash_commands envelope and returns the ack's
// payload (the ephemeral answer, or empty when the app will answer via
// response_url).
func (f *Fake) SendSlashCommand(ctx context.Context, form url.Values) (json.RawMessage, error) {
	payload := map[string]string{}
	for k, v := range form {
		payload[k] = v[0]
	}
	return f.SendEnvelope(ctx, "slash_commands", payload, 0)
}

// Disconnect sends Slack's disconnect envelope (reason: refresh_requested,
// warning, link_disabled); Slack closes the socket a little later, the
// client is expected to reconnect first.
func (f *Fake) Disconnect(ctx context.Context, reason string) error {
	c, err := f.current(ctx)
	if err != nil {
		return err
	}
	return c.write(map[string]any{"type": "disconnect", "reason": reason,
		"debug_info": map[string]any{"host": "fake"}})
}

// DropSocket closes the live socket without a close frame, like a network
// failure.
func (f *Fake) DropSocket() {
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	if c != nil {
		_ = c.ws.NetConn().Close()
	}
}

func (f *Fake) queueEcho(inner map[string]any) {
	select {
	case f.echo <- echoEvent{inner: inner}:
	default: // a test that floods updates does not need every echo
	}
}

// runEcho delivers the events the bot's own posts cause, in order.
func (f *Fake) runEcho() {
	for {
		select {
		case <-f.ctx.Done():
			return
		case e := <-f.echo:
			ctx, cancel := context.WithTimeout(f.ctx, f.opts.AckDeadline)
			_ = f.SendEvent(ctx, "", e.inner)
			cancel()
		}
	}
}
