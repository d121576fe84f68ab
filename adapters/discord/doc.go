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
// A ThreadKey's Channel is always the channel members see the conversation
// in — for a Discord thread, its parent — because everything Parley scopes
// per channel (rate limits, quotas, usage, llm.channel_models, word
// filters) must apply to #general, not to each thread opened in it:
//
//   - thread mode (default): a mention in a server channel opens a thread
//     from the user's message; Discord gives that thread the message's ID,
//     so the key is {Workspace: guild, Channel: channel, Thread: message ID
//     = thread ID}. Follow-ups in the thread (ChannelID = the thread) are
//     mapped back to the parent through the thread's parent_id (the
//     directory caches it; threads never move) and carry the same key.
//   - reply mode: the answer is a reply (message reference) in the channel;
//     the key is the same {guild, channel, mention message ID}, so each
//     mention is its own conversation. A Discord reply to the first message
//     of an answer (which references the question) continues it.
//   - a mention inside any thread is answered in that thread, keyed
//     {guild, parent, thread}.
//   - DMs: {Workspace: "", Channel: DM channel, Thread: DM channel}, one
//     history per DM channel.
//
// Edits and deletes are keyed the same way: in a thread, {guild, parent,
// thread}; in a server channel, {guild, channel, the message's ID}.
//
// The Outbox derives where to send from the key alone, so that crash
// recovery after a restart finds the same place: a DM, or a key whose
// Thread is empty or equal to its Channel, goes to key.Channel. Otherwise
// key.Thread is either a thread channel — messages go into it — or a
// message in key.Channel — a reply-mode conversation, whose first post
// references it. The two are told apart by what the ID names on Discord:
// the adapter remembers the threads it opens or sees messages in and the
// reply-mode roots it answers, and after a restart asks once
// (GET /channels/{thread} is the thread, or 404 Unknown Channel for a
// message ID). Only if Discord cannot be asked does discord.reply_mode
// decide. So a thread-mode mention whose thread could not be created
// (missing permission) is still answered as a reply, in either mode.
//
// # Edit budgets
//
// Discord gives each thread a rate-limit bucket of its own. The adapter
// implements bot.BudgetKeyer, so the renderer plans a thread's replies in
// the thread's budget (the channel the messages go to), not the parent's,
// while the conversation itself is keyed by the parent. The adapter's own
// guard, which reads X-RateLimit-* headers, is per real channel too.
//
// # Exactly once
//
// Message.EventID is the Discord message ID (snowflakes are unique across
// Discord), so the engine's persisted de-duplication drops a MESSAGE_CREATE
// replayed by a resumed session or seen again after a restart.
//
// # API URL
//
// discordgo keeps its REST endpoints in package-level variables. They are
// left alone: when Options.APIURL is set, the adapter's HTTP transport
// sends the requests addressed to Discord to that base instead, so each
// adapter has its own (tests run several at once against their own fakes).
package discord
