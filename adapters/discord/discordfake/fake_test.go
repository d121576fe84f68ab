package discordfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func patch(t *testing.T, s *Server, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, s.URL+apiPrefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEditBucketHeadersAnd429Body(t *testing.T) {
	s := New(Options{Token: "tok", EditLimit: 2, EditWindow: 2 * time.Second, NoEcho: true})
	defer s.Close()
	s.AddChannel("g", "c", "general")
	s.AddUser(User{ID: "u", Username: "u"})
	s.mu.Lock()
	m := &Message{ID: s.newID(), ChannelID: "c", GuildID: "g", AuthorID: s.opts.BotID, Content: "x", History: []string{"x"}}
	s.messages[m.ID] = m
	s.mu.Unlock()

	for i, wantRemaining := range []string{"1", "0"} {
		resp := patch(t, s, "/channels/c/messages/"+m.ID, `{"content":"v"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("edit %d: %s", i, resp.Status)
		}
		h := resp.Header
		if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != wantRemaining || h.Get("X-RateLimit-Bucket") == "" {
			t.Errorf("edit %d headers = %v", i, h)
		}
		if after := h.Get("X-RateLimit-Reset-After"); after == "" || after > "2.000" {
			t.Errorf("Reset-After = %q", after)
		}
		if h.Get("X-RateLimit-Reset") == "" {
			t.Errorf("no X-RateLimit-Reset")
		}
	}
	resp := patch(t, s, "/channels/c/messages/"+m.ID, `{"content":"v"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-RateLimit-Scope") != "user" {
		t.Fatalf("third edit: %s %v", resp.Status, resp.Header)
	}
	var body struct {
		Message    string  `json:"message"`
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Message != "You are being rate limited." || body.RetryAfter <= 0 || body.RetryAfter > 2 || body.Global {
		t.Errorf("429 body = %+v", body)
	}
	if got := s.Rejected(); got.Edit != 1 || got.Global != 0 {
		t.Errorf("rejections = %+v", got)
	}
	if got, _ := s.Message(m.ID); len(got.History) != 3 {
		t.Errorf("history = %q, want the two accepted edits", got.History)
	}
}

func TestGlobalLimitAndAuth(t *testing.T) {
	s := New(Options{Token: "tok", GlobalLimit: 3})
	defer s.Close()
	req, _ := http.NewRequest(http.MethodGet, s.URL+apiPrefix+"/users/@me", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %s", resp.Status)
	}
	codes := []int{}
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, s.URL+apiPrefix+"/users/@me", nil)
		req.Header.Set("Authorization", "Bot tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("X-RateLimit-Global") != "true" {
			t.Errorf("global 429 without X-RateLimit-Global")
		}
	}
	// The unauthenticated request is refused before it counts.
	if codes[2] != 200 || codes[3] != 429 || codes[4] != 429 {
		t.Errorf("codes = %v, want three 200s then 429s", codes)
	}
	if s.Rejected().Global != 2 {
		t.Errorf("global rejections = %d", s.Rejected().Global)
	}
}
