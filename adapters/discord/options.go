package discord

import (
	"fmt"
	"strings"
)

// Reply modes.
const (
	ReplyModeThread = "thread" // open a thread from the user's message and answer there
	ReplyModeReply  = "reply"  // answer in the channel with a message reference
)

// DefaultMaxMessageChars is Discord's message content limit.
const DefaultMaxMessageChars = 2000

// Options are the [discord] settings the adapter needs, as plain values.
type Options struct {
	Token         string   // bot token, with or without the "Bot " prefix
	ApplicationID string   // for command registration; "" uses the bot user's ID
	APIURL        string   // REST base, e.g. "https://discord.com/api/v10" or a proxy; "" for Discord's
	GuildIDs      []string // register /parley in these guilds (instant) instead of globally
	// DMQuotaGuild is the server whose user and server quotas a DM with
	// the bot counts against, and that commands in a DM act on; "" means
	// the only entry of GuildIDs when there is exactly one, otherwise DMs
	// have quotas of their own (the defaults, as a workspace "").
	DMQuotaGuild  string
	ReplyMode     string   // ReplyModeThread (default) or ReplyModeReply
	Admins        []string // user IDs allowed the admin subcommands besides Manage Server holders
	RespondToBots bool     // answer messages from other bots
	// MaxMessageChars is where replies are split into continuation messages.
	MaxMessageChars int
	// MessageContentIntent requests the privileged MESSAGE_CONTENT intent.
	// Without it Discord still sends the content of mentions and DMs, so
	// Parley works on those only (follow-ups in threads need a mention).
	MessageContentIntent bool
	ShardID              int
	ShardCount           int // 0 or 1: no sharding
}

func (o *Options) normalize() error {
	o.Token = strings.TrimSpace(o.Token)
	if o.Token == "" {
		return fmt.Errorf("discord: token is empty")
	}
	if !strings.HasPrefix(o.Token, "Bot ") {
		o.Token = "Bot " + o.Token
	}
	if o.DMQuotaGuild == "" && len(o.GuildIDs) == 1 {
		o.DMQuotaGuild = o.GuildIDs[0]
	}
	switch o.ReplyMode {
	case "":
		o.ReplyMode = ReplyModeThread
	case ReplyModeThread, ReplyModeReply:
	default:
		return fmt.Errorf("discord: reply_mode %q: want %q or %q", o.ReplyMode, ReplyModeThread, ReplyModeReply)
	}
	if o.MaxMessageChars <= 0 {
		o.MaxMessageChars = DefaultMaxMessageChars
	}
	if o.MaxMessageChars > DefaultMaxMessageChars {
		return fmt.Errorf("discord: max_message_chars %d exceeds Discord's limit of %d", o.MaxMessageChars, DefaultMaxMessageChars)
	}
	if o.ShardCount < 0 || o.ShardID < 0 {
		return fmt.Errorf("discord: shard_id %d and shard_count %d must not be negative", o.ShardID, o.ShardCount)
	}
	if o.ShardCount > 1 && o.ShardID >= o.ShardCount {
		return fmt.Errorf("discord: shard_id %d must be less than shard_count %d", o.ShardID, o.ShardCount)
	}
	if o.ShardCount <= 1 && o.ShardID != 0 {
		return fmt.Errorf("discord: shard_id %d needs shard_count > 1", o.ShardID)
	}
	return nil
}
