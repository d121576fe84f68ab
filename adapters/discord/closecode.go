package discord

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
)

// Gateway close codes that must not be retried: reconnecting with the same
// token, shard and intents fails the same way forever.
const (
	closeAuthenticationFailed = 4004
	closeInvalidShard         = 4010
	closeShardingRequired     = 4011
	closeInvalidAPIVersion    = 4012
	closeInvalidIntents       = 4013
	closeDisallowedIntents    = 4014
)

// FatalCloseError is returned by Run when Discord closed the gateway with a
// code that no reconnect can fix.
type FatalCloseError struct {
	Code   int
	Reason string // the close frame's text
}

func (e *FatalCloseError) Error() string {
	var cause, fix string
	switch e.Code {
	case closeAuthenticationFailed:
		cause, fix = "authentication failed", "check discord.token (Developer Portal → your application → Bot → Reset Token)"
	case closeInvalidShard:
		cause, fix = "invalid shard", "check discord.shard_id and discord.shard_count (shard_id must be less than shard_count)"
	case closeShardingRequired:
		cause, fix = "sharding required", "the bot is in too many servers for one connection: set discord.shard_count (Discord recommends one shard per 1,000 servers) and run one process per discord.shard_id"
	case closeInvalidAPIVersion:
		cause, fix = "invalid API version", "upgrade Parley; the gateway no longer accepts this API version"
	case closeInvalidIntents:
		cause, fix = "invalid intents", "this is a bug in Parley's intent bitmask; please report it"
	case closeDisallowedIntents:
		cause, fix = "disallowed intent: the privileged Message Content intent is not enabled for this bot",
			"enable the Message Content intent in the Developer Portal (your application → Bot → Privileged Gateway Intents), "+
				"or set discord.message_content_intent = false to answer only mentions and DMs, whose content Discord still sends"
	default:
		cause, fix = "fatal close", "see https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes"
	}
	s := fmt.Sprintf("discord gateway closed the connection with code %d (%s)", e.Code, cause)
	if e.Reason != "" {
		s += fmt.Sprintf(": %q", e.Reason)
	}
	return s + "; fix: " + fix
}

func fatalCloseCode(code int) bool {
	return code == closeAuthenticationFailed || (code >= closeInvalidShard && code <= closeDisallowedIntents)
}

// closeWatcher records the close code of the last gateway connection.
// discordgo swallows close frames (it installs a no-op close handler and
// reconnects on any read error), so the adapter dials the gateway itself and
// reads the server's close frame off the byte stream on its way to
// discordgo's websocket reader.
type closeWatcher struct {
	mu     sync.Mutex
	code   int
	reason string
}

func (w *closeWatcher) set(code int, reason string) {
	w.mu.Lock()
	w.code, w.reason = code, reason
	w.mu.Unlock()
}

// take returns and clears the last close code.
func (w *closeWatcher) take() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, r := w.code, w.reason
	w.code, w.reason = 0, ""
	return c, r
}

// dialers returns the plain and TLS dial functions for the websocket
// dialer. ctx bounds the connections: when it ends they are closed, which
// unblocks discordgo's reads (its Open has no context of its own).
func (w *closeWatcher) dialers(ctx func() context.Context) (plain, secure func(context.Context, string, string) (net.Conn, error)) {
	var d net.Dialer
	wrap := func(c net.Conn) net.Conn {
		sc := &sniffConn{Conn: c, onClose: w.set}
		stop := context.AfterFunc(ctx(), func() { c.Close() })
		sc.stop = stop
		return sc
	}
	plain = func(dctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	}
	secure = func(dctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("gateway address %q: %w", addr, err)
		}
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}}
		c, err := td.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	}
	return plain, secure
}

// sniffConn passes reads through unchanged while a frameScanner watches
// them for a websocket close frame.
type sniffConn struct {
	net.Conn
	onClose func(code int, reason string)
	stop    func() bool
	scan    frameScanner
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if code, reason, ok := c.scan.feed(p[:n]); ok {
			c.onClose(code, reason)
		}
	}
	return n, err
}

func (c *sniffConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// frameScanner follows a server-to-client websocket byte stream: the HTTP
// upgrade response, then frames (RFC 6455 §5.2). It reports the status code
// and reason of the first close frame it completes.
type frameScanner struct {
	inBody  bool   // past the HTTP response head
	tail    uint32 // last four bytes of the head, to find CRLFCRLF
	hdr     []byte // the current frame's header bytes so far
	need    uint64 // payload bytes of the current frame still to come
	isClose bool
	payload []byte // a close frame's payload (at most 125 bytes)
	done    bool
}

func (s *frameScanner) feed(p []byte) (code int, reason string, ok bool) {
	for len(p) > 0 && !s.done {
		if !s.inBody {
			b := p[0]
			p = p[1:]
			s.tail = s.tail<<8 | uint32(b)
			if s.tail == 0x0d0a0d0a {
				s.inBody = true
			}
			continue
		}
		if s.need > 0 {
			n := uint64(len(p))
			if n > s.need {
				n = s.need
			}
			if s.isClose && len(s.payload) < 125 {
				room := uint64(125 - len(s.payload))
				s.payload = append(s.payload, p[:min(n, room)]...)
			}
			p = p[n:]
			s.need -= n
			if s.need == 0 && s.isClose {
				return s.closeFrame()
			}
			continue
		}
		s.hdr = append(s.hdr, p[0])
		p = p[1:]
		size, complete := frameHeaderSize(s.hdr)
		if !complete {
			continue
		}
		s.isClose = s.hdr[0]&0x0f == 0x8
		s.need = size
		s.hdr = s.hdr[:0]
		s.payload = s.payload[:0]
		if s.need == 0 && s.isClose {
			return s.closeFrame()
		}
	}
	return 0, "", false
}

func (s *frameScanner) closeFrame() (int, string, bool) {
	s.done = true
	if len(s.payload) < 2 {
		return 1005, "", true // no status code present
	}
	return int(s.payload[0])<<8 | int(s.payload[1]), string(s.payload[2:]), true
}

// frameHeaderSize returns the payload length once hdr holds a whole frame
// header (2–14 bytes).
func frameHeaderSize(hdr []byte) (uint64, bool) {
	if len(hdr) < 2 {
		return 0, false
	}
	masked := hdr[1]&0x80 != 0
	n := uint64(hdr[1] & 0x7f)
	want := 2
	switch n {
	case 126:
		want += 2
	case 127:
		want += 8
	}
	if masked {
		want += 4
	}
	if len(hdr) < want {
		return 0, false
	}
	switch n {
	case 126:
		n = uint64(hdr[2])<<8 | uint64(hdr[3])
	case 127:
		n = 0
		for _, b := range hdr[2:10] {
			n = n<<8 | uint64(b)
		}
	}
	return n, true
}
