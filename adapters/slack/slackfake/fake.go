package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Options configure a Fake. Zero values get the defaults noted.
type Options struct {
	BotToken  string // accepted bot token, default "xoxb-fake"
	AppToken  string // accepted app token, default "xapp-fake"
	TeamID    string // default "T0001"
	BotUserID string // default "UBOT"
	BotID     string // default "BBOT"
	// EditsPerMinute is the chat.update budget per workspace (default 50,
	// negative: unlimited); EditBurst the bucket's size (default
	// EditsPerMinute).
	EditsPerMinute int
	EditBurst      int
	// AckDeadline is how long an envelope may wait for its ack (default 3 s).
	AckDeadline time.Duration
	// PingInterval is how often the socket is pinged (default 5 s).
	PingInterval time.Duration
	// EchoBotMessages makes the fake deliver, over Socket Mode, the message
	// and message_changed events that the bot's own posts and updates
	// cause on real Slack.
	EchoBotMessages bool
}

// User is a workspace member served by users.info.
type User struct {
	ID          string
	Name        string // handle
	RealName    string
	DisplayName string
	IsAdmin     bool
	IsOwner     bool
	IsBot       bool
}

// Message is a message the bot posted, with every text it has shown.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string      // current text
	History  []string    // every text, first post first
	Times    []time.Time // when each text of History was stored
	// Streamed: started by chat.startStream (Text is the markdown_text
	// received so far); Streaming: not stopped yet.
	Streamed  bool
	Streaming bool
	Recipient string // recipient_user_id of the stream
}

// StreamCall is one call of chat.startStream, chat.appendStream or
// chat.stopStream as the fake judged it.
type StreamCall struct {
	At       time.Time
	Method   string
	Channel  string
	TS       string
	Markdown string // markdown_text
	Error    string // the error answered, "" for ok
}

// UpdateCall is one chat.update call as the fake judged it.
type UpdateCall struct {
	At      time.Time
	Channel string
	TS      string
	Refused bool    // answered ratelimited
	Tokens  float64 // budget left after the call
}

// StatusCall is one assistant.threads.setStatus call.
type StatusCall struct{ Channel, ThreadTS, Status string }

// ResponsePost is one post to a slash command's response_url.
type ResponsePost struct {
	ID           string
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// Fake is a running fake Slack. Close it when done.
type Fake struct {
	opts Options
	srv  *httptest.Server
	up   websocket.Upgrader

	mu          sync.Mutex
	revoked     string // error code every call answers with, "" when none
	users       map[string]User
	messages    map[string]*Message // by channel/ts
	order       []string
	tsCounter   int64
	calls       map[string]int
	statuses    []StatusCall
	responses   []ResponsePost
	tokens      float64 // chat.update bucket
	lastRefill  time.Time
	forced      int // next chat.update calls to refuse
	forcedAfter time.Duration
	windowEnd   time.Time // end of the latest Retry-After window
	rejected    int
	inWindow    int
	conn        *sockConn
	conns       map[*sockConn]bool // every open connection
	connections int
	connChanged chan struct{} // closed and replaced when conn changes
	envelopeSeq int
	lateAcks    int
	eventsAcked int
	eventsSent  int // events_api envelopes written and not known to be lost
	updates     []UpdateCall
	statusErr   string
	streamErr   string // code chat.startStream answers, "" when streaming works
	streamCalls []StreamCall
	eventSeq    int
	closed      bool
	wg          sync.WaitGroup
	echo        chan echoEvent
	ctx         context.Context // ends at Close
	stop        context.CancelFunc
}

type echoEvent struct{ inner map[string]any }

// New starts a fake Slack on a loopback port.
func New(opts Options) *Fake {
	if opts.BotToken == "" {
		opts.BotToken = "xoxb-fake"
	}
	if opts.AppToken == "" {
		opts.AppToken = "xapp-fake"
	}
	if opts.TeamID == "" {
		opts.TeamID = "T0001"
	}
	if opts.BotUserID == "" {
		opts.BotUserID = "UBOT"
	}
	if opts.BotID == "" {
		opts.BotID = "BBOT"
	}
	if opts.EditsPerMinute == 0 {
		opts.EditsPerMinute = 50
	}
	if opts.EditBurst <= 0 {
		opts.EditBurst = max(opts.EditsPerMinute, 1)
	}
	if opts.AckDeadline <= 0 {
		opts.AckDeadline = 3 * time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 5 * time.Second
	}
	f := &Fake{
		opts:        opts,
		users:       make(map[string]User),
		messages:    make(map[string]*Message),
		conns:       make(map[*sockConn]bool),
		calls:       make(map[string]int),
		tokens:      float64(opts.EditBurst),
		lastRefill:  time.Now(),
		connChanged: make(chan struct{}),
		echo:        make(chan echoEvent, 1024),
	}
	f.ctx, f.stop = context.WithCancel(context.Background())
	// slack-go sends Origin: https://api.slack.com, which is not our host.
	f.up.CheckOrigin = func(*http.Request) bool { return true }
	f.users[opts.BotUserID] = User{ID: opts.BotUserID, Name: "parley", DisplayName: "Parley", IsBot: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.serveAPI)
	mux.HandleFunc("/socket", f.serveSocket)
	mux.HandleFunc("/response/", f.serveResponse)
	f.srv = httptest.NewServer(mux)
	f.wg.Go(f.runEcho)
	return f
}

// URL is the Web API base, for slack.OptionAPIURL ("http://…/api/").
func (f *Fake) URL() string { return f.srv.URL + "/api/" }

// ResponseURL is a response_url the fake records posts to.
func (f *Fake) ResponseURL(id string) string { return f.srv.URL + "/response/" + id }

// TeamID, BotUserID and BotID are the fake workspace's identities.
func (f *Fake) TeamID() string    { return f.opts.TeamID }
func (f *Fake) BotUserID() string { return f.opts.BotUserID }
func (f *Fake) BotID() string     { return f.opts.BotID }

// Close drops sockets, stops the server and waits for its goroutines.
func (f *Fake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	for c := range f.conns {
		c.ws.Close()
	}
	f.mu.Unlock()
	f.stop()
	f.srv.CloseClientConnections()
	f.srv.Close()
	f.wg.Wait()
}

// AddUser makes a user known to users.info.
func (f *Fake) AddUser(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.ID] = u
}

// Revoke makes every later call fail with code (invalid_auth,
// token_revoked, account_inactive), as Slack does for a dead token.
func (f *Fake) Revoke(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = code
}

// RefuseStatus makes assistant.threads.setStatus answer with code (as
// for an app that is not an AI app); "" accepts again.
func (f *Fake) RefuseStatus(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusErr = code
}

// RefuseStreaming makes chat.startStream answer with code, as a
// workspace or app that cannot stream does; "" streams again.
func (f *Fake) RefuseStreaming(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streamErr = code
}

// StreamCalls returns every streaming call in arrival order.
func (f *Fake) StreamCalls() []StreamCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]StreamCall(nil), f.streamCalls...)
}

// RateLimitNextUpdates makes the next n chat.update calls answer 429 with
// Retry-After retryAfter (whole seconds, at least 1).
func (f *Fake) RateLimitNextUpdates(n int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forced, f.forcedAfter = n, retryAfter
}

// RateLimited is how many chat.update calls were refused.
func (f *Fake) RateLimited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

// CallsInRetryWindow is how many chat.update calls arrived while a
// Retry-After the fake had given was still running (a client bug).
func (f *Fake) CallsInRetryWindow() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inWindow
}

// Calls is how many times a Web API method was called.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// Messages returns the bot's messages in channel (all channels if ""),
// in posting order.
func (f *Fake) Messages(channel string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, k := range f.order {
		m := f.messages[k]
		if channel == "" || m.Channel == channel {
			c := *m
			c.History = append([]string(nil), m.History...)
			c.Times = append([]time.Time(nil), m.Times...)
			out = append(out, c)
		}
	}
	return out
}

// Thread returns the bot's messages in one thread, in order.
func (f *Fake) Thread(channel, threadTS string) []Message {
	var out []Message
	for _, m := range f.Messages(channel) {
		if m.ThreadTS == threadTS {
			out = append(out, m)
		}
	}
	return out
}

// Statuses returns the assistant.threads.setStatus calls.
func (f *Fake) Statuses() []StatusCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]StatusCall(nil), f.statuses...)
}

// Responses returns the posts to response_url.
func (f *Fake) Responses() []ResponsePost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ResponsePost(nil), f.responses...)
}

// NextTS allocates a fresh message ts, for events a test delivers.
func (f *Fake) NextTS() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nextTSLocked()
}

func (f *Fake) nextTSLocked() string {
	f.tsCounter++
	n := f.tsCounter
	return fmt.Sprintf("%d.%06d", 1700000000+n/1_000_000, n%1_000_000)
}

// --- Web API ---

type apiError struct {
	status     int
	code       string
	retryAfter time.Duration
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	token := r.PostForm.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	f.mu.Lock()
	f.calls[method]++
	revoked := f.revoked
	f.mu.Unlock()

	want := f.opts.BotToken
	if method == "apps.connections.open" {
		want = f.opts.AppToken
	}
	switch {
	case revoked != "":
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": revoked})
		return
	case token == "":
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
		return
	case token != want:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}

	var (
		resp map[string]any
		aerr *apiError
	)
	switch method {
	case "auth.test":
		resp = map[string]any{"url": "https://fake.slack.com/", "team": "Fake", "user": "parley",
			"team_id": f.opts.TeamID, "user_id": f.opts.BotUserID, "bot_id": f.opts.BotID}
	case "apps.connections.open":
		resp = map[string]any{"url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/socket"}
	case "chat.postMessage":
		resp, aerr = f.postMessage(r.PostForm)
	case "chat.update":
		resp, aerr = f.update(r.PostForm)
	case "users.info":
		resp, aerr = f.userInfo(r.PostForm.Get("user"))
	case "chat.startStream":
		resp, aerr = f.startStream(r.PostForm)
	case "chat.appendStream", "chat.stopStream":
		resp, aerr = f.growStream(method, r.PostForm)
	case "assistant.threads.setStatus":
		f.mu.Lock()
		if f.statusErr != "" {
			code := f.statusErr
			f.mu.Unlock()
			aerr = &apiError{status: http.StatusOK, code: code}
			break
		}
		f.statuses = append(f.statuses, StatusCall{Channel: r.PostForm.Get("channel_id"), ThreadTS: r.PostForm.Get("thread_ts"), Status: r.PostForm.Get("status")})
		f.mu.Unlock()
		resp = map[string]any{}
	default:
		aerr = &apiError{status: http.StatusOK, code: "unknown_method"}
	}
	if aerr != nil {
		if aerr.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(aerr.retryAfter.Seconds()))))
		}
		writeJSON(w, aerr.status, map[string]any{"ok": false, "error": aerr.code})
		return
	}
	resp["ok"] = true
	writeJSON(w, http.StatusOK, resp)
}

func (f *Fake) postMessage(form map[string][]string) (map[string]any, *apiError) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	channel, text, thread := get("channel"), get("text"), get("thread_ts")
	if channel == "" {
		return nil, &apiError{status: http.StatusOK, code: "channel_not_found"}
	}
	if text == "" && get("blocks") == "" {
		return nil, &apiError{status: http.StatusOK, code: "no_text"}
	}
	if len([]rune(text)) > 40000 {
		return nil, &apiError{status: http.StatusOK, code: "msg_too_long"}
	}
	f.mu.Lock()
	ts := f.nextTSLocked()
	m := &Message{Channel: channel, TS: ts, ThreadTS: thread, Text: text, History: []string{text}, Times: []time.Time{time.Now()}}
	f.messages[channel+"/"+ts] = m
	f.order = append(f.order, channel+"/"+ts)
	echo := f.opts.EchoBotMessages
	f.mu.Unlock()
	msg := f.echoNew(echo, channel, ts, thread, text)
	return map[string]any{"channel": channel, "ts": ts, "message": msg}, nil
}

// echoNew returns the message the bot posted and, with echo, delivers the
// message event Slack sends for it.
func (f *Fake) echoNew(echo bool, channel, ts, thread, text string) map[string]any {
	msg := map[string]any{"type": "message", "user": f.opts.BotUserID, "bot_id": f.opts.BotID, "text": text, "ts": ts}
	if thread != "" {
		msg["thread_ts"] = thread
	}
	if echo {
		inner := map[string]any{"channel": channel, "channel_type": channelType(channel), "event_ts": ts}
		for k, v := range msg {
			inner[k] = v
		}
		f.queueEcho(inner)
	}
	return msg
}

// echoChanged delivers the message_changed event of a bot message.
func (f *Fake) echoChanged(channel, ts, thread, prev, text string) {
	newMsg := map[string]any{"type": "message", "user": f.opts.BotUserID, "bot_id": f.opts.BotID, "text": text, "ts": ts,
		"edited": map[string]any{"user": f.opts.BotUserID, "ts": ts}}
	prevMsg := map[string]any{"type": "message", "user": f.opts.BotUserID, "bot_id": f.opts.BotID, "text": prev, "ts": ts}
	if thread != "" {
		newMsg["thread_ts"], prevMsg["thread_ts"] = thread, thread
	}
	f.queueEcho(map[string]any{"type": "message", "subtype": "message_changed", "hidden": true, "channel": channel,
		"channel_type": channelType(channel), "ts": ts, "event_ts": ts, "message": newMsg, "previous_message": prevMsg})
}

func channelType(channel string) string {
	switch {
	case strings.HasPrefix(channel, "D"):
		return "im"
	case strings.HasPrefix(channel, "G"):
		return "group"
	}
	return "channel"
}

func (f *Fake) update(form map[string][]string) (map[string]any, *apiError) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	channel, ts, text := get("channel"), get("ts"), get("text")
	f.mu.Lock()
	now := time.Now() // under the lock: concurrent calls refill in order
	aerr := f.admitUpdateLocked(now)
	f.updates = append(f.updates, UpdateCall{At: now, Channel: channel, TS: ts, Refused: aerr != nil, Tokens: f.tokens})
	if aerr != nil {
		f.mu.Unlock()
		return nil, aerr
	}
	m, ok := f.messages[channel+"/"+ts]
	if !ok {
		f.mu.Unlock()
		return nil, &apiError{status: http.StatusOK, code: "message_not_found"}
	}
	if text == "" {
		f.mu.Unlock()
		return nil, &apiError{status: http.StatusOK, code: "no_text"}
	}
	if m.Streaming {
		f.mu.Unlock()
		return nil, &apiError{status: http.StatusOK, code: "cant_update_message"}
	}
	prev := m.Text
	m.Text = text
	m.History = append(m.History, text)
	m.Times = append(m.Times, now)
	thread := m.ThreadTS
	echo := f.opts.EchoBotMessages
	f.mu.Unlock()
	if echo {
		f.echoChanged(channel, ts, thread, prev, text)
	}
	return map[string]any{"channel": channel, "ts": ts, "text": text}, nil
}

// admitUpdateLocked applies the Retry-After window, forced refusals and
// the Tier 3 token bucket to a chat.update arriving at now.
func (f *Fake) admitUpdateLocked(now time.Time) *apiError {
	if now.Before(f.windowEnd) {
		f.inWindow++
		f.rejected++
		return &apiError{status: http.StatusTooManyRequests, code: "ratelimited", retryAfter: f.windowEnd.Sub(now)}
	}
	if f.forced > 0 {
		f.forced--
		after := max(f.forcedAfter, time.Second)
		f.windowEnd = now.Add(after)
		f.rejected++
		return &apiError{status: http.StatusTooManyRequests, code: "ratelimited", retryAfter: after}
	}
	if f.opts.EditsPerMinute <= 0 {
		return nil
	}
	rate := float64(f.opts.EditsPerMinute) / 60 // per second
	f.tokens = math.Min(float64(f.opts.EditBurst), f.tokens+now.Sub(f.lastRefill).Seconds()*rate)
	f.lastRefill = now
	if f.tokens < 1 {
		wait := time.Duration((1 - f.tokens) / rate * float64(time.Second))
		// Slack's Retry-After is whole seconds; the window is what it says.
		f.windowEnd = now.Add(time.Duration(math.Ceil(wait.Seconds())) * time.Second)
		f.rejected++
		return &apiError{status: http.StatusTooManyRequests, code: "ratelimited", retryAfter: wait}
	}
	f.tokens--
	return nil
}

// Updates returns every chat.update call in arrival order.
func (f *Fake) Updates() []UpdateCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]UpdateCall(nil), f.updates...)
}

func (f *Fake) userInfo(id string) (map[string]any, *apiError) {
	f.mu.Lock()
	u, ok := f.users[id]
	f.mu.Unlock()
	if !ok {
		return nil, &apiError{status: http.StatusOK, code: "user_not_found"}
	}
	real := u.RealName
	if real == "" {
		real = u.Name
	}
	return map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": f.opts.TeamID, "name": u.Name, "real_name": real,
		"is_admin": u.IsAdmin, "is_owner": u.IsOwner, "is_bot": u.IsBot, "deleted": false,
		"profile": map[string]any{"display_name": u.DisplayName, "real_name": real},
	}}, nil
}

func (f *Fake) serveResponse(w http.ResponseWriter, r *http.Request) {
	var p ResponsePost
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	p.ID = strings.TrimPrefix(r.URL.Path, "/response/")
	f.mu.Lock()
	f.responses = append(f.responses, p)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// errClosed is returned when the fake was closed.
var errClosed = errors.New("slackfake: closed")
