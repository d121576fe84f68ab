// Package discord connects Parley to Discord through github.com/bwmarrin/discordgo.
//
// The Adapter implements bot.Adapter and bot.Typer. It connects to the
// gateway with GUILD_MESSAGES, DIRECT_MESSAGES and (unless disabled)
// MESSAGE_CONTENT, translates MESSAGE_CREATE/UPDATE/DELETE into calls on a
// bot.Handler, answers the /parley application command, and offers an Outbox
// that respects Discord's per-channel buckets and its 50 requests/s global
// limit.
//
// # Conversation keys
//
// A Discord thread is a channel of its own. Every conversation is therefore
// keyed by the channel the bot answers in:
//
//   - thread mode (default): a mention in a server channel opens a thread from
//     the user's message; the conversation's ThreadKey is
//     {Workspace: guild, Channel: thread, Thread: thread}. The mention itself
//     is the thread's first message (its ID is the starter message's ID, which
//     Discord also gives the thread). Follow-ups in the thread, with or
//     without a mention, carry the same key.
//   - reply mode: the answer is a reply (message reference) in the channel; the
//     key is {Workspace: guild, Channel: channel, Thread: mention message ID},
//     so each mention is its own conversation. A Discord reply to the first
//     message of an answer (which references the question) continues it.
//   - a mention inside an existing thread is answered in that thread, keyed
//     {guild, thread, thread}.
//   - DMs: {Workspace: "", Channel: DM channel, Thread: DM channel}, one
//     history per DM channel.
//
// Outbox calls derive everything from the key: they post to key.Channel, and
// a key whose Thread differs from its Channel is a reply-mode conversation,
// whose first post references the user's message.
//
// # Exactly once
//
// Message.EventID is the Discord message ID (snowflakes are unique across
// Discord), so the engine's persisted de-duplication drops a MESSAGE_CREATE
// replayed by a resumed session or seen again after a restart.
//
// # Process-wide API URL
//
// discordgo keeps its REST endpoints in package-level variables computed at
// load time. New rewrites them (see SetAPIURL) when Options.APIURL is set, so
// all discordgo sessions in the process share one API base URL. This is a
// discordgo limitation; Parley runs one Discord adapter per process.
package discord
