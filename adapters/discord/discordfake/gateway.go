package discordfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway intents the fake understands.
const (
	intentGuildMessages  = 1 << 9
	intentDirectMessages = 1 << 12
	intentMessageContent = 1 << 15
)

// gateway is the fake's session state; guarded by Server.mu.
type gateway struct {
	conn       *gwConn
	sessionID  string
	seq        int64
	log        []logged // dispatches of the current session, for RESUME
	intents    int
	identifies int
	resumes    int
	replayAll  bool
	closed     bool
}

type logged struct {
	seq   int64
	frame []byte
}

type outFrame struct {
	data      []byte
	closeCode int // when non-zero: send a close frame with this code and hang up
	reason    string
}

type gwConn struct {
	ws    *websocket.Conn
	out   chan outFrame
	done  chan struct{}
	ready bool // identified or resumed on this connection
}

func (c *gwConn) kill() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
}

func (c *gwConn) send(f outFrame) {
	select {
	case c.out <- f:
	case <-c.done:
	default:
		c.kill() // a client that does not read is disconnected, as Discord does
	}
}

func frame(op int, seq int64, t string, d any) []byte {
	m := map[string]any{"op": op, "d": d, "s": nil, "t": nil}
	if seq > 0 {
		m["s"] = seq
	}
	if t != "" {
		m["t"] = t
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &gwConn{ws: ws, out: make(chan outFrame, 4096), done: make(chan struct{})}
	s.mu.Lock()
	if s.gw.closed {
		s.mu.Unlock()
		ws.Close()
		return
	}
	if old := s.gw.conn; old != nil {
		old.kill()
	}
	s.gw.conn = c
	s.wg.Add(3)
	s.notify()
	s.mu.Unlock()
	go s.writeLoop(c)
	c.send(outFrame{data: frame(10, 0, "", map[string]any{"heartbeat_interval": s.opts.HeartbeatInterval.Milliseconds()})})
	s.readLoop(c)
}

func (s *Server) writeLoop(c *gwConn) {
	defer s.wg.Done()
	defer c.ws.Close()
	for {
		select {
		case f := <-c.out:
			if f.closeCode != 0 {
				msg := websocket.FormatCloseMessage(f.closeCode, f.reason)
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				// Give the client a moment to read the frame before the hang-up.
				timer := time.NewTimer(200 * time.Millisecond)
				select {
				case <-timer.C:
				case <-c.done:
				}
				timer.Stop()
				c.kill()
				return
			}
			if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
				c.kill()
				return
			}
		case <-c.done:
			return
		}
	}
}

func (s *Server) readLoop(c *gwConn) {
	defer s.wg.Done()
	defer func() {
		c.kill()
		s.mu.Lock()
		if s.gw.conn == c {
			s.gw.conn = nil
		}
		s.notify()
		s.mu.Unlock()
	}()
	go func() {
		defer s.wg.Done()
		<-c.done
		c.ws.Close()
	}()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var p struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if json.Unmarshal(data, &p) != nil {
			c.send(outFrame{closeCode: 4002, reason: "Error while decoding payload."})
			return
		}
		switch p.Op {
		case 1:
			c.send(outFrame{data: frame(11, 0, "", nil)})
		case 2:
			s.identify(c, p.D)
		case 6:
			s.resume(c, p.D)
		}
	}
}

func (s *Server) identify(c *gwConn, raw json.RawMessage) {
	var d struct {
		Token   string `json:"token"`
		Intents int    `json:"intents"`
		Shard   []int  `json:"shard"`
	}
	if json.Unmarshal(raw, &d) != nil {
		c.send(outFrame{closeCode: 4002, reason: "Error while decoding payload."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notify()
	s.gw.identifies++
	switch {
	case s.opts.Token != "" && strings.TrimPrefix(d.Token, "Bot ") != s.opts.Token:
		c.send(outFrame{closeCode: 4004, reason: "Authentication failed."})
		return
	case s.opts.DenyMessageContent && d.Intents&intentMessageContent != 0:
		c.send(outFrame{closeCode: 4014, reason: "Disallowed intent(s)."})
		return
	case len(d.Shard) == 2 && (d.Shard[1] < 1 || d.Shard[0] >= d.Shard[1]):
		c.send(outFrame{closeCode: 4010, reason: "Invalid shard."})
		return
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.gw.sessionID = hex.EncodeToString(b[:])
	s.gw.seq = 0
	s.gw.log = nil
	s.gw.intents = d.Intents
	c.ready = true
	shard := []int{0, 1}
	if len(d.Shard) == 2 {
		shard = d.Shard
	}
	s.dispatchLocked("READY", map[string]any{
		"v": 9, "user": userJSON(s.users[s.opts.BotID]), "guilds": []any{}, "private_channels": []any{},
		"session_id": s.gw.sessionID, "resume_gateway_url": s.gatewayURL(), "shard": shard,
		"application": map[string]any{"id": s.opts.AppID, "flags": 0},
	})
}

func (s *Server) resume(c *gwConn, raw json.RawMessage) {
	var d struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if json.Unmarshal(raw, &d) != nil {
		c.send(outFrame{closeCode: 4002, reason: "Error while decoding payload."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notify()
	if s.opts.Token != "" && strings.TrimPrefix(d.Token, "Bot ") != s.opts.Token {
		c.send(outFrame{closeCode: 4004, reason: "Authentication failed."})
		return
	}
	if d.SessionID == "" || d.SessionID != s.gw.sessionID {
		c.send(outFrame{data: frame(9, 0, "", false)})
		return
	}
	s.gw.resumes++
	from := d.Seq
	if s.gw.replayAll {
		from, s.gw.replayAll = 0, false
	}
	for _, l := range s.gw.log {
		if l.seq > from {
			c.send(outFrame{data: l.frame})
		}
	}
	c.ready = true
	s.dispatchLocked("RESUMED", map[string]any{})
}

// dispatchLocked sends an op 0 event to the session, with mu held.
func (s *Server) dispatchLocked(t string, d any) {
	if s.gw.sessionID == "" {
		return // no session: the event is lost, as on Discord
	}
	s.gw.seq++
	f := frame(0, s.gw.seq, t, d)
	if t != "READY" && t != "RESUMED" {
		s.gw.log = append(s.gw.log, logged{seq: s.gw.seq, frame: f})
	}
	if c := s.gw.conn; c != nil && c.ready {
		c.send(outFrame{data: f})
	}
}

// allowed applies the session's intents to a message event; with mu held.
// It returns the payload to send (content blanked without MESSAGE_CONTENT,
// except for DMs and mentions of the bot) or false to drop it.
func (s *Server) allowed(m map[string]any) (map[string]any, bool) {
	_, guild := m["guild_id"]
	need := intentDirectMessages
	if guild {
		need = intentGuildMessages
	}
	if s.gw.intents&need == 0 {
		return nil, false
	}
	content, _ := m["content"].(string)
	author, _ := m["author"].(map[string]any)
	fromBot := author != nil && author["id"] == s.opts.BotID
	if guild && s.gw.intents&intentMessageContent == 0 && !fromBot &&
		!strings.Contains(content, "<@"+s.opts.BotID+">") && !strings.Contains(content, "<@!"+s.opts.BotID+">") {
		c := make(map[string]any, len(m))
		for k, v := range m {
			c[k] = v
		}
		c["content"] = ""
		return c, true
	}
	return m, true
}

// dispatch sends a message event (MESSAGE_*), honouring intents.
func (g *gateway) dispatch(s *Server, t string, m map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if out, ok := s.allowed(m); ok {
		s.dispatchLocked(t, out)
	}
}

// --- test controls ---

// Reconnect asks the client to reconnect and resume (op 7).
func (s *Server) Reconnect() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.gw.conn; c != nil {
		c.send(outFrame{data: frame(7, 0, "", nil)})
	}
}

// InvalidateSession sends op 9. With resumable false the session is
// forgotten, so the client must identify again.
func (s *Server) InvalidateSession(resumable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.gw.conn
	if c == nil {
		return
	}
	if !resumable {
		s.gw.sessionID = ""
		c.ready = false
	}
	c.send(outFrame{data: frame(9, 0, "", resumable)})
}

// CloseGateway closes the current connection with code and reason.
func (s *Server) CloseGateway(code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.gw.conn; c != nil {
		c.send(outFrame{closeCode: code, reason: reason})
	}
}

// ReplayAllOnNextResume makes the next RESUME replay every dispatch of the
// session, as if the client's sequence number were lost: at-least-once
// delivery, which the bot must de-duplicate.
func (s *Server) ReplayAllOnNextResume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gw.replayAll = true
}

// GatewayStats reports identifies, resumes and whether a session is live
// on an open connection.
func (s *Server) GatewayStats() (identifies, resumes int, ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.identifies, s.gw.resumes, s.gw.conn != nil && s.gw.conn.ready
}

// Intents returns the intents of the last IDENTIFY.
func (s *Server) Intents() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.intents
}

// --- users acting ---

// Send posts a message as a user and dispatches MESSAGE_CREATE. The
// channel and author must be known (AddChannel/AddDM, AddUser). Mentions
// are written in Discord's syntax: <@id>, <@&role>, <#channel>.
func (s *Server) Send(channelID, authorID, content string) string {
	return s.Reply(channelID, authorID, content, "")
}

// Reply is Send as a Discord reply to message refID (which pings its
// author); "" sends a plain message.
func (s *Server) Reply(channelID, authorID, content, refID string) string {
	s.mu.Lock()
	ch, ok := s.channels[channelID]
	if !ok {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordfake: Send to unknown channel %s", channelID))
	}
	if _, ok := s.users[authorID]; !ok {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordfake: Send by unknown user %s", authorID))
	}
	m := &Message{ID: s.newID(), ChannelID: channelID, GuildID: ch.GuildID, AuthorID: authorID,
		Content: content, History: []string{content}, Created: time.Now(), Reference: refID}
	m.At = []time.Time{m.Created}
	s.messages[m.ID] = m
	s.order = append(s.order, m.ID)
	out := s.messageJSON(m)
	if o, ok := s.allowed(out); ok {
		s.dispatchLocked("MESSAGE_CREATE", o)
	}
	s.notify()
	s.mu.Unlock()
	return m.ID
}

// EditByUser changes a user's message and dispatches MESSAGE_UPDATE.
func (s *Server) EditByUser(messageID, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[messageID]
	if !ok {
		panic("discordfake: EditByUser of unknown message " + messageID)
	}
	m.Content = content
	m.History = append(m.History, content)
	m.At = append(m.At, time.Now())
	out := s.messageJSON(m)
	out["edited_timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	if m.Thread != "" {
		out["thread"] = channelJSON(*s.channels[m.Thread])
	}
	if o, ok := s.allowed(out); ok {
		s.dispatchLocked("MESSAGE_UPDATE", o)
	}
	s.notify()
}

// Delete removes a message and dispatches MESSAGE_DELETE.
func (s *Server) Delete(messageID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[messageID]
	if !ok {
		panic("discordfake: Delete of unknown message " + messageID)
	}
	m.Deleted = true
	d := map[string]any{"id": m.ID, "channel_id": m.ChannelID}
	if m.GuildID != "" {
		d["guild_id"] = m.GuildID
	}
	s.dispatchLocked("MESSAGE_DELETE", d)
	s.notify()
}

// Invocation describes a slash command use.
type Invocation struct {
	GuildID     string // "" for a DM
	ChannelID   string
	UserID      string
	Permissions int64  // the member's permissions in the channel (guild only)
	Command     string // "parley"
	Sub         string // "help"
	Args        string // the "args" option; "" for none
}

// Interact dispatches INTERACTION_CREATE for a slash command and returns
// the interaction's ID. Its token is "token-" + ID.
func (s *Server) Interact(in Invocation) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	s.inter[id] = &InteractionRecord{ID: id, Created: time.Now()}
	sub := map[string]any{"name": in.Sub, "type": 1}
	if in.Args != "" {
		sub["options"] = []any{map[string]any{"name": "args", "type": 3, "value": in.Args}}
	}
	d := map[string]any{
		"id": id, "application_id": s.opts.AppID, "type": 2, "token": "token-" + id, "version": 1,
		"channel_id": in.ChannelID, "locale": "en-US", "app_permissions": "2248473465835073",
		"data": map[string]any{"id": s.newID(), "name": in.Command, "type": 1, "options": []any{sub}},
	}
	u := userJSON(s.users[in.UserID])
	if in.GuildID != "" {
		d["guild_id"] = in.GuildID
		d["member"] = map[string]any{"user": u, "roles": []string{}, "permissions": strconv.FormatInt(in.Permissions, 10),
			"joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false}
		d["context"] = 0
	} else {
		d["user"] = u
		d["context"] = 1
	}
	s.dispatchLocked("INTERACTION_CREATE", d)
	s.notify()
	return id
}
