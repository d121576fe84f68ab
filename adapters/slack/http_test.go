package slack

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

type httpHarness struct {
	*harness
	url string
}

func startHTTP(t *testing.T) *httpHarness {
	t.Helper()
	return startHTTPWith(t, newFake(t, slackfake.Options{}), newRecorder())
}

// startHTTPWith runs an HTTP-mode adapter delivering to handler.
func startHTTPWith(t *testing.T, fake *slackfake.Fake, handler bot.Handler) *httpHarness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := baseOptions(fake)
	opts.Mode, opts.AppToken, opts.SigningSecret, opts.Listener = ModeHTTP, "", testSecret, ln
	h := runAdapter(t, fake, opts, handler)
	return &httpHarness{harness: h, url: "http://" + ln.Addr().String() + "/slack/events"}
}

// post sends body signed at ts (with secret) and returns status and body.
func (h *httpHarness) post(contentType string, body []byte, ts time.Time, secret string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Sign(secret, ts.Unix(), body))
	// The adapter answers from its own goroutines; wait for it to listen.
	var resp *http.Response
	eventually(h.t, "HTTP listener", func() bool {
		resp, err = http.DefaultClient.Do(req.Clone(h.t.Context()))
		if err != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		return err == nil
	})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (h *httpHarness) postEvent(eventID string, inner map[string]any, ts time.Time, secret string) int {
	h.t.Helper()
	body, err := json.Marshal(h.fake.EventCallback(eventID, inner))
	if err != nil {
		h.t.Fatal(err)
	}
	status, _ := h.post("application/json", body, ts, secret)
	return status
}

func TestHTTPSignatures(t *testing.T) {
	h := startHTTP(t)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		ts     time.Time
		secret string
		want   int
	}{
		{"bad signature", now, "not-the-secret", http.StatusUnauthorized},
		{"six minutes old", now.Add(-6 * time.Minute), testSecret, http.StatusUnauthorized},
		{"six minutes ahead", now.Add(6 * time.Minute), testSecret, http.StatusUnauthorized},
	} {
		if got := h.postEvent("", mention("C1", "U1", "<@UBOT> "+tc.name, h.fake.NextTS(), ""), tc.ts, tc.secret); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := h.postEvent("", mention("C1", "U1", "<@UBOT> valid", "1700000900.000001", ""), now.Add(-4*time.Minute), testSecret); got != http.StatusOK {
		t.Fatalf("valid request: status %d, want 200", got)
	}
	// Only the valid request reaches the handler.
	h.settle(1)
	msgs := h.rec.messages()
	if len(msgs) != 1 || msgs[0].Text != "valid" {
		t.Fatalf("processed %+v, want only the valid request", msgs)
	}
	if h.a.processed.Load() != 1 {
		t.Errorf("processed %d events, want 1", h.a.processed.Load())
	}
}

func TestHTTPRetriesHandledOnce(t *testing.T) {
	h := startHTTP(t)
	inner := mention("C1", "U1", "<@UBOT> once", "1700000901.000001", "")
	for range 3 {
		if got := h.postEvent("EvSame", inner, time.Now(), testSecret); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
	}
	h.postEvent("EvOther", message("C1", "channel", "U1", "<@UBOT> once", "1700000901.000001", ""), time.Now(), testSecret)
	h.settle(4)
	if n := len(h.rec.messages()); n != 1 {
		t.Fatalf("handled %d times, want once", n)
	}
}

func TestHTTPURLVerification(t *testing.T) {
	h := startHTTP(t)
	body := []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	status, got := h.post("application/json", body, time.Now(), testSecret)
	if status != http.StatusOK || got != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("challenge answer %d %q", status, got)
	}
}

func TestHTTPSlashCommand(t *testing.T) {
	h := startHTTP(t)
	form := h.fake.SlashCommand("C1", "U1", "/parley", "help", "h1")
	status, body := h.post("application/x-www-form-urlencoded", []byte(form.Encode()), time.Now(), testSecret)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	var p commandPayload
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.ResponseType != "ephemeral" || !strings.Contains(p.Text, "help") {
		t.Errorf("answer %q (%v), want the ephemeral help", body, err)
	}
	// A forged command is refused before it reaches the handler.
	status, _ = h.post("application/x-www-form-urlencoded", []byte(form.Encode()), time.Now(), "forged")
	if status != http.StatusUnauthorized {
		t.Errorf("forged command: status %d, want 401", status)
	}
	if _, _, _, cmds := h.rec.snapshot(); len(cmds) != 1 {
		t.Errorf("handler saw %d commands, want 1", len(cmds))
	}
}

func TestVerifySignature(t *testing.T) {
	// Slack's documented example ("Verifying requests from Slack").
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	const slackSig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	now := time.Unix(1531420618, 0)
	if got := Sign(testSecret, 1531420618, body); got != slackSig {
		t.Fatalf("Sign = %s, want Slack's %s", got, slackSig)
	}
	hdr := http.Header{}
	hdr.Set("X-Slack-Request-Timestamp", "1531420618")
	hdr.Set("X-Slack-Signature", slackSig)
	if err := verifySignature(testSecret, hdr, body, now); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, mutate := range map[string]func(h http.Header) ([]byte, time.Time){
		"body changed":   func(http.Header) ([]byte, time.Time) { return append([]byte("x"), body...), now },
		"no timestamp":   func(h http.Header) ([]byte, time.Time) { h.Del("X-Slack-Request-Timestamp"); return body, now },
		"no signature":   func(h http.Header) ([]byte, time.Time) { h.Del("X-Slack-Signature"); return body, now },
		"v1 signature":   func(h http.Header) ([]byte, time.Time) { h.Set("X-Slack-Signature", "v1=00"); return body, now },
		"not hex":        func(h http.Header) ([]byte, time.Time) { h.Set("X-Slack-Signature", "v0=zz"); return body, now },
		"5 min 1 s late": func(http.Header) ([]byte, time.Time) { return body, now.Add(5*time.Minute + time.Second) },
	} {
		h := hdr.Clone()
		b, at := mutate(h)
		if err := verifySignature(testSecret, h, b, at); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := verifySignature(testSecret, hdr, body, now.Add(5*time.Minute)); err != nil {
		t.Errorf("exactly 5 minutes old refused: %v", err)
	}
}
