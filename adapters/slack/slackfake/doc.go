// Package slackfake is a local fake of Slack for tests: an httptest server
// that serves the Web API methods Parley calls (auth.test,
// apps.connections.open, chat.postMessage, chat.update, users.info,
// assistant.threads.setStatus, response_url posts) in Slack's wire format,
// and a Socket Mode websocket that says hello, sends events_api and
// slash_commands envelopes, checks their acks against the 3 s deadline, can
// ask for a refresh (disconnect) or drop the socket.
//
// It enforces Slack's chat.update budget per workspace (a token bucket,
// default 50 a minute), answering HTTP 429 with Retry-After and
// {"ok":false,"error":"ratelimited"}, counts every rejection and every call
// made inside a Retry-After window, and keeps each message's text history.
package slackfake
