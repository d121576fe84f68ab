package discordfake

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Discord's API version path the fake serves.
const apiPrefix = "/api/v9"

// Options configure the fake. Zero values take Discord's defaults.
type Options struct {
	Token   string // expected bot token without "Bot "; "" accepts any
	BotID   string // default "100000000000000001"
	BotName string // default "Parley"
	AppID   string // default BotID

	EditLimit  int           // edits per window per channel; default 5
	EditWindow time.Duration // default 5 s
	PostLimit  int           // message creations per window per channel; 0: unlimited
	PostWindow time.Duration // default 5 s

	GlobalLimit int // requests per second over all routes but interactions; default 50; <0: unlimited

	// DenyMessageContent closes an IDENTIFY that asks for the privileged
	// MESSAGE_CONTENT intent with 4014, like a bot whose intent is not
	// enabled in the Developer Portal.
	DenyMessageContent bool
	// HeartbeatInterval sent in HELLO; default 41.25 s.
	HeartbeatInterval time.Duration
	// NoEcho stops the fake from dispatching MESSAGE_CREATE/UPDATE for the
	// bot's own messages (Discord does dispatch them).
	NoEcho bool
	// DenyThreads refuses to start threads with 403 Missing Permissions,
	// like a bot without Create Public Threads.
	DenyThreads bool
	// InteractionDeadline is how long an interaction may go unanswered
	// before its callback fails with 10062 Unknown interaction; default 3 s.
	InteractionDeadline time.Duration
}

// User is a Discord user known to the fake.
type User struct {
	ID       string
	Username string
	Global   string // global display name
	Nick     string // server nickname (guild messages only)
	Bot      bool
}

// Message is the fake's record of a message.
type Message struct {
	ID        string
	ChannelID string
	GuildID   string
	AuthorID  string
	Content   string
	History   []string    // the content after creation and after each edit
	At        []time.Time // when each History entry was written
	Reference string      // the message it replies to, if any
	Deleted   bool
	Created   time.Time
	Thread    string // the thread started from it, if any
}

// Channel is a channel known to the fake.
type Channel struct {
	ID       string
	GuildID  string // "" for DMs
	Name     string
	Type     int // 0 text, 1 DM, 11 public thread
	ParentID string
}

// Rejections counts 429 answers.
type Rejections struct {
	Edit, Post, Global int
}

// InteractionRecord is what the bot answered to an interaction.
type InteractionRecord struct {
	ID        string
	Created   time.Time
	Type      int // callback type: 4 message, 5 deferred
	Content   string
	Flags     int
	Responded time.Time // when the callback arrived
	Edits     []string  // edits of the original response
	Refused   int       // callbacks rejected (late or repeated)
}

// Stats are request counts.
type Stats struct {
	Requests        int // REST requests served, all routes
	PeakGlobal      int // most requests counted in one global window
	EditRequests    int // PATCH message requests, accepted or not
	Typing          map[string]int
	ThreadsOpened   int
	CommandsPutFor  []string // "" for global, else guild IDs, in order
	LastCommandJSON json.RawMessage
}

type bucket struct {
	remaining int
	resetAt   time.Time
}

// Server is a running fake Discord.
type Server struct {
	opts Options
	hs   *httptest.Server
	// URL is the HTTP root; pass it as the adapter's APIURL.
	URL string

	mu        sync.Mutex
	changed   chan struct{}
	lastID    int64
	users     map[string]User
	channels  map[string]*Channel
	roles     map[string]map[string]string // guild → role ID → name
	messages  map[string]*Message
	order     []string // message IDs in creation order
	buckets   map[string]*bucket
	winStart  time.Time
	winCount  int
	rejected  Rejections
	stats     Stats
	inter     map[string]*InteractionRecord
	commands  map[string]json.RawMessage
	gw        gateway
	wg        sync.WaitGroup // gateway connection goroutines
	closeOnce sync.Once
}

// New starts a fake Discord on loopback. Close it when done.
func New(opts Options) *Server {
	if opts.BotID == "" {
		opts.BotID = "100000000000000001"
	}
	if opts.BotName == "" {
		opts.BotName = "Parley"
	}
	if opts.AppID == "" {
		opts.AppID = opts.BotID
	}
	if opts.EditLimit == 0 {
		opts.EditLimit = 5
	}
	if opts.EditWindow == 0 {
		opts.EditWindow = 5 * time.Second
	}
	if opts.PostWindow == 0 {
		opts.PostWindow = 5 * time.Second
	}
	if opts.GlobalLimit == 0 {
		opts.GlobalLimit = 50
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 41250 * time.Millisecond
	}
	if opts.InteractionDeadline == 0 {
		opts.InteractionDeadline = 3 * time.Second
	}
	s := &Server{
		opts:     opts,
		changed:  make(chan struct{}),
		users:    make(map[string]User),
		channels: make(map[string]*Channel),
		roles:    make(map[string]map[string]string),
		messages: make(map[string]*Message),
		buckets:  make(map[string]*bucket),
		inter:    make(map[string]*InteractionRecord),
		commands: make(map[string]json.RawMessage),
		stats:    Stats{Typing: make(map[string]int)},
	}
	s.users[opts.BotID] = User{ID: opts.BotID, Username: opts.BotName, Bot: true}
	mux := http.NewServeMux()
	s.routes(mux)
	s.hs = httptest.NewServer(mux)
	s.URL = s.hs.URL
	return s
}

// Close stops the server and its gateway connections.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.gw.closed = true
		if c := s.gw.conn; c != nil {
			c.kill()
		}
		s.mu.Unlock()
		s.hs.Close()
		s.wg.Wait()
	})
}

// Options returns the effective options.
func (s *Server) Options() Options { return s.opts }

// BotUser returns the bot's user.
func (s *Server) BotUser() User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[s.opts.BotID]
}

// notify wakes waiters; called with mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Wait blocks until cond returns true (it is re-checked after every change
// the fake records) or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("discordfake: waiting: %w", ctx.Err())
		}
	}
}

// newID returns a fresh snowflake: milliseconds since Discord's epoch in
// the top bits, like the real ones, so IDs sort by creation.
func (s *Server) newID() string {
	id := (time.Now().UnixMilli() - 1420070400000) << 22
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return strconv.FormatInt(id, 10)
}

// AddUser makes a user known (for mentions and authorship).
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// AddChannel makes a guild text channel known and returns it.
func (s *Server) AddChannel(guildID, channelID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[channelID] = &Channel{ID: channelID, GuildID: guildID, Name: name, Type: 0}
}

// AddThread makes a public thread known that a member started in parent
// (not from a message, so it has an ID of its own).
func (s *Server) AddThread(guildID, threadID, parentID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[threadID] = &Channel{ID: threadID, GuildID: guildID, Name: name, Type: 11, ParentID: parentID}
}

// AddDM makes a DM channel known.
func (s *Server) AddDM(channelID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[channelID] = &Channel{ID: channelID, Type: 1}
}

// AddRole makes a guild role known.
func (s *Server) AddRole(guildID, roleID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roles[guildID] == nil {
		s.roles[guildID] = make(map[string]string)
	}
	s.roles[guildID][roleID] = name
}

// Message returns the record of a message.
func (s *Server) Message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return Message{}, false
	}
	c := *m
	c.History = append([]string(nil), m.History...)
	c.At = append([]time.Time(nil), m.At...)
	return c, true
}

// BotMessages returns the bot's messages in a channel, oldest first.
func (s *Server) BotMessages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, id := range s.order {
		m := s.messages[id]
		if m.ChannelID == channelID && m.AuthorID == s.opts.BotID {
			c := *m
			c.History = append([]string(nil), m.History...)
			c.At = append([]time.Time(nil), m.At...)
			out = append(out, c)
		}
	}
	return out
}

// Channel returns a known channel (threads the bot opened included).
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return Channel{}, false
	}
	return *c, true
}

// Rejected returns the 429s served so far.
func (s *Server) Rejected() Rejections {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Stats returns request counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Typing = make(map[string]int, len(s.stats.Typing))
	for k, v := range s.stats.Typing {
		st.Typing[k] = v
	}
	st.CommandsPutFor = append([]string(nil), s.stats.CommandsPutFor...)
	return st
}

// Commands returns the command JSON last registered in a guild ("" for global).
func (s *Server) Commands(guildID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commands[guildID]
}

// Interaction returns what the bot answered to an interaction.
func (s *Server) Interaction(id string) (InteractionRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.inter[id]
	if !ok {
		return InteractionRecord{}, false
	}
	c := *r
	c.Edits = append([]string(nil), r.Edits...)
	return c, true
}

// --- REST ---

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) routes(mux *http.ServeMux) {
	api := func(pattern string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+apiPrefix+path, s.limited(h))
	}
	api("GET /gateway", s.getGateway)
	api("GET /gateway/bot", s.getGateway)
	api("GET /users/@me", s.getMe)
	api("GET /channels/{channel}", s.getChannel)
	api("GET /guilds/{guild}/roles", s.getRoles)
	api("POST /channels/{channel}/messages", s.createMessage)
	api("PATCH /channels/{channel}/messages/{message}", s.editMessage)
	api("POST /channels/{channel}/messages/{message}/threads", s.startThread)
	api("POST /channels/{channel}/typing", s.typing)
	api("PUT /applications/{app}/commands", s.putCommands)
	api("PUT /applications/{app}/guilds/{guild}/commands", s.putCommands)
	api("POST /interactions/{id}/{token}/callback", s.interactionCallback)
	api("PATCH /webhooks/{app}/{token}/messages/@original", s.editOriginal)
	mux.HandleFunc("GET /{$}", s.serveGateway)
}

// limited authenticates a request and applies the global limit: Discord's
// 50 requests per second, counted in one-second windows, interaction routes
// exempt.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		interaction := strings.Contains(r.URL.Path, "/interactions/") || strings.Contains(r.URL.Path, "/webhooks/")
		if !interaction && s.opts.Token != "" && r.Header.Get("Authorization") != "Bot "+s.opts.Token {
			writeJSON(w, http.StatusUnauthorized, apiError{0, "401: Unauthorized"})
			return
		}
		s.mu.Lock()
		s.stats.Requests++
		if !interaction && s.opts.GlobalLimit > 0 {
			now := time.Now()
			if now.Sub(s.winStart) >= time.Second {
				s.winStart, s.winCount = now, 0
			}
			s.winCount++
			s.stats.PeakGlobal = max(s.stats.PeakGlobal, s.winCount)
			if s.winCount > s.opts.GlobalLimit {
				s.rejected.Global++
				wait := time.Second - now.Sub(s.winStart)
				s.notify()
				s.mu.Unlock()
				w.Header().Set("X-RateLimit-Global", "true")
				w.Header().Set("X-RateLimit-Scope", "global")
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				writeJSON(w, http.StatusTooManyRequests, map[string]any{
					"message": "You are being rate limited.", "retry_after": round3(wait.Seconds()), "global": true,
				})
				return
			}
		}
		s.mu.Unlock()
		h(w, r)
	}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// take spends one request of a per-channel bucket, with mu held. It writes
// the X-RateLimit-* headers and reports whether the request may proceed.
func (s *Server) take(w http.ResponseWriter, key string, limit int, window time.Duration) bool {
	now := time.Now()
	b := s.buckets[key]
	if b == nil || !now.Before(b.resetAt) {
		b = &bucket{remaining: limit, resetAt: now.Add(window)}
		s.buckets[key] = b
	}
	after := b.resetAt.Sub(now)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(b.resetAt.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(round3(after.Seconds()), 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", fmt.Sprintf("%x", len(key)*7919+limit))
	if b.remaining <= 0 {
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Scope", "user")
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
		return false
	}
	b.remaining--
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.remaining))
	return true
}

func rateLimited(w http.ResponseWriter) {
	after, _ := strconv.ParseFloat(w.Header().Get("X-RateLimit-Reset-After"), 64)
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message": "You are being rate limited.", "retry_after": after, "global": false,
	})
}

func (s *Server) getGateway(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"url":    s.gatewayURL(),
		"shards": 1,
		"session_start_limit": map[string]any{
			"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1,
		},
	})
}

// gatewayURL is the websocket root, like "wss://gateway.discord.gg".
func (s *Server) gatewayURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") }

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, userJSON(s.BotUser()))
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) {
	c, ok := s.Channel(r.PathValue("channel"))
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{10003, "Unknown Channel"})
		return
	}
	writeJSON(w, http.StatusOK, channelJSON(c))
}

func (s *Server) getRoles(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var roles []map[string]any
	for id, name := range s.roles[r.PathValue("guild")] {
		roles = append(roles, map[string]any{"id": id, "name": name, "permissions": "0", "position": 1})
	}
	s.mu.Unlock()
	if roles == nil {
		roles = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, roles)
}

type messageBody struct {
	Content   *string `json:"content"`
	Reference *struct {
		MessageID string `json:"message_id"`
	} `json:"message_reference"`
}

func validContent(w http.ResponseWriter, c *string) bool {
	if c == nil || strings.TrimSpace(*c) == "" {
		writeJSON(w, http.StatusBadRequest, apiError{50006, "Cannot send an empty message"})
		return false
	}
	if n := utf8.RuneCountInString(*c); n > 2000 {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"code": 50035, "message": "Invalid Form Body",
			"errors": map[string]any{"content": map[string]any{"_errors": []map[string]any{{"code": "BASE_TYPE_MAX_LENGTH", "message": fmt.Sprintf("Must be 2000 or fewer in length (%d).", n)}}}},
		})
		return false
	}
	return true
}

// decodeBody reads a JSON request body into v, answering Discord's error
// for invalid JSON when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{50109, "The request body contains invalid JSON."})
		return false
	}
	return true
}

// refuseLocked counts a rate-limited request in counter and answers 429.
// Called with s.mu held; it releases it.
func (s *Server) refuseLocked(w http.ResponseWriter, counter *int) {
	*counter++
	s.notify()
	s.mu.Unlock()
	rateLimited(w)
}

// answerLocked answers a message request with out and echoes it on the
// gateway as event (unless NoEcho). Called with s.mu held; it releases it
// before dispatching, since the gateway takes the lock itself.
func (s *Server) answerLocked(w http.ResponseWriter, event string, out map[string]any) {
	s.notify()
	s.mu.Unlock()
	if !s.opts.NoEcho {
		s.gw.dispatch(s, event, out)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	chID := r.PathValue("channel")
	var body messageBody
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	ch, ok := s.channels[chID]
	if !ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, apiError{10003, "Unknown Channel"})
		return
	}
	if s.opts.PostLimit > 0 && !s.take(w, "post:"+chID, s.opts.PostLimit, s.opts.PostWindow) {
		s.refuseLocked(w, &s.rejected.Post)
		return
	}
	if !validContent(w, body.Content) {
		s.mu.Unlock()
		return
	}
	m := &Message{ID: s.newID(), ChannelID: chID, GuildID: ch.GuildID, AuthorID: s.opts.BotID,
		Content: *body.Content, History: []string{*body.Content}, Created: time.Now()}
	m.At = []time.Time{m.Created}
	if body.Reference != nil {
		m.Reference = body.Reference.MessageID
	}
	s.messages[m.ID] = m
	s.order = append(s.order, m.ID)
	out := s.messageJSON(m)
	s.answerLocked(w, "MESSAGE_CREATE", out)
}

func (s *Server) editMessage(w http.ResponseWriter, r *http.Request) {
	chID, id := r.PathValue("channel"), r.PathValue("message")
	var body messageBody
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	s.stats.EditRequests++
	if !s.take(w, "edit:"+chID, s.opts.EditLimit, s.opts.EditWindow) {
		s.refuseLocked(w, &s.rejected.Edit)
		return
	}
	m, ok := s.messages[id]
	if !ok || m.ChannelID != chID || m.Deleted {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, apiError{10008, "Unknown Message"})
		return
	}
	if m.AuthorID != s.opts.BotID {
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, apiError{50005, "Cannot edit a message authored by another user"})
		return
	}
	if !validContent(w, body.Content) {
		s.mu.Unlock()
		return
	}
	m.Content = *body.Content
	m.History = append(m.History, m.Content)
	m.At = append(m.At, time.Now())
	out := s.messageJSON(m)
	out["edited_timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	s.answerLocked(w, "MESSAGE_UPDATE", out)
}

func (s *Server) startThread(w http.ResponseWriter, r *http.Request) {
	chID, id := r.PathValue("channel"), r.PathValue("message")
	var body struct {
		Name string `json:"name"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[chID]
	m, mok := s.messages[id]
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, apiError{10003, "Unknown Channel"})
		return
	case !mok || m.ChannelID != chID:
		writeJSON(w, http.StatusNotFound, apiError{10008, "Unknown Message"})
		return
	case ch.Type != 0:
		writeJSON(w, http.StatusBadRequest, apiError{50024, "Cannot execute action on this channel type"})
		return
	case s.opts.DenyThreads:
		writeJSON(w, http.StatusForbidden, apiError{50013, "Missing Permissions"})
		return
	case m.Thread != "":
		writeJSON(w, http.StatusBadRequest, apiError{160004, "A thread has already been created for this message"})
		return
	case body.Name == "" || utf8.RuneCountInString(body.Name) > 100:
		writeJSON(w, http.StatusBadRequest, apiError{50035, "Invalid Form Body"})
		return
	}
	// Discord gives a thread started from a message that message's ID.
	th := &Channel{ID: id, GuildID: ch.GuildID, Name: body.Name, Type: 11, ParentID: chID}
	s.channels[th.ID] = th
	m.Thread = th.ID
	s.stats.ThreadsOpened++
	s.notify()
	writeJSON(w, http.StatusCreated, channelJSON(*th))
}

func (s *Server) typing(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Typing[r.PathValue("channel")]++
	s.notify()
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) putCommands(w http.ResponseWriter, r *http.Request) {
	var cmds []map[string]any
	if err := json.NewDecoder(r.Body).Decode(&cmds); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{50109, "The request body contains invalid JSON."})
		return
	}
	if r.PathValue("app") != s.opts.AppID {
		writeJSON(w, http.StatusForbidden, apiError{50001, "Missing Access"})
		return
	}
	guild := r.PathValue("guild")
	s.mu.Lock()
	for _, c := range cmds {
		c["id"] = s.newID()
		c["application_id"] = s.opts.AppID
		c["version"] = s.newID()
		if guild != "" {
			c["guild_id"] = guild
		}
	}
	raw, _ := json.Marshal(cmds)
	s.commands[guild] = raw
	s.stats.CommandsPutFor = append(s.stats.CommandsPutFor, guild)
	s.stats.LastCommandJSON = raw
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, cmds)
}

func (s *Server) interactionCallback(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Type int `json:"type"`
		Data *struct {
			Content string `json:"content"`
			Flags   int    `json:"flags"`
		} `json:"data"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.inter[r.PathValue("id")]
	if !ok || r.PathValue("token") != "token-"+rec.ID {
		writeJSON(w, http.StatusNotFound, apiError{10062, "Unknown interaction"})
		return
	}
	now := time.Now()
	switch {
	case now.Sub(rec.Created) > s.opts.InteractionDeadline:
		rec.Refused++
		s.notify()
		writeJSON(w, http.StatusNotFound, apiError{10062, "Unknown interaction"})
		return
	case rec.Type != 0:
		rec.Refused++
		s.notify()
		writeJSON(w, http.StatusBadRequest, apiError{40060, "Interaction has already been acknowledged."})
		return
	}
	rec.Type, rec.Responded = body.Type, now
	if body.Data != nil {
		rec.Content, rec.Flags = body.Data.Content, body.Data.Flags
	}
	s.notify()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) editOriginal(w http.ResponseWriter, r *http.Request) {
	var body messageBody
	if !decodeBody(w, r, &body) {
		return
	}
	token := r.PathValue("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.inter[strings.TrimPrefix(token, "token-")]
	if !ok || rec.Type == 0 || r.PathValue("app") != s.opts.AppID {
		writeJSON(w, http.StatusNotFound, apiError{10015, "Unknown Webhook"})
		return
	}
	if !validContent(w, body.Content) {
		return
	}
	rec.Content = *body.Content
	rec.Edits = append(rec.Edits, rec.Content)
	s.notify()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.newID(), "channel_id": "0", "content": rec.Content, "type": 20,
		"author": userJSON(s.users[s.opts.BotID]), "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
	})
}

// --- JSON shapes, as Discord sends them ---

func userJSON(u User) map[string]any {
	m := map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0", "avatar": nil, "bot": u.Bot, "public_flags": 0}
	if u.Global != "" {
		m["global_name"] = u.Global
	} else {
		m["global_name"] = nil
	}
	return m
}

func channelJSON(c Channel) map[string]any {
	m := map[string]any{"id": c.ID, "type": c.Type, "name": c.Name}
	if c.GuildID != "" {
		m["guild_id"] = c.GuildID
	}
	if c.ParentID != "" {
		m["parent_id"] = c.ParentID
	}
	if c.Type == 11 {
		m["thread_metadata"] = map[string]any{"archived": false, "auto_archive_duration": 1440, "locked": false}
	}
	return m
}

var (
	userMentionRe = regexp.MustCompile(`<@!?([0-9]+)>`)
	roleMentionRe = regexp.MustCompile(`<@&([0-9]+)>`)
)

// messageJSON renders a message; called with mu held.
func (s *Server) messageJSON(m *Message) map[string]any { return s.messageJSONDepth(m, 0) }

// messageJSONDepth renders a message with, for a reply, the message it
// replies to (one level deep, as Discord sends it).
func (s *Server) messageJSONDepth(m *Message, depth int) map[string]any {
	author := s.users[m.AuthorID]
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "content": m.Content,
		"author":    userJSON(author),
		"timestamp": m.Created.UTC().Format(time.RFC3339Nano), "edited_timestamp": nil,
		"tts": false, "mention_everyone": false, "attachments": []any{}, "embeds": []any{},
		"pinned": false, "type": 0, "flags": 0, "components": []any{},
	}
	if m.GuildID != "" {
		out["guild_id"] = m.GuildID
		member := map[string]any{"roles": []string{}, "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false}
		if author.Nick != "" {
			member["nick"] = author.Nick
		}
		out["member"] = member
	}
	mentions := []any{}
	seen := map[string]bool{}
	for _, sm := range userMentionRe.FindAllStringSubmatch(m.Content, -1) {
		if u, ok := s.users[sm[1]]; ok && !seen[u.ID] {
			seen[u.ID] = true
			mentions = append(mentions, userJSON(u))
		}
	}
	out["mentions"] = mentions
	roles := []string{}
	for _, sm := range roleMentionRe.FindAllStringSubmatch(m.Content, -1) {
		roles = append(roles, sm[1])
	}
	out["mention_roles"] = roles
	if m.Reference != "" {
		out["type"] = 19
		out["message_reference"] = map[string]any{"type": 0, "message_id": m.Reference, "channel_id": m.ChannelID, "guild_id": m.GuildID}
		if ref, ok := s.messages[m.Reference]; ok && depth == 0 && !ref.Deleted {
			out["referenced_message"] = s.messageJSONDepth(ref, depth+1)
			// A reply pings the author of the message it replies to.
			if u, ok := s.users[ref.AuthorID]; ok && !seen[u.ID] {
				out["mentions"] = append(mentions, userJSON(u))
			}
		}
	}
	return out
}
