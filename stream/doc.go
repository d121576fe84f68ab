// Package stream shows streamed model replies on chat platforms that only
// offer "post a message" and "edit a message", within the request budgets
// each platform's adapter declares (bot.Limits).
//
// A Renderer (bot.Renderer) posts a placeholder for each reply at once and
// edits it as the text grows. Every budget key (bot.Scope.Key of the
// thread) has a token bucket for edits and one for posts, shared by all
// replies in that key: waiting requests are served final edits first, then
// first texts (the edit that replaces a reply's placeholder), then round
// robin by least recent grant, and intermediate edits are only granted
// while the bucket keeps a token for the final edit of every active reply
// (at most Burst-1). A first text may spend up to Limits.FirstTextBorrow
// of those kept tokens: Discord's per-channel bucket lets it, so a reply
// shows its first words within a second even in a busy channel; Slack's
// workspace-wide budget keeps them for the final edits. So however busy a
// channel or workspace is, an answer's complete text appears right after
// its last token, and the platform never has to refuse an edit. Rate-limit errors pause the
// key (or the platform, when global) until the platform's retry time;
// text that arrives meanwhile is coalesced, never lost.
//
// When the Outbox is a bot.Streamer (Slack's streaming API) and the thread
// can stream, a reply is instead shown as a stream: started at its first
// text, grown by appends that each carry all text since the one before
// (within the edit budget, like edits), and stopped with the final text
// and notice. Streamed text is never taken back, so trailing space waits
// for the text after it and a long answer is cut after what was already
// streamed. A status before the first token, or a failed stream call,
// turns the reply back to posts and edits (an edit rewrites the stopped
// stream's whole text); a refusal matching bot.ErrStreamUnsupported is
// remembered for its budget key for StreamOffFor.
//
// Text longer than a message is continued in new messages, cut by Split
// at paragraph, line or word boundaries, with code fences closed and
// reopened so that each message renders on its own.
package stream
