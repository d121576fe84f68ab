package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/parley-bot/parley/bot"
)

// maxRequestAge is how old a signed request may be (Slack's replay window).
const maxRequestAge = 5 * time.Minute

// maxBody bounds request bodies; Slack's are a few kilobytes.
const maxBody = 1 << 20

// errBadSignature is answered with 401.
var errBadSignature = errors.New("bad request signature")

// verifySignature checks Slack's v0 signature: HMAC-SHA256 of
// "v0:timestamp:body" with the signing secret, compared in constant time,
// and a timestamp within five minutes of now.
func verifySignature(secret string, header http.Header, body []byte, now time.Time) error {
	ts := header.Get("X-Slack-Request-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or malformed X-Slack-Request-Timestamp", errBadSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxRequestAge || age < -maxRequestAge {
		return fmt.Errorf("%w: timestamp %s old, more than %s", errBadSignature, age.Round(time.Second), maxRequestAge)
	}
	sig, ok := strings.CutPrefix(header.Get("X-Slack-Signature"), "v0=")
	if !ok {
		return fmt.Errorf("%w: missing v0 X-Slack-Signature", errBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", errBadSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: signature mismatch", errBadSignature)
	}
	return nil
}

// Sign returns the X-Slack-Signature for body at ts; the fake and tests
// use it to sign requests the way Slack does.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// runHTTP serves the Events API and slash commands until ctx ends.
func (a *Adapter) runHTTP(ctx context.Context, h bot.Handler, wg *sync.WaitGroup) error {
	ln := a.opts.Listener
	if ln == nil {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", a.opts.Listen)
		if err != nil {
			return fmt.Errorf("slack http listen on %s: %w", a.opts.Listen, err)
		}
	}
	srv := &http.Server{
		Handler:           a.httpHandler(ctx, h, wg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
	}
	a.log.Info("slack events API listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	// Owned: both exits below wait for errc.
	go func() { errc <- srv.Serve(ln) }()
	a.connected.Store(true)
	defer a.connected.Store(false)
	select {
	case err := <-errc:
		return fmt.Errorf("slack http server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	<-errc
	return nil
}

// httpHandler verifies every request, answers at once and processes events
// on goroutines in wg. Events and slash commands may share one URL or use
// /slack/events and /slack/commands: the body tells them apart.
func (a *Adapter) httpHandler(ctx context.Context, h bot.Handler, wg *sync.WaitGroup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusBadRequest)
			return
		}
		if err := verifySignature(a.opts.SigningSecret, r.Header, body, time.Now()); err != nil {
			a.log.Warn("slack request refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			a.serveForm(ctx, h, wg, w, body)
			return
		}
		a.serveEvent(ctx, h, wg, w, body, r.Header.Get("X-Slack-Retry-Num"))
	})
}

func (a *Adapter) serveEvent(ctx context.Context, h bot.Handler, wg *sync.WaitGroup, w http.ResponseWriter, body []byte, retry string) {
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		EventID   string `json:"event_id"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "malformed JSON", http.StatusBadRequest)
		return
	}
	switch outer.Type {
	case slackevents.URLVerification:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, outer.Challenge)
		return
	case slackevents.CallbackEvent:
	default:
		// app_rate_limited and future types need only an ack.
		w.WriteHeader(http.StatusOK)
		return
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		// Acked anyway: a redelivery would fail the same way.
		a.log.Warn("slack event not understood", "event_id", outer.EventID, "err", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	if retry != "" {
		a.log.Debug("slack event redelivered", "event_id", outer.EventID, "retry", retry)
	}
	wg.Go(func() { a.handleEventsAPI(ctx, h, ev, outer.EventID) })
}

func (a *Adapter) serveForm(ctx context.Context, h bot.Handler, wg *sync.WaitGroup, w http.ResponseWriter, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	if form.Get("command") == "" {
		// Interactivity payloads: nothing to do, but Slack wants the ack.
		w.WriteHeader(http.StatusOK)
		return
	}
	cmd := slack.SlashCommand{
		TeamID: form.Get("team_id"), TeamDomain: form.Get("team_domain"),
		ChannelID: form.Get("channel_id"), ChannelName: form.Get("channel_name"),
		UserID: form.Get("user_id"), UserName: form.Get("user_name"),
		Command: form.Get("command"), Text: form.Get("text"),
		ResponseURL: form.Get("response_url"), TriggerID: form.Get("trigger_id"),
		APIAppID: form.Get("api_app_id"),
	}
	a.answerCommand(ctx, h, cmd, wg, func(payload any) {
		if payload == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(payload)
	})
}
