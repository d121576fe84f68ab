package slack

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Connection modes.
const (
	ModeSocket = "socket"
	ModeHTTP   = "http"
)

// Streaming modes: "auto" and "stream_api" stream replies with
// chat.startStream / appendStream / stopStream and fall back to
// chat.update edits where Slack refuses (stream_api logs the refusal as a
// warning); "edit" always edits (see README).
const (
	StreamingAuto      = "auto"
	StreamingStreamAPI = "stream_api"
	StreamingEdit      = "edit"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Options configure the adapter. They mirror the [slack] config section;
// the caller applies the config's defaults (reply_in_threads_without_mention
// is true there), zero values here get the defaults noted.
type Options struct {
	Mode          string // "socket" (default) or "http"
	BotToken      string // xoxb-…
	AppToken      string // xapp-…, Socket Mode only
	SigningSecret string // HTTP mode only
	Listen        string // HTTP mode listen address, default ":3000"
	// Listener, when set, is used instead of Listen (tests, socket activation).
	Listener net.Listener
	APIURL   string // default DefaultAPIURL; must end in "/"
	Command  string // slash command name, default "/parley"
	Admins   []string

	ReplyInThreadsWithoutMention bool
	RespondToBots                bool
	Streaming                    string // auto (default), stream_api, edit
	MaxMessageChars              int    // default 3900

	// EditsPerMinute is the chat.update budget per workspace (Tier 3,
	// default 50) and EditBurst how many may go at once (default 20: Slack tolerates short
	// bursts above Tier 3, and 20 replies finishing together each get their
	// final edit at once; the sustained rate stays at EditsPerMinute).
	EditsPerMinute int
	EditBurst      int

	// UserCacheTTL and UserCacheSize bound the users.info cache
	// (defaults 10 minutes, 10,000 users).
	UserCacheTTL  time.Duration
	UserCacheSize int

	// CommandAckWait is how long a slash command may take to answer in
	// the ack itself before the answer goes to response_url instead
	// (default 2 s, inside Slack's 3 s deadline).
	CommandAckWait time.Duration

	// HTTPClient, when set, carries every Web API call.
	HTTPClient *http.Client
}

func (o *Options) applyDefaults() {
	if o.Mode == "" {
		o.Mode = ModeSocket
	}
	if o.Listen == "" {
		o.Listen = ":3000"
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if o.Command == "" {
		o.Command = "/parley"
	}
	if !strings.HasPrefix(o.Command, "/") {
		o.Command = "/" + o.Command
	}
	if o.Streaming == "" {
		o.Streaming = StreamingAuto
	}
	if o.MaxMessageChars <= 0 {
		o.MaxMessageChars = 3900
	}
	if o.EditsPerMinute <= 0 {
		o.EditsPerMinute = 50
	}
	if o.EditBurst <= 0 {
		o.EditBurst = 20
	}
	if o.UserCacheTTL <= 0 {
		o.UserCacheTTL = 10 * time.Minute
	}
	if o.UserCacheSize <= 0 {
		o.UserCacheSize = 10000
	}
	if o.CommandAckWait <= 0 {
		o.CommandAckWait = 2 * time.Second
	}
}

func (o *Options) validate() error {
	var errs []error
	switch o.Mode {
	case ModeSocket:
		if !strings.HasPrefix(o.AppToken, "xapp-") {
			errs = append(errs, errors.New("slack.app_token must be an app-level token (xapp-…) with the connections:write scope for Socket Mode"))
		}
	case ModeHTTP:
		if o.SigningSecret == "" {
			errs = append(errs, errors.New("slack.signing_secret is required in HTTP mode (Basic Information → Signing Secret)"))
		}
	default:
		errs = append(errs, fmt.Errorf("slack.mode %q: want %q or %q", o.Mode, ModeSocket, ModeHTTP))
	}
	if !strings.HasPrefix(o.BotToken, "xoxb-") {
		errs = append(errs, errors.New("slack.bot_token must be a bot token (xoxb-…, OAuth & Permissions → Bot User OAuth Token)"))
	}
	switch o.Streaming {
	case StreamingAuto, StreamingStreamAPI, StreamingEdit:
	default:
		errs = append(errs, fmt.Errorf("slack.streaming %q: want auto, stream_api or edit", o.Streaming))
	}
	if o.MaxMessageChars > 40000 {
		errs = append(errs, fmt.Errorf("slack.max_message_chars %d: Slack truncates text beyond 40000", o.MaxMessageChars))
	}
	return errors.Join(errs...)
}
